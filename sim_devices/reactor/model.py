"""The physical reactor model behind every simulated instrument.

:class:`ReactorModel` is the :class:`~photoreactor.sim_devices.world.Reactor`
the simulated profile runs on.  It combines one model per phenomenon:

==================  =============================================================
module              phenomenon
==================  =============================================================
:mod:`.heat`        mantle / flask / contents heat balance (exact per sub-step)
:mod:`.liquid`      volume, solvents, free species, boiling-point warnings
:mod:`.nanocrystals` nucleation, growth, SILAR shells, Mn doping, ripening
:mod:`.exchange`    Hg / Hg+Ag cation exchange with Fickian interdiffusion
:mod:`.msc`         CdTe magic-sized clusters and their reaction zones
:mod:`.clusters`    (CdSe)₁₃ / (ZnSe)₁₃ clusters, suprastructures, ribbons
:mod:`.photocatalysis` hydrodehalogenation, cascade, CO₂ → CO, photodoping
:mod:`.spectra`     absorbance and emission from all of the above
==================  =============================================================

Time stepping
-------------
:meth:`Reactor.update` advances in sub-steps of :meth:`_step_limit` seconds.
Within a sub-step the heat model is solved exactly for the heater power the
controller's law returned; each active process then integrates along that exact
temperature path (Dormand–Prince at its stage times, or classical Runge–Kutta at
start, middle and end for the light processes).  Sub-steps are

* ≤ 1 s while a pump flows (a dose lands in 1-s slices) and while the heater
  law is active and the temperature or power is moving (the controller sees
  the probe every second, like real hardware);
* growing by ×1.5 per quiet step up to :data:`HEAT_MAX_STEP_S` while the
  regulation converges (|ΔT| < 0.05 °C and |Δpower| < 0.01 per step), halving
  when it drifts and back to 1 s on a jump (a setpoint change);
* unbounded by heat in *held regulation* — once the controller has brought the
  contents to its setpoint, long steps hold it exactly (:meth:`_regulate`);
* otherwise set by the chemistry: each active process controls its own local
  error (:class:`~.base.StepControl`, Dormand–Prince 5(4), first same as
  last; derivative and step compiled in :mod:`.kinetics`) and
  the stability of its stiff parts (monomer pool, shell diffusion); inactive
  processes — nothing that can change — are skipped; at most one hour.

So a steady hot hour is three sub-steps, a 55 h photocatalysis jump at room
temperature a few dozen, and advancing an hour in one call or in 3600
one-second calls gives the same state to ~1e-5 (to the regulation ripple while
a controller is still converging).  A temperature controller that changes its
setpoint should read the world (``world.temperature_c()``) first so the change
starts at the current virtual time.

Reading the world
-----------------
The world is advanced lazily: every public method (:meth:`state`,
:meth:`absorbance`, :meth:`emission`, :meth:`temperature_c`, the flow and light
calls) first brings it to the clock's present.  Code that reads the process
objects directly (``model.nanocrystals.main()``) must call :meth:`update` first,
and an emulator must do the same *before* changing what its regulation law will
return (a new setpoint), or the change would act retroactively on the time that
passed since the last read.  A pump reagent may carry the temperature of its
stock in ``Reagent.extra["temperature_c"]`` (the Cd stock of A2 is kept at
120 °C); doses mix enthalpies with the contents.

The chemist's hands
-------------------
:meth:`ReactorModel.charge` loads the flask by hand with a named recipe of
SCIENCE.md (see :mod:`.recipes`); :meth:`remove_mantle` / :meth:`attach_mantle`
model lifting the flask out of the mantle to cool it.  The constructor's
``**scenario`` (the profile's ``simulation.scenario``) may name a ``recipe``
with its options, plus ``flask_ml``, ``mantle_power_w`` and ``ambient_c``.
"""

from __future__ import annotations

import math

import numpy as np

from ..world import Reactor, Reagent
from . import spectra
from .clusters import ClusterProcess
from .exchange import ExchangeProcess
from .heat import HeatModel
from .liquid import Liquid
from .materials import SOLVENTS, solvent
from .msc import MSCProcess
from .nanocrystals import NanocrystalProcess
from .photocatalysis import PhotocatalysisProcess

#: sub-step bounds (s): while flows run / while regulation moves, and the steady maximum
FLOW_STEP_S = 1.0
HEAT_FINE_STEP_S = 1.0
HEAT_MAX_STEP_S = 60.0
QUIET_TEMPERATURE_C = 0.05
QUIET_POWER = 0.01
MAX_STEP_S = 3600.0
#: held regulation (see ReactorModel._regulate): entered once the contents are within
#: HOLD_BAND_C of the controller's setpoint and mantle and flask within HOLD_SETTLED_C
#: of the steady state that holds it (not while heating up: the mantle is then tens
#: of degrees hotter); the contents then settle on the setpoint without ringing
HOLD_BAND_C = 0.5
HOLD_SETTLED_C = 5.0


