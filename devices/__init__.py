"""Instrument drivers (wire protocol) and their Ophyd devices.

One sub-package per instrument class.  Drivers speak bytes and import no Ophyd;
devices take a driver instance and a clock, so real and simulated sessions run
the same device code.  Every device is built from a profile entry by a builder
registered in :mod:`photoreactor.devices.registry`.
"""
