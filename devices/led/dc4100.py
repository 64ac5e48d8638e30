"""Driver for the Thorlabs DC4100 / DC4104 four-channel LED driver (virtual COM port).

115200 baud 8N1; every request ends ``\\r\\n``; queries answer one line.  Set
commands produce no reply: success is checked by asking ``E?`` (last error,
``ERROR <num>:<text>``, 0 = none) right after, in the same locked exchange, so a
refused command raises :class:`InstrumentRejected` naming it.

One :class:`DC4100Driver` per instrument (one port, one lock shared by every
channel); one :class:`DC4100Channel` per LED head (what the Ophyd device
drives).  Several channel devices on one box share the port returned by
:func:`~photoreactor.devices.common.transport.open_serial`, hence its lock.

Commands used
-------------
``M n``/``M?`` mode (0 constant current, 1 brightness, 2 external);
``CC ch mA``/``CC? ch``; ``L ch mA``/``L? ch`` limit; ``ML? ch`` maximum limit;
``BP ch %`` brightness; ``O ch 0|1``/``O? ch``; ``E?``; ``R?`` status register;
``N?`` name; ``S?`` serial; ``V?`` firmware; ``WL? ch`` head wavelength;
``HS? ch`` head serial.

Design decisions
----------------
* Currents are integer mA (0–1000) on the wire; :meth:`DC4100Channel.set_current`
  rounds to the nearest mA and returns the current actually programmed, so the
  device books the light that is really delivered.
* Status register bits (``R?``), as documented by Thorlabs' own Micro-Manager
  adapter: 0x2 supply out of range, 0x8 chassis over-temperature (all LEDs
  off), 0x20<<2ch no LED head on channel ch, 0x2000<<2ch LED open (forward
  voltage limit), 0x200000<<2ch current limit reached.  Any of these on the
  device's channel (or the global ones) counts as *tripped*.
* The instrument has no current measurement: ``measured_current`` reports the
  programmed current while the output is on and 0 while it is off (the
  device's docstring says so).
* ``M`` (mode) is global to the box; :meth:`DC4100Channel.set_constant_current_mode`
  only sends ``M 0`` when ``M?`` says otherwise, so one channel does not disturb
  another that is already in constant-current mode.
* The instrument's selection mode (single/multi) is assumed to be *multi* (the
  factory default); in single-selection mode switching one channel on
  switches the others off.
"""

from __future__ import annotations

import re

from photoreactor.devices.common.errors import (
    InstrumentError,
    InstrumentRejected,
    InstrumentTimeout,
    LimitError,
    ProtocolError,
)

BAUDRATE = 115200
CHANNELS = (0, 1, 2, 3)
MAX_CURRENT_MA = 1000

STATUS_VCC_FAIL = 0x2
STATUS_OVER_TEMPERATURE = 0x8

_ERR_RE = re.compile(r"(-?\d+)\s*:\s*(.*)$")
_NUM_RE = re.compile(r"[-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?")


def channel_status_bits(channel: int) -> dict[str, int]:
    """Status-register masks for one channel (plus the global ones)."""
    shift = 2 * channel
    return {"supply_fail": STATUS_VCC_FAIL, "over_temperature": STATUS_OVER_TEMPERATURE,
            "no_head": 0x20 << shift, "led_open": 0x2000 << shift,
            "current_limit": 0x200000 << shift}


def _first_number(text: str) -> float:
    m = _NUM_RE.search(text)
    if not m:
        raise ValueError(text)
    return float(m.group(0))


