"""pyserial handler for ``sim://<name>`` URLs: a serial port whose far end is an emulator.

Registered by appending ``photoreactor.sim_devices.serial_handlers`` to
``serial.protocol_handler_packages`` (done on import of
:mod:`photoreactor.sim_devices`).  Timeouts are honoured in wall seconds, just as
on a real port.
"""

from __future__ import annotations

from urllib.parse import urlparse

from serial.serialutil import PortNotOpenError, SerialBase, SerialException

from ..emulators.base import serial_emulator


class Serial(SerialBase):
    """A serial port connected to a registered :class:`SerialEmulator`."""

    def open(self):
        if self._port is None:
            raise SerialException("port must be configured before it can be used")
        if self.is_open:
            raise SerialException("port already open")
        parts = urlparse(self._port)
        if parts.scheme != "sim":
            raise SerialException(f"expected a sim://<name> URL, got {self._port!r}")
        name = (parts.netloc + parts.path).strip("/")
        try:
            self._emulator = serial_emulator(name)
        except OSError as exc:
            raise SerialException(str(exc)) from None
        self.is_open = True

    def from_url(self, url):
        return url

    def _reconfigure_port(self, *args, **kwargs):
        pass

    def close(self):
        self.is_open = False

    @property
    def in_waiting(self):
        self._need_open()
        return self._emulator.in_waiting()

    def read(self, size=1):
        self._need_open()
        try:
            return self._emulator.read(size, self._timeout)
        except OSError as exc:
            raise SerialException(str(exc)) from exc

    def write(self, data):
        self._need_open()
        try:
            self._emulator.write(bytes(data))
        except OSError as exc:
            raise SerialException(str(exc)) from exc
        return len(data)

    def flush(self):
        self._need_open()

    def reset_input_buffer(self):
        self._need_open()
        self._emulator.reset_input()

    def reset_output_buffer(self):
        self._need_open()

    def _need_open(self):
        if not self.is_open:
            raise PortNotOpenError()
