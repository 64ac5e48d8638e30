"""Emulated Thorlabs DC4100/DC4104 four-channel LED driver behind ``sim://<name>``.

Line protocol as on the bench: requests end ``\\r\\n`` (case-insensitive), queries
answer one line ending ``\\r\\n``, set commands answer nothing and leave their
outcome in the error register read by ``E?`` (``ERROR <code>:<text>``, reading it
clears it).  One emulator serves the whole box; each profile device (one
channel) attaches its LED head to it, and each channel lights the world as its
own source (the device name).

Error codes are the emulator's own (the manual's list was not available):
0 no error, 1 unknown command, 2 parameter out of range, 3 wrong parameter
count, 4 output locked by a protection (over-temperature).

Head response at the vial (per channel, configurable)::

    E(I) = efficiency · I / (1 + droop · I)   with 120 mW/cm² per A, droop 0.1 /A

Status register ``R?``: 0x8 chassis over-temperature, 0x20<<2ch no LED head,
0x200000<<2ch current at limit.

Faults: the common ones plus ``"over_temperature"`` (all outputs forced off, OTP
bit set, switching on refused with error 4 while active) and ``"power_loss"``
(the USB port disappears while active; power-on state afterwards).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlparse

from .base import COMMON_FAULTS, SerialEmulator, emulates, register_serial, serial_emulator

ERRORS = {0: "No error", 1: "Unknown command", 2: "Parameter out of range",
          3: "Wrong number of parameters", 4: "Output locked by protection"}


class _Refused(Exception):
    def __init__(self, code: int):
        super().__init__(ERRORS[code])
        self.code = code


@dataclass
class Head:
    """One LED head on a channel."""

    source: str
    wavelength_nm: float
    serial: str = "M00000000"
    efficiency_mw_cm2_per_a: float = 120.0
    droop_per_a: float = 0.1
    max_limit_ma: int = 1000

    def irradiance(self, current_a: float) -> float:
        current_a = max(0.0, current_a)
        return self.efficiency_mw_cm2_per_a * current_a / (1.0 + self.droop_per_a * current_a)


@dataclass
class Channel:
    head: Head | None = None
    current_ma: int = 0
    limit_ma: int = 1000
    brightness_percent: float = 0.0
    output: bool = False


class DC4100Emulator(SerialEmulator):
    """Firmware of one DC4100 box (four channels) lighting ``world``."""

    request_end = b"\n"
    reply_end = b"\r\n"
    faults = COMMON_FAULTS | {"over_temperature", "power_loss"}

    def __init__(self, name: str, *, world, serial: str = "M00412345"):
        super().__init__(name)
        self.world = world
        self.serial = serial
        self.channels = [Channel() for _ in range(4)]
        self._power_on_state()

    # -- wiring ---------------------------------------------------------------------------
    def attach_head(self, channel: int, head: Head) -> None:
        with self.lock:
            self.channels[channel].head = head
            self._apply_light(channel)

    def _power_on_state(self) -> None:
        self.mode = 0
        self.error = 0
        for ch in range(4):
            c = self.channels[ch]
            c.current_ma, c.limit_ma, c.brightness_percent, c.output = 0, 1000, 0.0, False
            self._apply_light(ch)

    def delivered_irradiance(self, channel: int) -> float:
        c = self.channels[channel]
        if c.head is None or not c.output:
            return 0.0
        if self.mode == 1:      # brightness mode: percent of the limit current
            current_ma = c.limit_ma * c.brightness_percent / 100.0
        elif self.mode == 0:
            current_ma = c.current_ma
        else:                   # external modulation: nothing connected in the simulation
            current_ma = 0.0
        return c.head.irradiance(current_ma / 1000.0)

    def _apply_light(self, channel: int) -> None:
        head = self.channels[channel].head
        if head is not None and self.world is not None:
            self.world.set_light(head.source, head.wavelength_nm, self.delivered_irradiance(channel))

    def status_register(self) -> int:
        status = 0x8 if self.has("over_temperature") else 0
        for ch, c in enumerate(self.channels):
            if c.head is None:
                status |= 0x20 << (2 * ch)
            elif c.output and self.mode == 0 and c.current_ma >= c.limit_ma > 0:
                status |= 0x200000 << (2 * ch)
        return status

    def on_fault(self, fault: str) -> None:
        if fault == "over_temperature":
            for ch, c in enumerate(self.channels):
                c.output = False
                self._apply_light(ch)
        elif fault == "power_loss":
            self._power_on_state()

    # -- the wire -------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        if self.has("power_loss"):
            raise OSError(f"{self.name}: device not present (power lost)")
        super().write(data)

    def read(self, size: int, timeout: float | None) -> bytes:
        if self.has("power_loss"):
            raise OSError(f"{self.name}: device not present (power lost)")
        return super().read(size, timeout)

    def handle(self, frame: bytes) -> bytes | None:
        text = frame.decode("ascii", "replace").strip()
        if not text:
            return None
        tokens = text.split()
        cmd, args = tokens[0].upper(), tokens[1:]
        try:
            reply = self._dispatch(cmd, args)
        except _Refused as exc:
            self.error = exc.code
            return None
        return None if reply is None else reply.encode("ascii") + self.reply_end

    def _channels(self, args: list[str], n: int, allow_all: bool) -> list[int]:
        if len(args) != n:
            raise _Refused(3)
        try:
            ch = int(args[0])
        except ValueError:
            raise _Refused(2) from None
        if allow_all and ch == -1:
            return [0, 1, 2, 3]
        if ch not in (0, 1, 2, 3):
            raise _Refused(2)
        return [ch]

    @staticmethod
    def _int_arg(text: str, low: int, high: int) -> int:
        try:
            value = int(text)
        except ValueError:
            raise _Refused(2) from None
        if not low <= value <= high:
            raise _Refused(2)
        return value

    def _dispatch(self, cmd: str, args: list[str]) -> str | None:
        if cmd == "E?":
            code, self.error = self.error, 0
            return f"ERROR {code}:{ERRORS[code]}"
        if cmd == "N?":
            return "DC4104"
        if cmd == "S?":
            return self.serial
        if cmd == "V?":
            return "2.1.0"
        if cmd == "R?":
            return str(self.status_register())
        if cmd == "M?":
            return str(self.mode)
        if cmd == "M":
            if len(args) != 1:
                raise _Refused(3)
            self.mode = self._int_arg(args[0], 0, 2)
            for ch in range(4):
                self._apply_light(ch)
            return None
        if cmd in ("CC", "L", "BP", "O"):
            chans = self._channels(args, 2, allow_all=True)
            for ch in chans:
                self._set(cmd, ch, args[1])
                self._apply_light(ch)
            return None
        if cmd in ("CC?", "L?", "ML?", "O?", "WL?", "HS?", "BP?"):
            (ch,) = self._channels(args, 1, allow_all=False)
            c = self.channels[ch]
            if cmd == "CC?":
                return str(c.current_ma)
            if cmd == "L?":
                return str(c.limit_ma)
            if cmd == "BP?":
                return f"{c.brightness_percent:.1f}"
            if cmd == "O?":
                return "1" if c.output else "0"
            if c.head is None:
                raise _Refused(2)
            if cmd == "ML?":
                return str(c.head.max_limit_ma)
            if cmd == "WL?":
                return f"{c.head.wavelength_nm:g}"
            return c.head.serial
        raise _Refused(1)

    def _set(self, cmd: str, ch: int, value: str) -> None:
        c = self.channels[ch]
        max_ma = c.head.max_limit_ma if c.head is not None else 1000
        if cmd == "CC":
            c.current_ma = self._int_arg(value, 0, c.limit_ma)
        elif cmd == "L":
            c.limit_ma = self._int_arg(value, 0, max_ma)
            c.current_ma = min(c.current_ma, c.limit_ma)
        elif cmd == "BP":
            try:
                pct = float(value)
            except ValueError:
                raise _Refused(2) from None
            if not 0 <= pct <= 100:
                raise _Refused(2)
            c.brightness_percent = pct
        else:  # "O"
            on = self._int_arg(value, 0, 1) == 1
            if on and self.has("over_temperature"):
                raise _Refused(4)
            if on and c.head is None:
                raise _Refused(2)
            c.output = on


def _port_name(url: str) -> str:
    parts = urlparse(url)
    if parts.scheme != "sim":
        raise ValueError(f"simulated DC4100 needs a sim://<name> port, not {url!r}")
    return (parts.netloc + parts.path).strip("/")


@emulates("DC4100Led")
def attach(bench, name: str, config: dict) -> DC4100Emulator:
    """Attach this channel's LED head to the box at ``config['port']`` (created on first use).

    Options under ``emulator:``: ``efficiency_mw_cm2_per_a`` (120), ``droop_per_a`` (0.1),
    ``head_serial``.
    """
    opts = config.get("emulator") or {}
    port = _port_name(config["port"])
    try:
        emu = serial_emulator(port)
    except OSError:
        emu = DC4100Emulator(port, world=bench.world)
        register_serial(port, emu)
    if not isinstance(emu, DC4100Emulator):
        raise ValueError(f"device {name!r}: sim://{port} is already another instrument "
                         f"({type(emu).__name__}); give the DC4100 its own port")
    channel = int(config["channel"])
    emu.attach_head(channel, Head(
        source=name, wavelength_nm=float(config["wavelength_nm"]),
        serial=str(opts.get("head_serial", f"M0041{channel:04d}")),
        efficiency_mw_cm2_per_a=float(opts.get("efficiency_mw_cm2_per_a", 120.0)),
        droop_per_a=float(opts.get("droop_per_a", 0.1))))
    return emu