class DC4100Driver:
    """The whole DC4100 box on one serial port.

    Parameters
    ----------
    port : SerialPort
        From ``open_serial(url, baudrate=115200, ...)`` (or a protocol-test fake).
    name : str
        Name for error messages.
    timeout_s : float
        Read timeout for each reply.
    retries : int
        Extra attempts for queries (never for set commands).
    """

    model = "DC4100"

    def __init__(self, port, *, name: str = "dc4100", timeout_s: float = 1.0, retries: int = 2):
        self.port = port
        self.name = name
        self.timeout_s = float(timeout_s)
        self.retries = int(retries)

    # -- framing -----------------------------------------------------------------
    def _read_line(self, request: bytes, timeout_s: float) -> str:
        raw = self.port.read_until(b"\n", timeout=timeout_s, device=self.name, request=request)
        try:
            return raw.decode("ascii").strip()
        except UnicodeDecodeError as exc:
            raise ProtocolError(self.name, f"reply to {request!r} is not text",
                                [(request, raw)]) from exc

    def _last_error(self, after: bytes, timeout_s: float) -> tuple[int, str, bytes]:
        self.port.write(b"E?\r\n", device=self.name)
        raw = self.port.read_until(b"\n", timeout=timeout_s, device=self.name, request=b"E?\r\n")
        m = _ERR_RE.search(raw.decode("ascii", "replace").strip())
        if not m:
            raise ProtocolError(self.name, f"unreadable E? reply after {after!r}",
                                [(after, b""), (b"E?\r\n", raw)])
        return int(m.group(1)), m.group(2).strip(), raw

    def command(self, text: str, *, timeout_s: float | None = None) -> None:
        """Send a set command, then ``E?``; raise :class:`InstrumentRejected` on an error.

        Never retried: a command that may have been executed is not repeated.
        """
        request = f"{text}\r\n".encode("ascii")
        t = self.timeout_s if timeout_s is None else timeout_s
        with self.port.lock:
            self.port.write(request, device=self.name)
            code, message, raw = self._last_error(request, t)
        if code != 0:
            raise InstrumentRejected(self.name, f"refused {text!r}: error {code} {message}",
                                     [(request, b""), (b"E?\r\n", raw)])

    def query(self, text: str, parse=str, what: str = "text") -> object:
        """Send a query and parse its one-line reply; retried on timeout or garbage."""
        request = f"{text}\r\n".encode("ascii")
        last: InstrumentError | None = None
        for _ in range(1 + self.retries):
            with self.port.lock:
                try:
                    self.port.write(request, device=self.name)
                    reply = self._read_line(request, self.timeout_s)
                except (InstrumentTimeout, ProtocolError) as exc:
                    last = exc
                    continue
            try:
                return parse(reply)
            except (ValueError, TypeError):
                last = ProtocolError(self.name, f"reply to {text!r} is not {what}",
                                     [(request, reply.encode("ascii", "replace"))])
        assert last is not None
        raise last

    def _int(self, text: str) -> int:
        return self.query(text, lambda r: int(round(_first_number(r))), "an integer")

    # -- instrument-wide -----------------------------------------------------------
    def identity(self) -> dict[str, str]:
        """Model name, serial number and firmware version (``N?``, ``S?``, ``V?``)."""
        return {"model": self.query("N?"), "serial": self.query("S?"),
                "firmware": self.query("V?")}

    def mode(self) -> int:
        return self._int("M?")

    def set_mode(self, mode: int) -> None:
        if mode not in (0, 1, 2):
            raise LimitError(self.name, "mode", mode, "0 (constant current), 1 (brightness), "
                             "2 (external)", "")
        self.command(f"M {mode}")

    def status_register(self) -> int:
        return self._int("R?")

    def last_error(self) -> tuple[int, str]:
        """``E?`` on its own: (code, text)."""
        with self.port.lock:
            code, text, _ = self._last_error(b"", self.timeout_s)
        return code, text

    def channel(self, ch: int) -> DC4100Channel:
        return DC4100Channel(self, ch)

    # -- per channel --------------------------------------------------------------
    @staticmethod
    def _check_channel(ch: int, allow_all: bool = False) -> None:
        if ch in CHANNELS or (allow_all and ch == -1):
            return
        raise ValueError(f"DC4100 channel must be 0–3{' or -1 (all)' if allow_all else ''}, "
                         f"not {ch!r}")

    def set_current_ma(self, ch: int, milliamps: int) -> None:
        self._check_channel(ch, allow_all=True)
        if not (isinstance(milliamps, int) and 0 <= milliamps <= MAX_CURRENT_MA):
            raise LimitError(self.name, "current", milliamps, (0, MAX_CURRENT_MA), "mA")
        self.command(f"CC {ch} {milliamps}")

    def current_ma(self, ch: int) -> int:
        self._check_channel(ch)
        return self._int(f"CC? {ch}")

    def set_limit_ma(self, ch: int, milliamps: int) -> None:
        self._check_channel(ch, allow_all=True)
        if not (isinstance(milliamps, int) and 0 <= milliamps <= MAX_CURRENT_MA):
            raise LimitError(self.name, "current limit", milliamps, (0, MAX_CURRENT_MA), "mA")
        self.command(f"L {ch} {milliamps}")

    def limit_ma(self, ch: int) -> int:
        self._check_channel(ch)
        return self._int(f"L? {ch}")

    def max_limit_ma(self, ch: int) -> int:
        self._check_channel(ch)
        return self._int(f"ML? {ch}")

    def set_brightness(self, ch: int, percent: float) -> None:
        self._check_channel(ch, allow_all=True)
        if not 0 <= percent <= 100:
            raise LimitError(self.name, "brightness", percent, (0, 100), "%")
        self.command(f"BP {ch} {float(percent):g}")

    def set_output(self, ch: int, on: bool) -> None:
        self._check_channel(ch, allow_all=True)
        self.command(f"O {ch} {1 if on else 0}")

    def output_on(self, ch: int) -> bool:
        self._check_channel(ch)

        def parse(reply: str) -> bool:
            value = int(_first_number(reply))
            if value not in (0, 1):
                raise ValueError(reply)
            return bool(value)

        return self.query(f"O? {ch}", parse, "0 or 1")

    def wavelength_nm(self, ch: int) -> float:
        self._check_channel(ch)
        return self.query(f"WL? {ch}", _first_number, "a wavelength")

    def head_serial(self, ch: int) -> str:
        self._check_channel(ch)
        return self.query(f"HS? {ch}")


