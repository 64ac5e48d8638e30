"""Instrument emulators: simulated firmware speaking each instrument's real bytes.

One module per instrument model, each registering an attach function with
:func:`photoreactor.sim_devices.emulators.base.emulates`; :mod:`.base` holds the
serial/VISA/seabreeze-shaped plumbing and the fault switchboard.
"""
