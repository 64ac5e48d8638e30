"""Pure spectral, sizing, kinetic and photon maths; live display; reports.

Functions take numpy arrays (one spectrum or a stack N × pixels) and return
numbers with their units in their names.  Nothing here talks to hardware.
"""