class ReactorModel(Reactor):
    """Simulated photoreactor / synthesis flask on a (virtual) clock.

    Parameters
    ----------
    clock
        The session's clock (:class:`~photoreactor.sim_devices.clock.VirtualClock`).
    seed : int
        Seed of :attr:`rng` (kept for the world interface; the model itself is
        deterministic — it has no random terms).
    ambient_c : float
        Room temperature.
    flask_ml, mantle_power_w : float, optional
        Glassware and mantle (see :class:`~.heat.HeatModel`); a recipe may pick a
        flask size when none is given here.
    recipe : str or dict, optional
        Charge this recipe at construction (see :meth:`charge`); the remaining
        keyword arguments are its options.
    """

    def __init__(self, clock, *, seed: int = 0, ambient_c: float = 25.0,
                 flask_ml: float | None = None, mantle_power_w: float | None = None,
                 recipe: str | dict | None = None, **recipe_options):
        super().__init__(clock, seed=seed, ambient_c=ambient_c)
        self._flask_fixed = flask_ml is not None
        self._mantle_power_w = mantle_power_w
        self.heat = HeatModel(flask_ml=flask_ml or 25.0, mantle_power_w=mantle_power_w,
                              ambient_c=ambient_c)
        self._new_contents()
        self.recipe: str | None = None
        self.recipe_options: dict = {}
        self._liquid_version = -1
        self._heat_dt = HEAT_FINE_STEP_S
        self._last_power = 0.0
        self._held: float | None = None      # power of held regulation (see _regulate)
        self._held_c: float | None = None    # ... and the setpoint it holds
        self.t0 = self.t
        self.substeps = 0
        self.events: list[tuple[float, str]] = []
        if recipe is not None:
            self.charge(recipe, **recipe_options)
        elif recipe_options:
            raise TypeError(f"unknown scenario options {sorted(recipe_options)} "
                            "(without a recipe the model takes flask_ml, mantle_power_w, "
                            "ambient_c, seed)")

    def _new_contents(self) -> None:
        self.liquid = Liquid()
        self.nanocrystals = NanocrystalProcess()
        self.exchange = ExchangeProcess(self.nanocrystals)
        self.msc = MSCProcess()
        self.clusters = ClusterProcess()
        self.photocatalysis = PhotocatalysisProcess(self.nanocrystals)
        # fixed order: deterministic operator splitting between (nearly disjoint) processes
        self.processes = [self.nanocrystals, self.exchange, self.msc, self.clusters,
                          self.photocatalysis]
        self._liquid_version = -1
        #: a sealed vessel (autoclave) does not reflux: its contents may pass the boiling point
        self.sealed = False

    # -- the chemist's hands ------------------------------------------------------------
    def charge(self, recipe: str | dict, *, fresh: bool = True, **overrides) -> dict:
        """Charge the flask by hand with a SCIENCE.md recipe.

        Parameters
        ----------
        recipe : str or dict
            A name from :data:`~.recipes.RECIPES` (``"A1_cds_core"``,
            ``"A2_doping"``, ``"A2_shell"``, ``"A3_photocatalysis"``,
            ``"A4_cascade"``, ``"B_co2"``, ``"C_cdte_msc"``, ``"D_clusters"``,
            ``"E_cdse_core"``, ``"E_exchange"``, ``"E_shell"``, ``"empty"``) or a dict
            ``{"recipe": name, **options}``.
        fresh : bool
            ``True`` (default): a new batch in clean glassware — the previous
            contents are gone and flask and contents start at room temperature (the
            mantle keeps its own temperature).  ``False``: add to what is there.
        **overrides
            Recipe options (documented per recipe in :mod:`.recipes`).

        Returns
        -------
        dict
            The resolved options (defaults filled in), also kept in
            :attr:`recipe_options`.
        """
        from .recipes import charge_recipe

        if isinstance(recipe, dict):
            opts = dict(recipe)
            name = opts.pop("recipe")
            opts.update(overrides)
        else:
            name, opts = recipe, dict(overrides)
        with self.lock:
            self.update()
            if fresh:
                self._new_contents()
                self.heat.set_temperatures(self.ambient_c, self.ambient_c, self.heat.mantle_c)
            resolved = charge_recipe(self, name, opts)
            self.recipe, self.recipe_options = name, resolved
            self._sync_heat()
            self.events.append((self.t, f"charged {name}"))
            return resolved

    def inject(self, species: str, amount_mmol: float, *, solvent: str = "ODE",
               volume_ml: float = 0.0, temperature_c: float | None = None) -> None:
        """Add a reagent by hand, all at once (a rapid syringe injection).

        Parameters
        ----------
        species : str
            What is added (``"Hg"``, ``"Ag"``, ``"TOP"``, ``"Mn"``, ...; ``"solvent"`` for
            solvent only).
        amount_mmol : float
            Amount of ``species``.
        solvent, volume_ml : str, float
            The stock's solvent and volume (0 mL: a negligible volume).
        temperature_c : float, optional
            Temperature of the stock (default: room temperature).
        """
        with self.lock:
            self.update()
            conc = amount_mmol / volume_ml if volume_ml > 0 else 0.0
            reagent = Reagent(name=f"{species} (by hand)", species=species,
                              concentration_mol_l=conc, solvent=solvent,
                              extra={} if temperature_c is None else {"temperature_c": temperature_c})
            if volume_ml > 0:
                self._add("hand", reagent, volume_ml)
            else:
                self.liquid.add_species(species, amount_mmol * 1e-3)
                for p in self.processes:
                    p.on_dose(self, species)
            self.events.append((self.t, f"injected {amount_mmol:g} mmol {species}"))

    def use_flask(self, flask_ml: float) -> None:
        """Choose the glassware (only before anything is charged, or when the recipe decides)."""
        if self._flask_fixed or flask_ml == self.heat.flask_ml:
            return
        old = self.heat
        self.heat = HeatModel(flask_ml=flask_ml, mantle_power_w=self._mantle_power_w,
                              ambient_c=self.ambient_c)
        self.heat.set_temperatures(old.contents_c, old.flask_c, old.mantle_c)
        self.heat.set_stirred(old.stirred)
        self.heat.set_mantle(old.mantle_attached)
        self._liquid_version = -1

    def remove_mantle(self) -> None:
        """Lift the flask out of the mantle: heater power no longer reaches it; it cools in air."""
        with self.lock:
            self.update()
            self.heat.set_mantle(False)
            self._disturb_heat()
            self.events.append((self.t, "mantle removed"))

    def attach_mantle(self) -> None:
        with self.lock:
            self.update()
            self.heat.set_mantle(True)
            self._disturb_heat()
            self.events.append((self.t, "mantle attached"))

    def set_temperature(self, temperature_c: float) -> None:
        """Place flask, mantle and contents at a temperature (a pre-heated start for tests)."""
        with self.lock:
            self.update()
            self.heat.set_temperatures(temperature_c)
            self._disturb_heat()

    def set_stirring(self, rpm: float) -> None:
        with self.lock:
            super().set_stirring(rpm)
            self.heat.set_stirred(self.stir_rpm > 50.0)
            self._disturb_heat()

    def connect_line(self, line: str, reagent: Reagent) -> None:
        if reagent.solvent not in SOLVENTS:
            solvent(reagent.solvent)    # clear error naming the known solvents
        super().connect_line(line, reagent)

    # -- Reactor hooks ----------------------------------------------------------------------
    def temperature_c_now(self) -> float:
        return self.heat.contents_c

    def temperatures_within_step(self, fractions) -> list[float]:
        """Contents temperature at ``fractions`` of the sub-step being taken (for a
        process's :meth:`~.base.Process.advance` whose integrator has stages between
        the start, middle and end it is given): the heat model's exact path."""
        return self.heat.contents_within_last_step(fractions)

    def _disturb_heat(self) -> None:
        """Something changed the heat balance: the regulation is sampled finely again."""
        self._heat_dt = HEAT_FINE_STEP_S
        self._held = self._held_c = None

    def _regulate(self, law, dt: float) -> float:
        """Heater power for the next ``dt``: the controller's law, or held regulation.

        A real controller samples its probe about once a second.  Sampling the law
        only at the start of long sub-steps would make a PI loop ring (its gain per
        sample grows with the step), so the law is sampled at most every
        :data:`HEAT_MAX_STEP_S` (less while the temperature moves).  Once the contents
        sit within :data:`HOLD_BAND_C` of the controller's setpoint with the mantle and
        flask near their steady state (:data:`HOLD_SETTLED_C`), the world
        enters *held regulation* if the law offers it — the controller emulators and
        :class:`~.fidelity.RampSoakLaw` do, through three methods:

        * ``law.holding_c()``: the temperature it regulates to now (its setpoint), or
          ``None`` when it is not simply holding (ramping, manual, faulted, off);
        * ``law.holdable_s()``: how long it may be held before an event of its own (a
          watchdog deadline), ``inf`` if none;
        * ``law.hold(dt_s, power)``: it was regulating at its setpoint for ``dt_s``
          with that power (its clock and reported output advance).

        Held steps apply the constant power whose steady state is the setpoint, with
        mantle and flask placed at that steady state on entry, so the contents settle
        on the setpoint within about a minute (the heat model's exact solution) and
        any step length is exact — what a well-tuned controller sampling every second
        does, without ringing.  Each step re-reads ``holding_c()`` and
        ``holdable_s()``: a new setpoint, a fault, a ramp or a manual switch ends the
        hold and fine sampling resumes, as does anything changing the heat balance
        (a dose, stirring, the mantle removed, boiling).
        """
        if self._held is not None:
            law.hold(dt, self._held)
            return self._held
        return super()._regulate(law, dt)

    def _hold_limit(self, law) -> float | None:
        """Step limit of held regulation, or ``None`` (hold ended) if the law changed."""
        if law.holding_c() != self._held_c:
            return None
        horizon = law.holdable_s()
        return horizon if horizon > 0.0 else None

    def _try_hold(self, law) -> None:
        holding_c = getattr(law, "holding_c", None)
        if holding_c is None:
            return
        target = holding_c()
        if target is None or abs(self.heat.contents_c - target) > HOLD_BAND_C:
            return
        power = self.heat.power_for(target)
        if power is None or not self.heat.settled_at(power, HOLD_SETTLED_C):
            return
        if law.holdable_s() > 0.0:
            # the controller's transient is over: its mantle and flask are where holding
            # the setpoint puts them (hidden states: the probe sees the contents only)
            self.heat.settle_hidden(power)
            self._held, self._held_c = power, target

    def attach_heater_controller(self, law) -> None:
        with self.lock:
            super().attach_heater_controller(law)
            self._disturb_heat()

    def _sync_heat(self) -> None:
        if self._liquid_version != self.liquid.version:
            self.heat.set_contents_heat_capacity(self.liquid.heat_capacity_j_k())
            self.heat.set_boiling_point(math.inf if self.sealed else self.liquid.boiling_point_c())
            self._liquid_version = self.liquid.version

    def _step_limit(self) -> float:
        limit = MAX_STEP_S
        for f in self.flows.values():
            if f.running and f.rate_ml_s != 0.0:
                remaining = (f.target_ml - f.moved_ml) / abs(f.rate_ml_s)
                limit = min(limit, FLOW_STEP_S, max(remaining, 1e-6))
        law = self._heater_law
        if law is not None:
            if self._held is not None:
                hold = self._hold_limit(law)
                if hold is None:
                    self._disturb_heat()
                else:
                    limit = min(limit, hold)
            if self._held is None:
                limit = min(limit, self._heat_dt)
        temp = self.heat.contents_c
        for p in self.processes:
            if p.active(self):
                limit = min(limit, p.step_limit_s(self, temp))
        return limit

    def _add(self, line: str, reagent: Reagent, volume_ml: float) -> None:
        if volume_ml <= 0:
            return
        c_before = self.liquid.heat_capacity_j_k()
        self.liquid.add_reagent(reagent.species, reagent.concentration_mol_l, reagent.solvent,
                                volume_ml)
        sol = SOLVENTS[reagent.solvent]
        c_added = volume_ml * sol.density_g_ml * sol.heat_capacity_j_gk
        t_in = float(reagent.extra.get("temperature_c", self.ambient_c)) if reagent.extra else (
            self.ambient_c)
        # the dose arrives at its own temperature: mix enthalpies
        mixed = (c_before * self.heat.contents_c + c_added * t_in) / max(c_before + c_added, 1e-9)
        self.heat.set_temperatures(mixed, self.heat.flask_c, self.heat.mantle_c)
        self._held = None
        for p in self.processes:
            p.on_dose(self, reagent.species)

    def _remove(self, volume_ml: float) -> None:
        keep = 1.0 - self.liquid.remove(volume_ml)
        for p in self.processes:
            p.scale(keep)

    def _step(self, dt: float) -> None:
        if self._liquid_version != self.liquid.version:
            self._held = None
        self._sync_heat()
        t0 = self.heat.contents_c
        tmid, t1 = self.heat.advance(dt, self.heater_power)
        if self.sealed and t1 > self.liquid.boiling_point_c():
            self.liquid.warn("sealed-above-bp", "sealed vessel above the boiling point of "
                             f"{self.liquid.boiling_solvent()}: pressure builds up")
        if self.heat.boiling:
            sol = self.liquid.boiling_solvent()
            self.liquid.warn(f"boiling:{sol}",
                             f"contents reached the boiling point of {sol} "
                             f"({self.heat.boiling_point_c:.0f} °C) at t = "
                             f"{self.t + dt - self.t0:.0f} s: refluxing")
        for p in self.processes:
            if p.active(self):
                p.advance(self, dt, t0, tmid, t1)
        if self._heater_law is not None and self._held is not None:
            if self.heat.boiling:
                self._disturb_heat()
        elif self._heater_law is not None:
            d_temp = abs(t1 - t0)
            d_power = abs(self.heater_power - self._last_power)
            if d_temp < QUIET_TEMPERATURE_C and d_power < QUIET_POWER:
                self._heat_dt = min(self._heat_dt * 1.5, HEAT_MAX_STEP_S)
            elif d_temp > 0.5 or d_power > 0.05:     # a setpoint change or a disturbance
                self._heat_dt = HEAT_FINE_STEP_S
            else:                                    # regulation drifting: tighten gently
                self._heat_dt = max(self._heat_dt * 0.5, HEAT_FINE_STEP_S)
            self._try_hold(self._heater_law)
        self._last_power = self.heater_power
        self.substeps += 1

    # -- optics ---------------------------------------------------------------------------------
    def bands(self) -> list:
        """Every absorption band of the current contents (see :mod:`.spectra`)."""
        out = spectra.solvent_baseline(self.liquid.fractions())
        for p in self.processes:
            out += p.bands(self)
        return out

    def absorbance(self, wavelengths_nm) -> np.ndarray:
        """Absorbance of the flask contents for a 1 cm path."""
        with self.lock:
            self.update()
            return spectra.render_absorbance(self.bands(), wavelengths_nm)

    def emission(self, wavelengths_nm, excitation_nm: float) -> np.ndarray:
        """Emitted photons per nm per unit excitation (dilute-sample limit)."""
        with self.lock:
            self.update()
            lines = []
            for p in self.processes:
                lines += p.emission_lines(self, float(excitation_nm))
            return spectra.render_emission(lines, wavelengths_nm)

    # -- summary -----------------------------------------------------------------------------------
    def state(self) -> dict:
        """Everything tests, the fidelity report and curious chemists ask about.

        Keys: ``time``, ``elapsed_s``, ``temperature_c``, ``flask_temperature_c``,
        ``mantle_temperature_c``, ``heater_power``, ``mantle_attached``,
        ``stir_rpm``, ``irradiance_mw_cm2``, ``recipe``, ``volume_ml``,
        ``solvents_ml``, ``species_mmol`` (free), ``boiling_point_c``,
        ``boiling``, ``warnings``; from the nanocrystal model ``populations``
        and, for the main population, ``e1_nm``, ``radius_nm``,
        ``diameter_nm``, ``sigma_rel``, ``shell_ml``, ``mn_per_dot``,
        ``particles_nmol``; and one sub-dict per active phenomenon:
        ``exchange`` (``e1s_ev`` ...), ``msc`` (zone evidence), ``clusters``,
        ``photocatalysis`` (``yield_pct``, ``ton``, ``co_umol`` ...).  The most
        used numbers are repeated at top level: ``e1s_ev``, ``yield_pct``,
        ``conversion``, ``ton``, ``co_umol``.
        """
        with self.lock:
            self.update()
            out = {"time": self.t, "elapsed_s": self.t - self.t0,
                   "temperature_c": self.heat.contents_c,
                   "flask_temperature_c": self.heat.flask_c,
                   "mantle_temperature_c": self.heat.mantle_c,
                   "heater_power": self.heater_power,
                   "mantle_attached": self.heat.mantle_attached,
                   "stir_rpm": self.stir_rpm,
                   "irradiance_mw_cm2": self.irradiance_mw_cm2(),
                   "recipe": self.recipe,
                   "boiling_point_c": self.liquid.boiling_point_c(),
                   "boiling": self.heat.boiling,
                   "warnings": list(self.liquid.warnings)}
            out.update(self.liquid.snapshot())
            out.update(self.nanocrystals.state(self))
            for p in self.processes[1:]:
                s = p.state(self)
                if s:
                    out[p.name] = s
            for key in ("e1s_ev",):
                if key in out.get("exchange", {}):
                    out[key] = out["exchange"][key]
            for key in ("yield_pct", "conversion", "ton", "co_umol"):
                if key in out.get("photocatalysis", {}):
                    out[key] = out["photocatalysis"][key]
            if math.isinf(out["boiling_point_c"]):
                out["boiling_point_c"] = None
            return out