class DC4100Channel:
    """One LED head of a DC4100: the LED-driver interface the Ophyd device uses.

    Parameters
    ----------
    box : DC4100Driver
        The instrument (shared by every channel on the port).
    channel : int
        0–3.
    """

    def __init__(self, box: DC4100Driver, channel: int):
        DC4100Driver._check_channel(channel)
        self.box = box
        self.channel = int(channel)
        self.name = box.name

    @property
    def model(self) -> str:
        return f"DC4100 channel {self.channel}"

    def set_constant_current_mode(self) -> None:
        if self.box.mode() != 0:
            self.box.set_mode(0)

    def set_current(self, current_a: float) -> float:
        """Program the channel current, rounded to 1 mA; returns the current set (A)."""
        if not current_a >= 0:
            raise LimitError(self.name, "current", current_a, "≥ 0", "A")
        ma = int(round(current_a * 1000.0))
        self.box.set_current_ma(self.channel, ma)
        return ma / 1000.0

    def current_setpoint(self) -> float:
        return self.box.current_ma(self.channel) / 1000.0

    def set_output(self, on: bool) -> None:
        self.box.set_output(self.channel, on)

    def output_on(self) -> bool:
        return self.box.output_on(self.channel)

    def measured_current(self) -> float:
        """Programmed current while on, 0 while off (the DC4100 measures no current)."""
        if not self.output_on():
            return 0.0
        return self.current_setpoint()

    def current_limit(self) -> float:
        return self.box.limit_ma(self.channel) / 1000.0

    def trip_flags(self) -> dict[str, bool]:
        status = self.box.status_register()
        return {k: bool(status & mask) for k, mask in channel_status_bits(self.channel).items()}

    def wavelength_nm(self) -> float:
        return self.box.wavelength_nm(self.channel)

    def switch_off(self, timeout_s: float = 1.0, lock_timeout_s: float = 2.0) -> None:
        """Output off for this channel, bounded in time (used by ``safe()``)."""
        if not self.box.port.lock.acquire(timeout=lock_timeout_s):
            raise InstrumentTimeout(self.name, f"port busy for {lock_timeout_s:g} s; could not "
                                    f"send O {self.channel} 0")
        try:
            self.box.command(f"O {self.channel} 0", timeout_s=min(timeout_s, self.box.timeout_s))
        finally:
            self.box.port.lock.release()
