"""Pre-flight: validate a whole experiment before any hardware moves.

Each experiment plan declares what it will ask of the reactor — temperatures,
doses per pump, irradiances, an estimate of its duration — through a
*requirements* function with the plan's own signature.  One checker compares
that with the devices' limits, the syringes' contents (the whole plan's reagent
budget, not dose by dose), the solvent's boiling point and the LED's calibrated
range, and reports every violation in words a chemist can act on.

The same check runs inside the plan (first thing, before any move) and from
``photoreactor run PLAN --check`` (without running).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field

from photoreactor.analysis.solvents import boiling_point_c


@dataclass
class Requirements:
    """What a plan will ask of the hardware, worst case."""

    temperatures_c: list[tuple[object, float]] = field(default_factory=list)  # (mantle, °C)
    doses_ml: list[tuple[object, float]] = field(default_factory=list)         # (pump, mL), summed per pump
    withdrawals_ml: list[tuple[object, float]] = field(default_factory=list)   # (pump, mL) taken from the flask
    irradiances: list[tuple[object, float]] = field(default_factory=list)      # (led, mW/cm²)
    spectra: list[tuple[object, str]] = field(default_factory=list)          # (spectrometer, mode)
    solvent: str | None = None
    duration_s: float = 0.0
    notes: list[str] = field(default_factory=list)

    def heat(self, mantle, temperature_c: float):
        if mantle is not None:
            self.temperatures_c.append((mantle, float(temperature_c)))

    def dose(self, pump, volume_ml: float):
        if pump is not None and volume_ml > 0:
            self.doses_ml.append((pump, float(volume_ml)))

    def withdraw(self, pump, volume_ml: float):
        """Volume a pump will draw out of the flask (aliquots): needs free syringe space."""
        if pump is not None and volume_ml > 0:
            self.withdrawals_ml.append((pump, float(volume_ml)))

    def measure(self, spectrometer, mode: str = "absorbance"):
        """The plan will record ``mode`` spectra: its dark (and reference) must be stored."""
        if spectrometer is not None:
            self.spectra.append((spectrometer, mode))

    def light(self, led, irradiance_mw_cm2: float):
        if led is not None and irradiance_mw_cm2 > 0:
            self.irradiances.append((led, float(irradiance_mw_cm2)))

    def budget_ml(self) -> dict:
        """Total volume asked of each pump, by pump name."""
        out: dict[str, float] = {}
        for pump, v in self.doses_ml:
            out[pump.name] = out.get(pump.name, 0.0) + v
        return out


class PreflightError(ValueError):
    """One or more requirements cannot be met; nothing has moved."""

    def __init__(self, plan: str, violations: list[str]):
        self.plan, self.violations = plan, violations
        super().__init__(f"{plan}: pre-flight failed, nothing was moved:\n  - " + "\n  - ".join(violations))


@dataclass
class PreflightReport:
    plan: str
    requirements: Requirements
    violations: list[str]

    @property
    def ok(self) -> bool:
        return not self.violations

    def format(self) -> str:
        r = self.requirements
        lines = [f"plan {self.plan}: estimated duration {r.duration_s / 3600:.2f} h"]
        for name, ml in sorted(r.budget_ml().items()):
            lines.append(f"  reagent budget {name}: {ml:.3f} mL")
        for led, x in r.irradiances:
            lines.append(f"  irradiance {led.name}: {x:g} mW/cm²")
        if r.temperatures_c:
            lines.append("  temperatures: " + ", ".join(f"{t:g} °C" for _, t in r.temperatures_c))
        lines += [f"  note: {n}" for n in r.notes]
        lines += [f"  VIOLATION: {v}" for v in self.violations] or ["  no violations"]
        return "\n".join(lines)


def _get(signal):
    return signal.get()


def find_violations(req: Requirements, read=_get) -> list[str]:
    """Every way ``req`` exceeds a limit; ``read(signal)`` reads a device setting."""
    out = []
    bp = boiling_point_c(req.solvent) if req.solvent else None
    for mantle, t in req.temperatures_c:
        tmax = read(mantle.max_temperature)
        if t > tmax:
            out.append(f"{mantle.name}: {t:g} °C asked, above its limit of {tmax:g} °C")
        if bp is not None and t >= bp:
            out.append(f"{mantle.name}: {t:g} °C asked, at or above the boiling point of "
                       f"{req.solvent} ({bp:g} °C)")
    seen = {}
    for pump, _ in req.doses_ml:
        seen[pump.name] = pump
    for name, ml in req.budget_ml().items():
        remaining = read(seen[name].remaining)
        if ml > remaining + 1e-9:
            out.append(f"{name}: plan needs {ml:.3f} mL of {seen[name].reagent.name}, "
                       f"syringe holds {remaining:.3f} mL")
    taken: dict[str, float] = {}
    for pump, ml in req.withdrawals_ml:
        taken[pump.name] = taken.get(pump.name, 0.0) + ml
        seen[pump.name] = pump
    for name, ml in taken.items():
        pump = seen[name]
        free = read(pump.syringe_volume) - read(pump.remaining)
        if ml > free + 1e-9:
            out.append(f"{name}: plan draws {ml:.3f} mL of aliquots, the syringe has room "
                       f"for {free:.3f} mL")
    for spectrometer, mode in req.spectra:
        try:
            spectrometer.check_ready(mode)
        except Exception as exc:  # SpectrometerNotReady: say what to run first
            out.append(str(exc))
    for led, x in req.irradiances:
        lo, hi = led.calibration.irradiance_range
        if not lo <= x <= hi:
            out.append(f"{led.name}: {x:g} mW/cm² asked, calibrated range is {lo:g}–{hi:g} mW/cm²")
    return out


def requirements_for(plan_func, kwargs: dict) -> Requirements:
    """Call the plan's declared requirements function with the plan's arguments."""
    req_func = getattr(plan_func, "requirements", None)
    if req_func is None:
        return Requirements(notes=["plan declares no requirements"])
    sig = inspect.signature(plan_func)
    bound = sig.bind_partial(**kwargs)
    bound.apply_defaults()
    args = {k: v for k, v in bound.arguments.items() if k != "md"}
    return req_func(**args)


def check_plan(plan_func, kwargs: dict, session=None) -> PreflightReport:
    """Pre-flight report for ``plan_func(**kwargs)`` without running it."""
    req = requirements_for(plan_func, kwargs)
    return PreflightReport(plan_func.__name__, req, find_violations(req))
