"""Driver for the Thorlabs DC2200 high-power LED driver (SCPI over USB-TMC).

Speaks the command set in PROTOCOLS.md; no Ophyd.  All exchanges go through a
:class:`~photoreactor.devices.common.scpi.ScpiClient` (lock per resource, timeouts,
typed errors, retries for queries only).

Commands used
-------------
=============================================  =====================================
``*CLS``, ``SYSTEM:REMOTE``                     after opening (:meth:`DC2200Driver.initialize`)
``SOURCE1:MODE CC`` / ``SOURCE1:MODE PWM``      operating mode
``SOURCE1:CCURENT:CURRENT <A>``                 constant-current setpoint (the
                                                instrument's own spelling ``CCURENT``)
``OUTPUT1:STATE ON|OFF``, ``OUTPUT1:STATE?``    LED output
``SENSE3:CURRENT:DATA?``                        measured LED current (A)
``SOURCE1:CURRENT:LIMIT?``                      hardware current limit (A)
``SOURCE1:CURRENT:LIMIT:TRIPPED?``              protection flags (0/1)
``OUTPUT1:PROTECTION:INTLOCK:TRIPPED?``
``OUTPUT1:PROTECTION:TEMPERATURE:DRIVER:TRIPPED?``
``OUTPUT1:PROTECTION:TEMPERATURE:HEAD:TRIPPED?``
``SOURCE1:PWM:CURRENT <A>``, ``:FREQ <Hz>``,    PWM light programme (``:FREQ``, not
``:DCYCLE <%>``, ``:COUNT <n>``                 ``:FREQUENCY``, which some firmware rejects)
``SYST:ERR?``                                   after each write when ``check_errors``
=============================================  =====================================

Design decisions
----------------
* ``SYST:ERR?`` is standard SCPI but unverified on this model (PROTOCOLS.md);
  ``check_errors`` (default on) can be switched off in the profile.  Without it a
  refused setpoint goes unnoticed, so it is on unless the firmware lacks it.
* Numbers are sent in fixed point with at most six decimals and no exponent
  (``0.5``, ``0.00001``): 1 µA resolution, below the instrument's own setpoint
  resolution, and text every SCPI number parser accepts.
* The current setpoint is not queried back (no query form is documented); the
  device reports the value it commanded and the *measured* current.
* ``SOURCE1:PWM:COUNT 0`` is taken to mean "pulse until switched off"
  (unverified; check on the bench before relying on a finite count).
* Opening is retried (USB-TMC enumeration is sometimes slow after power-up).
"""

from __future__ import annotations

import logging

from photoreactor.devices.common.errors import InstrumentTimeout, LimitError
from photoreactor.devices.common.scpi import ScpiDriver

log = logging.getLogger(__name__)

#: PWM ranges from the manual
PWM_FREQUENCY_HZ = (0.1, 20_000.0)
PWM_DUTY_PERCENT = (0.1, 99.9)

TRIP_QUERIES = {
    "current_limit": "SOURCE1:CURRENT:LIMIT:TRIPPED?",
    "interlock": "OUTPUT1:PROTECTION:INTLOCK:TRIPPED?",
    "driver_temperature": "OUTPUT1:PROTECTION:TEMPERATURE:DRIVER:TRIPPED?",
    "head_temperature": "OUTPUT1:PROTECTION:TEMPERATURE:HEAD:TRIPPED?",
}


def _num(x: float) -> str:
    """Fixed-point, at most 6 decimals, no exponent, no trailing zeros ("0.5", "0.00001")."""
    text = f"{float(x):.6f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


