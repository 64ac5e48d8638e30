"""What the syringe-pump device needs from any pump driver, plus shared pump types.

:class:`SyringePumpDriver` is the small, model-independent surface the Ophyd
device (:mod:`photoreactor.devices.pump.device`) drives: start a move of a
signed volume at a rate, poll what the pump itself reports, stop.  Each model's
driver (New Era NE-1000 in :mod:`.newera`, Tricontinent C3000 in :mod:`.c3000`)
implements it on top of its own wire protocol, so the device's reagent
accounting, limits and status handling are written once.

Sign convention everywhere: **positive volume infuses into the flask, negative
withdraws from it** (aliquots).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass

from photoreactor.devices.common.errors import InstrumentAlarm


@dataclass(frozen=True)
class PumpReagent:
    """The reagent a pump's syringe is loaded with.

    Attributes
    ----------
    name : str
        What a chemist calls it, e.g. ``"Cd myristate 0.04 M in ODE"``.
    species : str
        The chemically active component (``"Cd"``, ``"S"`` ... or ``"solvent"``).
    concentration_mol_l : float
        Concentration of ``species`` (mol/L); 0 for a neat solvent or an empty
        aliquot syringe.
    solvent : str
        Carrier solvent.
    volume_ml : float
        Volume loaded into the syringe at the start of the session (mL).
    """

    name: str
    species: str = "solvent"
    concentration_mol_l: float = 0.0
    solvent: str = "ODE"
    volume_ml: float = 0.0

    @classmethod
    def from_config(cls, cfg: dict) -> PumpReagent:
        """Build from a profile ``reagent:`` mapping, checking types and signs."""
        if not isinstance(cfg, dict) or "name" not in cfg:
            raise ValueError(f"reagent must be a mapping with at least a 'name', got {cfg!r}")
        unknown = set(cfg) - {"name", "species", "concentration_mol_l", "solvent", "volume_ml"}
        if unknown:
            raise ValueError(f"reagent {cfg['name']!r}: unknown key(s) {sorted(unknown)}; allowed: "
                             "name, species, concentration_mol_l, solvent, volume_ml")
        reagent = cls(name=str(cfg["name"]), species=str(cfg.get("species", "solvent")),
                      concentration_mol_l=float(cfg.get("concentration_mol_l", 0.0)),
                      solvent=str(cfg.get("solvent", "ODE")),
                      volume_ml=float(cfg.get("volume_ml", 0.0)))
        if reagent.concentration_mol_l < 0 or reagent.volume_ml < 0:
            raise ValueError(f"reagent {reagent.name!r}: concentration and volume must be >= 0")
        return reagent


@dataclass(frozen=True)
class PumpState:
    """One poll of a pump, as the pump itself reports it.

    Attributes
    ----------
    moving : bool
        The pump is running (infusing or withdrawing).
    moved_ml : float
        Unsigned volume moved in the current (or last) move, from the pump's own
        counter or plunger position.
    status : str
        The model's raw status text (for logs and the device's ``state``).
    """

    moving: bool
    moved_ml: float
    status: str = ""


class PumpAlarm(InstrumentAlarm):
    """A pump alarm (stall, reset/power loss, watchdog timeout ...).

    ``code`` is the model's alarm code (New Era: ``"S"``, ``"R"``, ``"T"``,
    ``"E"``, ``"O"``; C3000: the error letter, e.g. ``"i"`` plunger overload).
    ``moved_ml`` is the volume moved when the alarm was read, if the same reply
    said so (C3000 position queries), else None.
    """

    #: alarm codes after which the pump no longer knows what it moved (reset, lost position)
    COUNTERS_LOST = frozenset({"R", "g"})

    def __init__(self, device: str, message: str, exchange=None, *, code: str = "",
                 moved_ml: float | None = None):
        self.code = code
        self.moved_ml = moved_ml
        self.counters_lost = code in self.COUNTERS_LOST
        super().__init__(device, message, exchange)


class SyringePumpDriver(abc.ABC):
    """Model-independent driver surface used by :class:`~.device.SyringePump`.

    Implementations hold the shared port lock around every exchange, time out
    every read, retry only idempotent exchanges, and raise the typed errors of
    :mod:`photoreactor.devices.common.errors`.
    """

    #: device name used in errors
    name: str
    #: whether :meth:`arm_watchdog` is available on this model
    watchdog_supported: bool = False
    #: set by :meth:`start_move` just before the motion command is sent (after the
    #: counters were zeroed): from then on the pump's own reading belongs to this move
    move_commanded: bool = False

    # -- identity / setup --------------------------------------------------
    @abc.abstractmethod
    def connect(self) -> str:
        """Check the pump answers, bring it to a known state; return its identity."""

    @abc.abstractmethod
    def diameter_mm(self) -> float:
        """Syringe inner diameter (mm) the pump uses."""

    @abc.abstractmethod
    def set_diameter_mm(self, diameter_mm: float) -> None:
        """Tell the pump the syringe inner diameter (mm)."""

    @abc.abstractmethod
    def rate_ml_min(self) -> float:
        """The pumping rate currently set in the pump (mL/min)."""

    @abc.abstractmethod
    def set_rate_ml_min(self, rate_ml_min: float) -> float:
        """Set the pumping rate; return the rate actually programmed (mL/min)."""

    def rate_range_ml_min(self) -> tuple[float, float]:
        """Rates this pump/syringe combination can run (mL/min); (0, inf) if unknown."""
        return (0.0, float("inf"))

    def volume_resolution_ml(self, volume_ml: float) -> float:
        """Smallest volume step the pump resolves for a move of ``volume_ml``."""
        return 1e-3

    # -- motion ------------------------------------------------------------
    def check_move(self, volume_ml: float, rate_ml_min: float) -> None:  # noqa: B027
        """Raise :class:`LimitError` if this move cannot be programmed (nothing is sent)."""

    @abc.abstractmethod
    def start_move(self, volume_ml: float, rate_ml_min: float) -> float:
        """Start moving ``volume_ml`` (positive infuse, negative withdraw).

        Returns the signed volume actually programmed (after the model's
        rounding).  Never retried: a lost reply raises and the caller decides.
        """

    @abc.abstractmethod
    def poll(self) -> PumpState:
        """Status and moved volume of the current/last move (raises PumpAlarm)."""

    @abc.abstractmethod
    def stop(self, *, timeout_s: float | None = None) -> None:
        """Stop pumping (idempotent; acknowledges a pending alarm if needed)."""

    def syringe_contents_ml(self) -> float | None:
        """Liquid in the syringe if the pump can tell (plunger position), else None."""
        return None

    # -- watchdog (models that have one) -----------------------------------
    def arm_watchdog(self, seconds: float) -> None:
        raise NotImplementedError(f"{self.name}: this pump model has no communication watchdog")

    def refresh_watchdog(self) -> None:
        raise NotImplementedError(f"{self.name}: this pump model has no communication watchdog")

    def disarm_watchdog(self) -> None:
        raise NotImplementedError(f"{self.name}: this pump model has no communication watchdog")

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release resources (the shared port stays open for other pumps)."""
