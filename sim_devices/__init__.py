"""Simulated hardware: virtual clock, reactor physics and instrument emulators.

Importing this package registers the ``sim://`` pyserial URL scheme and the
``"@emulator"`` VISA backend, so the real drivers reach the emulators through
the same calls they use on a bench.
"""

import serial

from photoreactor.devices.common.transport import register_visa_backend

from .emulators.base import open_visa_emulator

if __name__ + ".serial_handlers" not in serial.protocol_handler_packages:
    serial.protocol_handler_packages.append(__name__ + ".serial_handlers")

register_visa_backend("@emulator", open_visa_emulator)
