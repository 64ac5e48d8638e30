"""Simulated IKA hotplate / heating controller speaking NAMUR (``sim://<name>``).

Same bytes as the instrument: requests and replies end with CR LF; queries
answer ``"<value> <channel>"``; commands are not answered (unknown commands and
out-of-range values are silently ignored, as on the real unit, so the driver's
read-back confirmation is what catches them); the watchdog commands echo the
period.

=============  ==========================================================
IN_NAME        model name (``"RCT digital"`` by default)
IN_PV_1        probe (medium) temperature from ``world.temperature_c()``
IN_PV_2        plate temperature (medium + a heater-power dependent excess)
IN_PV_3        safety-circuit temperature (plate + 5 °C)
IN_PV_4        stirrer speed (setpoint while stirring, else 0)
IN_SP_1/3/4    temperature setpoint / safety limit / speed setpoint
OUT_SP_1 t     0 … ``max_setpoint_c``;  OUT_SP_4 n  0 … ``max_rpm``
START_1/STOP_1, START_4/STOP_4, RESET (heating and stirring off, watchdog
               cleared, ER 2 acknowledged)
OUT_WD1@m      watchdog mode 1, m = 20–1500 s; echoes ``m``
OUT_WD2@0      watchdog off; echoes ``0``
=============  ==========================================================

Regulation: the heater is an on/off relay whose duty cycle, averaged over
each world sub-step, comes from a PID on the probe temperature (full power
below setpoint − band).  The law is registered with
``world.attach_heater_controller`` and evaluated on every world sub-step, so it
keeps regulating across clock jumps.  Why not a plain on/off relay with
hysteresis: evaluated once per 1 s sub-step it swings by more than ±1 °C on a
fast flask, and with the mantle's thermal lag (the physical model's mantle runs
60–90 °C above the liquid) a hysteresis cut-out sustains a limit cycle of
several °C — neither matches an IKA holding a flask to a few tenths.  The
default terms (band 15 °C, Ti 240 s, Td 40 s) settle 10 mL of ODE in a 25 mL
flask in about 10 min, overshooting by < 1 °C at 240 °C and by 3–8 °C at
80–120 °C (IKA plates do overshoot low setpoints), and also regulate the
first-order minimal world.

Watchdog: the period is measured on the world's sub-step time inside the law,
so a virtual-clock jump longer than the period trips it exactly as a silent
host would.  A trip switches heating and stirring off and latches ER 2:
``START_1``/``START_4`` are ignored until ``RESET``.

Faults (besides ``no_reply``, ``garbled``, ``disconnect``):

``open_thermocouple``  IN_PV_1 reads :data:`SENSOR_BREAK_VALUE`; heating stops
``power_loss``         no replies and no heating while active; the unit comes
                       back in its power-on state — heating and stirring off,
                       setpoints 0, watchdog off (assumed; check on the bench)
``stuck_reading``      IN_PV_1 frozen at its value when injected; the controller
                       regulates on the frozen value and so keeps heating
``overheat``           heater relay welded on: full power whatever the commands,
                       until the safety circuit (plate above IN_SP_3) cuts it
"""

from __future__ import annotations

import math
import re

from .base import COMMON_FAULTS, SerialEmulator, emulates, register_serial
from .eurotherm import PidLaw, _sim_name

#: what IN_PV_1 prints with the probe open/unplugged in this emulator; the real
#: firmware's value is not in our sources (the Device rejects any out-of-range reading)
SENSOR_BREAK_VALUE = -999.9

#: plate temperature above the medium at full heater power, °C
PLATE_EXCESS_C = 60.0

_OUT = re.compile(r"^(OUT_SP_[14])\s+([-+]?\d+(?:\.\d*)?)$")
_WD = re.compile(r"^OUT_WD([12])@(\d+(?:\.\d*)?)$")