class DC2200Driver(ScpiDriver):
    """One DC2200 (one LED head on channel 1); see :class:`ScpiDriver` for the parameters."""

    model = "DC2200"

    # -- session -------------------------------------------------------------
    def initialize(self) -> None:
        """Clear status and errors, take remote control (done by :meth:`open`)."""
        self.scpi.write("*CLS")
        self.scpi.write("SYSTEM:REMOTE")

    # -- constant current ------------------------------------------------------
    def set_constant_current_mode(self) -> None:
        self.scpi.write("SOURCE1:MODE CC")

    def set_current(self, current_a: float) -> float:
        """Program the constant-current setpoint; returns the value sent (A)."""
        if not current_a >= 0:
            raise LimitError(self.name, "current", current_a, "≥ 0", "A")
        text = _num(current_a)
        self.scpi.write(f"SOURCE1:CCURENT:CURRENT {text}")
        return float(text)

    def set_output(self, on: bool) -> None:
        self.scpi.write(f"OUTPUT1:STATE {'ON' if on else 'OFF'}")

    def output_on(self) -> bool:
        return self.scpi.query_bool("OUTPUT1:STATE?")

    def measured_current(self) -> float:
        """LED current measured by the driver (A)."""
        return self.scpi.query_float("SENSE3:CURRENT:DATA?")

    def current_limit(self) -> float:
        """Hardware current limit set on the instrument (A)."""
        return self.scpi.query_float("SOURCE1:CURRENT:LIMIT?")

    def trip_flags(self) -> dict[str, bool]:
        """Protection flags: current limit, interlock, driver and head over-temperature."""
        return {key: self.scpi.query_bool(q) for key, q in TRIP_QUERIES.items()}

    # -- PWM -------------------------------------------------------------------
    def set_pwm_mode(self) -> None:
        self.scpi.write("SOURCE1:MODE PWM")

    def configure_pwm(self, current_a: float, frequency_hz: float, duty_percent: float,
                      count: int = 0) -> float:
        """Program PWM current, frequency, duty cycle and pulse count.

        Ranges are checked before anything is sent (:class:`LimitError`).
        Returns the current sent (A).
        """
        lo, hi = PWM_FREQUENCY_HZ
        if not lo <= frequency_hz <= hi:
            raise LimitError(self.name, "PWM frequency", frequency_hz, PWM_FREQUENCY_HZ, "Hz")
        lo, hi = PWM_DUTY_PERCENT
        if not lo <= duty_percent <= hi:
            raise LimitError(self.name, "PWM duty cycle", duty_percent, PWM_DUTY_PERCENT, "%")
        if int(count) != count or count < 0:
            raise LimitError(self.name, "PWM count", count, "integer ≥ 0", "")
        if not current_a >= 0:
            raise LimitError(self.name, "PWM current", current_a, "≥ 0", "A")
        text = _num(current_a)
        self.scpi.write(f"SOURCE1:PWM:CURRENT {text}")
        self.scpi.write(f"SOURCE1:PWM:FREQ {_num(frequency_hz)}")
        self.scpi.write(f"SOURCE1:PWM:DCYCLE {_num(duty_percent)}")
        self.scpi.write(f"SOURCE1:PWM:COUNT {int(count)}")
        return float(text)

    # -- safety ------------------------------------------------------------------
    def switch_off(self, timeout_s: float = 1.0, lock_timeout_s: float = 2.0) -> None:
        """Output off, best effort and bounded in time (used by ``safe()``).

        Waits at most ``lock_timeout_s`` for another thread's exchange, reads
        with ``timeout_s``; raises the typed error if the instrument does not
        take the command.
        """

        if not self.scpi.lock.acquire(timeout=lock_timeout_s):
            raise InstrumentTimeout(self.name, f"link busy for {lock_timeout_s:g} s; could not "
                                    "send OUTPUT1:STATE OFF")
        try:
            old = getattr(self.scpi.resource, "timeout", None)
            self.scpi.set_timeout(min(timeout_s, self.base_timeout_s))
            try:
                self.scpi.write("OUTPUT1:STATE OFF")
            finally:
                if old is not None:
                    self.scpi.resource.timeout = old
        finally:
            self.scpi.lock.release()