class IkaEmulator(SerialEmulator):
    """IKA NAMUR firmware regulating ``world``'s heater.

    Parameters
    ----------
    name : str
        Emulator (port) name.
    world : Reactor
        The simulated reactor.
    clock : Clock
        The bench clock.
    model : str
        Reply to ``IN_NAME``.
    max_setpoint_c : float
        Highest accepted ``OUT_SP_1``.
    safety_limit_c : float
        Safety-circuit cut-out (``IN_SP_3``), plate temperature.
    max_rpm : float
        Highest accepted ``OUT_SP_4``.
    band_c, ti_s, td_s : float
        Regulation: proportional band (°C), integral and derivative times (s).
    """

    faults = COMMON_FAULTS | {"open_thermocouple", "power_loss", "stuck_reading", "overheat"}
    request_end = b"\n"
    reply_end = b"\r\n"

    def __init__(self, name: str, world, clock, *, model: str = "RCT digital",
                 max_setpoint_c: float = 340.0, safety_limit_c: float = 360.0,
                 max_rpm: float = 1500.0, band_c: float = 15.0, ti_s: float = 240.0,
                 td_s: float = 40.0):
        super().__init__(name)
        self.world = world
        self.clock = clock
        self.model = model
        self.max_setpoint_c = max_setpoint_c
        self.safety_limit_c = safety_limit_c
        self.max_rpm = max_rpm
        self.pid = PidLaw(band_c, ti_s, td_s)
        self._power_on_state()
        self.power = 0.0                # fraction applied in the last sub-step
        self.frozen_pv_c: float | None = None
        self._safety_cut = False        # safety circuit latched
        self._stir_to_world: float | None = None
        world.attach_heater_controller(self.law)
        self.law_t = world.t if hasattr(world, "t") else clock.time()

    def _power_on_state(self) -> None:
        self.sp1_c = 0.0
        self.sp4_rpm = 0.0
        self.heating = False
        self.stirring = False
        self.wd_period_s = 0.0
        self.wd_last_t = 0.0
        self.wd_tripped = False

    # -- regulation (runs under the world's lock: never take self.lock here) --
    def law(self, temperature_c: float, dt_s: float) -> float:
        self.law_t = getattr(self, "law_t", 0.0) + dt_s
        if self.wd_period_s > 0 and not self.wd_tripped and \
                self.law_t - self.wd_last_t > self.wd_period_s:
            self._trip_watchdog()
        self.power = self._power(temperature_c, dt_s)
        return self.power

    # held regulation (see ReactorModel._regulate): the world holds the setpoint as
    # this controller would, for at most holdable_s(), and reports it with hold()
    def holding_c(self) -> float | None:
        """The setpoint while simply regulating to it (heating, no fault), else ``None``."""
        if (not self.heating or self.active_faults or self._safety_cut
                or self.frozen_pv_c is not None):
            return None
        return self.sp1_c

    def holdable_s(self) -> float:
        """Virtual seconds until this controller's next event of its own (watchdog)."""
        if self.wd_period_s > 0 and not self.wd_tripped:
            return max(0.0, self.wd_period_s - (self.law_t - self.wd_last_t))
        return math.inf

    def hold(self, dt_s: float, power: float) -> None:
        self.law_t = getattr(self, "law_t", 0.0) + dt_s
        self.power = power

    def _power(self, temperature_c: float, dt_s: float) -> float:
        if self.has("power_loss"):
            return 0.0
        plate_c = temperature_c + self.power * PLATE_EXCESS_C
        if plate_c > self.safety_limit_c:
            self._safety_cut = True
        if self.has("overheat"):
            return 0.0 if self._safety_cut else 1.0
        if not self.heating or self.has("open_thermocouple") or self._safety_cut:
            self.pid.reset()
            return 0.0
        pv = self.frozen_pv_c if self.frozen_pv_c is not None else temperature_c
        return self.pid(pv, self.sp1_c, dt_s)

    def _trip_watchdog(self) -> None:
        self.wd_tripped = True
        self.heating = False
        self.stirring = False
        # the world's set_stirring would re-enter its update loop from inside the
        # law; apply it on the next request instead
        self._stir_to_world = 0.0

    def on_fault(self, fault: str) -> None:
        if fault == "power_loss":
            self.world.update()
            self._power_on_state()
            self._safety_cut = False
            self.world.set_stirring(0.0)
        elif fault == "stuck_reading":
            self.frozen_pv_c = self.world.temperature_c()

    def clear(self, fault: str | None = None) -> None:
        super().clear(fault)
        if not self.has("stuck_reading"):
            self.frozen_pv_c = None

    # -- readings -------------------------------------------------------------
    def _probe_c(self) -> float:
        if self.has("open_thermocouple"):
            return SENSOR_BREAK_VALUE
        if self.frozen_pv_c is not None:
            return self.frozen_pv_c
        return self.world.temperature_c()

    def _plate_c(self) -> float:
        return self.world.temperature_c() + self.power * PLATE_EXCESS_C

    # -- protocol --------------------------------------------------------------
    def handle(self, frame: bytes) -> bytes | None:
        if self.has("power_loss"):
            return None
        try:
            text = frame.decode("ascii").strip()
        except UnicodeDecodeError:
            return None
        self.world.update()      # state changes apply at the current time
        if self._stir_to_world is not None:
            self.world.set_stirring(self._stir_to_world)
            self._stir_to_world = None
        reply = self._dispatch(text)
        return None if reply is None else reply.encode("ascii") + self.reply_end

    def _dispatch(self, text: str) -> str | None:
        queries = {
            "IN_NAME": lambda: self.model,
            "IN_PV_1": lambda: f"{self._probe_c():.1f} 1",
            "IN_PV_2": lambda: f"{self._plate_c():.1f} 2",
            "IN_PV_3": lambda: f"{self._plate_c() + 5.0:.1f} 3",
            "IN_PV_4": lambda: f"{self.sp4_rpm if self.stirring else 0.0:.0f} 4",
            "IN_SP_1": lambda: f"{self.sp1_c:.1f} 1",
            "IN_SP_3": lambda: f"{self.safety_limit_c:.1f} 3",
            "IN_SP_4": lambda: f"{self.sp4_rpm:.0f} 4",
        }
        if text in queries:
            return queries[text]()
        if text == "START_1":
            if not self.wd_tripped:
                self.heating = True
        elif text == "STOP_1":
            self.heating = False
        elif text == "START_4":
            if not self.wd_tripped:
                self.stirring = True
                self.world.set_stirring(self.sp4_rpm)
        elif text == "STOP_4":
            self.stirring = False
            self.world.set_stirring(0.0)
        elif text == "RESET":
            self.heating = self.stirring = False
            self.wd_period_s, self.wd_tripped = 0.0, False
            self.world.set_stirring(0.0)
        elif m := _OUT.match(text):
            value = float(m.group(2))
            if m.group(1) == "OUT_SP_1" and 0.0 <= value <= self.max_setpoint_c:
                self.sp1_c = value
            elif m.group(1) == "OUT_SP_4" and 0.0 <= value <= self.max_rpm:
                self.sp4_rpm = value
                if self.stirring:
                    self.world.set_stirring(value)
        elif m := _WD.match(text):
            return self._watchdog(int(m.group(1)), m.group(2))
        return None

    def _watchdog(self, mode: int, arg: str) -> str | None:
        seconds = float(arg)
        if seconds == 0 and mode == 2:
            self.wd_period_s = 0.0
            self.wd_tripped = False
            return arg
        if mode == 1 and 20 <= seconds <= 1500:
            self.wd_period_s = seconds
            self.wd_last_t = self.law_t
            return arg
        return None              # mode 2 fall-back values are not emulated

    def state(self) -> dict:
        """Snapshot for tests and reports."""
        return {"heating": self.heating, "stirring": self.stirring, "sp1_c": self.sp1_c,
                "sp4_rpm": self.sp4_rpm, "power": self.power,
                "watchdog_s": self.wd_period_s, "watchdog_tripped": self.wd_tripped,
                "faults": sorted(self.active_faults)}


@emulates("IkaMantle")
def attach(bench, name: str, config: dict) -> IkaEmulator:
    """Create the controller on ``config['port']`` and connect it to the bench's heater."""
    emu = IkaEmulator(_sim_name(name, config), bench.world, bench.clock)
    register_serial(emu.name, emu)
    return emu
