"""Nanocrystal populations: nucleation, growth, SILAR shells, doping, ripening.

A :class:`Population` is a set of particles with one mean size and a size
dispersion: a core material (CdS, CdSe or CdTe), formula units of core and of
CdS and ZnS shell material, a standard deviation of the radius, Mn²⁺ dopants,
and cations adsorbed on the surface waiting for an anion.  Several populations
coexist (charged cores, secondary nuclei from an over-dosed SILAR step).

Chemistry (:class:`NanocrystalProcess`)
---------------------------------------
Free species in the liquid: ``Cd``, ``Zn`` (cation precursors), ``S``, ``Se``
(anion precursors), ``Mn`` (dopant precursor).  Three pathways:

1. **Homogeneous monomer formation** — a cation and an anion precursor react in
   solution, first order in the limiting one, ``k_hom(T)·(1 + 100·[OAm]/M)``
   (primary amines activate metal carboxylates and sulfur).  Monomer
   accumulates in solution (a pool per material, supersaturation
   ``s = c / c_crit``), deposits on particle surfaces at ``g·A·s`` (A the total
   surface area) and, above the critical concentration, nucleates new particles
   at ``j0·V·(s − 1)⁴`` (radius 0.75 nm, radius spread 0.05 nm: a burst gives
   a narrow distribution, so an over-dose shows a distinct blue-side peak).  This is a LaMer burst: with no
   particles (A1) monomer builds up until it nucleates, and nucleation stops
   once the new surface swallows the supply; with plenty of surface (SILAR)
   nothing nucleates unless a step is over-dosed.  A nucleation episode's
   particles form one population; a later episode starts another.
2. **SILAR surface reaction** — a cation dose adsorbs on the particles
   (``k_ads``, amine-mediated like the reaction), at most
   ``SURFACE_CAPACITY_ML`` = 1.1 monolayers of cation sites per particle; an
   anion then reacts with the adsorbed cations
   (``k_surf``, τ ≈ 90 s at 240 °C, ≈ 9 min at 120 °C) into shell material.
   The limiting of cation and anion reacts; the rest stays (under-dosing leaves
   unreacted precursor, reported by :meth:`NanocrystalProcess.state`).  Cation
   beyond the surface capacity stays free and reacts homogeneously with the
   anion — fast with amine present — so an over-dosed step nucleates new small
   particles: the blue-side absorption feature a feedback plan must see.
3. **Dopant uptake and ripening** — Mn precursor substitutes into CdS-based
   particles (``k_dope``, up to ``MN_CAPACITY`` per dot); each incorporated Mn
   per dot costs a fraction ``DOPING_RIPENING`` of the particle number
   (dopant-induced ripening: mass is conserved, so the survivors grow).
   Ostwald ripening at high temperature (``K_ripen``, LSW: ⟨r⟩³ grows linearly
   in time; particles much smaller than the largest population dissolve and
   feed it; the size dispersion relaxes towards the LSW width 0.22·r).

Optics follow :func:`.spectra.nanocrystal_bands`: E1 from the sizing curve at
an *effective* diameter — the CdS (or CdSe) core plus, for shells of another
material, a fraction of the shell thickness the exciton leaks into
(``EXCITON_LEAKAGE``): ZnS on CdS 0.13 (a 0.55 nm ZnS shell moves E1 by ≈ 3 nm,
"only a few nm", A2), CdS on CdSe 0.65 (quasi-type-II), ZnS on CdSe 0.10.

Calibration (all at the conditions of SCIENCE.md):

=======================  ==============================  ===================================
constant                 value                           fitted to
=======================  ==============================  ===================================
k_hom CdS                5e-4 /s at 240 °C, Ea 100       A1: E1 passes 403 nm ≈ 30 min after
                                                         reaching 240 °C
growth g, c_crit (CdS)   4.5e-8 mol m⁻² s⁻¹, 0.2 mM      A1 burst → ≈ 120 nmol particles, so
                                                         that E1 = 403 nm (D 3.5 nm) comes at
                                                         ≈ 55 % of the sulfur
k_hom, g, c_crit (CdSe)  1e-3 /s at 230 °C (Ea 110),     E: 20 °C/min to 230 °C, 15 min hold,
                         9e-8, 0.4 mM                    mantle removed → D = 3.2 nm
nucleation j0·(s − 1)⁴   j0 = 2e-4 mol L⁻¹ s⁻¹           a short burst once c > c_crit (the
                                                         particle number is then set by g)
amine activation         1 + 100·[OAm]/M                 A2: with 2 mL OAm a SILAR step reacts
                                                         within its 10 min; free cation beyond
                                                         the surface capacity then nucleates
                                                         (≈ 1.8× a 1-ML dose)
k_ads, k_surf            0.1 /s, 1/90 s at 240 °C        "the limiting of Cd and S reacts over
                         (Ea 30, 25 kJ/mol)              the ~minutes after injection"; E
                                                         shells still react at 120 °C (≈ 9 min)
SURFACE_CAPACITY_ML      1.1                             one monolayer of cation sites
K_ripen                  1e-4 nm³/s at 240 °C, Ea 150    slow drift after depletion; over-dose
                                                         nuclei dissolve within ≈ 20–40 min
MN_CAPACITY              10.5 per dot                    A2 product ≈ 10 Mn per dot
DOPING_RIPENING          0.05 per Mn per dot             A2: radius 1.75 → ≈ 2.0 nm on doping
=======================  ==============================  ===================================

Monomer of ZnS does not nucleate in this model (ZnS over-doses leave unreacted
precursor instead): nothing in SCIENCE.md asks for ZnS nuclei, and they would
absorb below the spectrometer's useful range anyway.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from . import kinetics, spectra
from .base import Process, StepControl, step_from_rates
from .materials import AVOGADRO, HC_EV_NM, SEMICONDUCTORS, arrhenius

FOUR_PI_3 = 4.0 * math.pi / 3.0

# --- kinetics (see module docstring) ------------------------------------------------
K_HOM = {  # (k at ref °C in 1/s, Ea kJ/mol, ref °C)
    "CdS": (5.0e-4, 100.0, 240.0),
    "ZnS": (2.5e-4, 100.0, 240.0),
    "CdSe": (1.0e-3, 110.0, 230.0),
}
AMINE_ACTIVATION_PER_M = 100.0
K_ADS = (0.10, 30.0, 240.0)
K_ADS_ZN = (0.10, 30.0, 240.0)
K_SURF = (1.0 / 90.0, 10.0, 240.0)
K_SURF_ZN = (1.0 / 90.0, 10.0, 240.0)
SURFACE_CAPACITY_ML = 1.1
#: the surface reaction is amine-activated like the homogeneous one; K_SURF is its value
#: at the A2 SILAR conditions (2 mL technical OAm in 8 mL: 0.53 M)
SURFACE_AMINE_REFERENCE = 1.0 + AMINE_ACTIVATION_PER_M * 0.53
#: monomer: critical concentration for nucleation (supersaturation s = c / c_crit),
#: growth coefficient g (mol m⁻² s⁻¹ per unit s) and nucleation law j0·V·(s − 1)⁴
MONOMER_CRITICAL_MOL_L = {"CdS": 2.0e-4, "ZnS": 2.0e-4, "CdSe": 4.0e-4}
GROWTH_MOL_M2_S = {"CdS": 4.5e-8, "ZnS": 4.5e-8, "CdSe": 9.0e-8}
NUCLEATION_J0_MOL_L_S = 2.0e-4
#: a monomer pool relaxing faster than this (g·A/c_crit, 1/s) while well below the
#: nucleation threshold (QSS_MAX_SATURATION) is in quasi-steady state (see _choose_qss)
QSS_RATE_PER_S = 0.01
QSS_MAX_SATURATION = 0.9
NUCLEATION_ORDER = 4
NUCLEUS_RADIUS_NM = 0.75
NUCLEUS_SIGMA_NM = 0.05
K_DOPE = (3.0, 80.0, 220.0)        # L mol⁻¹ s⁻¹: Mn per dot relaxes at k·[Mn] towards capacity
MN_CAPACITY = 10.5
DOPING_RIPENING = 0.05
K_RIPEN = (1.0e-4, 150.0, 240.0)    # nm³/s
LSW_WIDTH = 0.22
SMALL_FRACTION = 0.7               # populations below 0.7 r_max dissolve when ripening
EXCITON_LEAKAGE = {("CdS", "ZnS"): 0.13, ("CdSe", "CdS"): 0.65, ("CdSe", "ZnS"): 0.10,
                   ("CdTe", "CdS"): 0.5, ("CdTe", "ZnS"): 0.10}
#: photoluminescence: Stokes shift (eV), exciton QY of a bare core, of a ZnS-capped core,
#: and the Mn²⁺ ⁴T₁→⁶A₁ emission (2.10 eV ≈ 590 nm, σ 0.11 eV)
STOKES_EV = {"CdS": 0.01, "CdSe": 0.03, "CdTe": 0.05}
QY_BARE, QY_SHELLED = 0.05, 0.45
MN_PL_EV, MN_PL_SIGMA_EV = 2.10, 0.11

#: populations below this amount (0.1 pmol, ~1e-6 absorbance) are not reported
REPORT_MIN_MOL = 1e-13
#: free species below this amount (1 pmol) count as absent
TRACE_MOL = 1e-12

_FIELDS = 8   # N, core units, CdS shell, ZnS shell, sigma, adsorbed Cd, adsorbed Zn, Mn
_FREE = ("Cd", "S", "Zn", "Se", "Mn")


@dataclass
class Population:
    """One ensemble of nanocrystals (amounts in mol, whole flask)."""

    label: str
    core: str
    n_mol: float = 0.0
    core_units_mol: float = 0.0
    cds_shell_mol: float = 0.0
    zns_shell_mol: float = 0.0
    sigma_nm: float = NUCLEUS_SIGMA_NM
    ads_cd_mol: float = 0.0
    ads_zn_mol: float = 0.0
    mn_mol: float = 0.0
    #: CdS shell thickness present when Mn was incorporated (buried vs interface doping)
    cds_shell_at_doping_nm: float | None = None
    flocculated: float = 0.0          # fraction (set by the exchange model)
    bleach: float = 0.0               # fraction of the E1 strength bleached (photodoping)
    alloy: object = None              # cation-exchange state, set by the exchange model
    extra: dict = field(default_factory=dict)

    # -- geometry ------------------------------------------------------------
    def volume_nm3(self) -> float:
        """Mean particle volume."""
        if self.n_mol <= 0:
            return FOUR_PI_3 * NUCLEUS_RADIUS_NM ** 3
        v = (self.core_units_mol * SEMICONDUCTORS[self.core].unit_volume_nm3
             + self.cds_shell_mol * SEMICONDUCTORS["CdS"].unit_volume_nm3
             + self.zns_shell_mol * SEMICONDUCTORS["ZnS"].unit_volume_nm3)
        return v / self.n_mol

    def radii_nm(self) -> tuple[float, float, float]:
        """(core radius, radius after CdS shell, outer radius)."""
        if self.n_mol <= 0:
            return (NUCLEUS_RADIUS_NM,) * 3
        n = self.n_mol
        v0 = self.core_units_mol * SEMICONDUCTORS[self.core].unit_volume_nm3 / n
        v1 = v0 + self.cds_shell_mol * SEMICONDUCTORS["CdS"].unit_volume_nm3 / n
        v2 = v1 + self.zns_shell_mol * SEMICONDUCTORS["ZnS"].unit_volume_nm3 / n
        return tuple((v / FOUR_PI_3) ** (1.0 / 3.0) for v in (v0, v1, v2))

    @property
    def radius_nm(self) -> float:
        """Outer radius (what :meth:`radii_nm` gives last, without the inner ones)."""
        if self.n_mol <= 0:
            return NUCLEUS_RADIUS_NM
        return (self.volume_nm3() / FOUR_PI_3) ** (1.0 / 3.0)

    def effective_diameter_nm(self) -> float:
        r0, r1, r2 = self.radii_nm()
        if self.core == "CdS":
            r_eff = r1 + EXCITON_LEAKAGE[("CdS", "ZnS")] * (r2 - r1)
        else:
            r_eff = (r0 + EXCITON_LEAKAGE.get((self.core, "CdS"), 0.5) * (r1 - r0)
                     + EXCITON_LEAKAGE.get((self.core, "ZnS"), 0.1) * (r2 - r1))
        return 2.0 * r_eff

    def shell_monolayers(self) -> dict[str, float]:
        """CdS and ZnS shell thickness in monolayers (0.35 / 0.31 nm)."""
        r0, r1, r2 = self.radii_nm()
        if self.core == "CdS":   # CdS-on-CdS: the shell is what SILAR added beyond the core
            t_cds = r1 - r0
        else:
            t_cds = r1 - r0
        return {"CdS": t_cds / SEMICONDUCTORS["CdS"].monolayer_nm,
                "ZnS": (r2 - r1) / SEMICONDUCTORS["ZnS"].monolayer_nm}

    def mn_per_dot(self) -> float:
        return self.mn_mol / self.n_mol if self.n_mol > 0 else 0.0

    def mn_site(self) -> str | None:
        """``"core"`` (buried under ≥ 0.3 nm of CdS grown after doping), ``"interface"``, or None."""
        if self.mn_mol <= 0 or self.cds_shell_at_doping_nm is None:
            return None
        r0, r1, _ = self.radii_nm()
        grown_after = (r1 - r0) - self.cds_shell_at_doping_nm
        return "core" if grown_after >= 0.3 else "interface"

    def cation_ratio_cd_zn(self) -> float | None:
        """Cd/Zn in the particles (``None`` without zinc)."""
        cd = (self.core_units_mol if self.core in ("CdS", "CdSe", "CdTe") else 0.0) + self.cds_shell_mol
        return cd / self.zns_shell_mol if self.zns_shell_mol > 0 else None

    def surface_area_m2(self) -> float:
        if self.n_mol <= 0:
            return 0.0
        r = self.radius_nm
        return self.n_mol * AVOGADRO * 4.0 * math.pi * r * r * 1e-18

    # -- optics --------------------------------------------------------------------
    def e1_nm(self) -> float:
        if self.alloy is not None:
            return HC_EV_NM / self.alloy.e1s_ev()
        return spectra.e1_nm(self.effective_diameter_nm(), self.core)

    def bands(self, volume_ml: float) -> tuple[list, float, float]:
        if self.n_mol <= 0 or volume_ml <= 0:
            return [], float("nan"), 0.0
        litres = volume_ml * 1e-3
        dispersed = 1.0 - self.flocculated
        per_l = dispersed / litres
        if self.core == "CdS":
            units = {"CdS": (self.core_units_mol + self.cds_shell_mol) * per_l,
                     "ZnS": self.zns_shell_mol * per_l}
        else:
            units = {self.core: self.core_units_mol * per_l, "CdS": self.cds_shell_mol * per_l,
                     "ZnS": self.zns_shell_mol * per_l}
        e1_ev, scale, extra_sigma = None, 1.0 - self.bleach, 0.0
        if self.alloy is not None:
            e1_ev, osc, extra_sigma, units = self.alloy.optics(units)
            scale *= osc
        return spectra.nanocrystal_bands(self.core, self.effective_diameter_nm(), self.sigma_nm,
                                         self.n_mol / litres * dispersed, units, e1_ev=e1_ev,
                                         e1_scale=scale, extra_sigma_ev=extra_sigma)

    def summary(self, volume_ml: float) -> dict:
        r0, r1, r2 = self.radii_nm()
        d_eff = self.effective_diameter_nm()
        lo, hi = spectra.diameter_range_nm(self.core)
        out = {"label": self.label, "core": self.core, "n_nmol": self.n_mol * 1e9,
               "radius_nm": r2, "diameter_nm": 2 * r2, "core_radius_nm": r0,
               "effective_diameter_nm": d_eff, "e1_nm": self.e1_nm(),
               "sigma_rel": self.sigma_nm / r2 if r2 > 0 else 0.0,
               "shell_ml": self.shell_monolayers(), "mn_per_dot": self.mn_per_dot(),
               "mn_site": self.mn_site(), "adsorbed_cd_umol": self.ads_cd_mol * 1e6,
               "adsorbed_zn_umol": self.ads_zn_mol * 1e6, "flocculated": self.flocculated,
               "cd_zn_ratio": self.cation_ratio_cd_zn(),
               "concentration_umol_l": (self.n_mol / (volume_ml * 1e-3) * 1e6
                                        if volume_ml > 0 else 0.0),
               "sizing_extrapolated": not (lo <= d_eff <= hi)}
        return out


def _k(params, temperature_c):
    return arrhenius(params[0], params[1], temperature_c, params[2])


#: monomer pools (CdS, ZnS, CdSe) follow the free species in the state vector
_MONOMERS = ("CdS", "ZnS", "CdSe")
#: population field a monomer deposits into: [material][core is CdSe] (1 core, 2 CdS, 3 ZnS)
_GROWTH_FIELD = kinetics.GROWTH_FIELD
_HEAD = len(_FREE) + len(_MONOMERS)
assert (_HEAD, _FIELDS) == (kinetics.GROWTH_HEAD, kinetics.GROWTH_FIELDS)

#: the compiled derivative's constants (see :mod:`.kinetics`, which holds the equations)
_KINETIC_CONSTANTS = kinetics.parameter_vector(kinetics.GROWTH_CONSTANTS, {
    "surface_capacity_ml": SURFACE_CAPACITY_ML, "small_fraction": SMALL_FRACTION,
    "lsw_width": LSW_WIDTH, "mn_capacity": MN_CAPACITY, "doping_ripening": DOPING_RIPENING,
    "nucleation_j0": NUCLEATION_J0_MOL_L_S, "nucleation_order": NUCLEATION_ORDER,
    "v_cds": SEMICONDUCTORS["CdS"].unit_volume_nm3, "v_zns": SEMICONDUCTORS["ZnS"].unit_volume_nm3,
    "t_ml": SEMICONDUCTORS["CdS"].monolayer_nm,
    "u_nuc_cds": FOUR_PI_3 * NUCLEUS_RADIUS_NM ** 3 / SEMICONDUCTORS["CdS"].unit_volume_nm3,
    "u_nuc_cdse": FOUR_PI_3 * NUCLEUS_RADIUS_NM ** 3 / SEMICONDUCTORS["CdSe"].unit_volume_nm3,
    "four_pi_na": 4.0 * math.pi * AVOGADRO * 1e-18}, [{
        "ads": K_ADS, "ads_zn": K_ADS_ZN, "surf": K_SURF, "surf_zn": K_SURF_ZN,
        "ripen": K_RIPEN, "dope": K_DOPE, "hom_cds": K_HOM["CdS"], "hom_zns": K_HOM["ZnS"],
        "hom_cdse": K_HOM["CdSe"]}[name] for name in kinetics.GROWTH_RATES])
assert len(_KINETIC_CONSTANTS) == kinetics.GROWTH_CONDITIONS


class NanocrystalProcess(Process):
    """Nucleation, growth, SILAR, doping and ripening of nanocrystal populations."""

    name = "nanocrystals"

    def __init__(self):
        self.populations: list[Population] = []
        #: monomer (mol) in solution, by material
        self.monomer_mol = {m: 0.0 for m in _MONOMERS}
        self._cached = None     # (packed y, T, dy) from the last step-limit evaluation
        self.control = StepControl(floor_s=0.05, ceiling_s=1800.0)
        #: per monomer material: quasi-steady this step, and the pool that implies
        self._qss = [False, False, False]
        self._qss_pool = np.zeros(3)   # written by the derivative (kinetics.growth_derivative)
        self._qss_time: float | None = None

    # -- bookkeeping ------------------------------------------------------------------
    def add_population(self, pop: Population) -> Population:
        self.populations.append(pop)
        self.control.reset()
        self._qss_time = None
        return pop

    def main(self) -> Population | None:
        pops = [p for p in self.populations if p.n_mol > REPORT_MIN_MOL]
        if not pops:
            return None
        return max(pops, key=lambda p: p.n_mol * p.volume_nm3())

    def _free(self, liquid) -> list[float]:
        mol = liquid.mol
        return [mol.get(s, 0.0) for s in _FREE]

    def _supplies(self, liquid) -> bool:
        """Can anything react (beyond ripening)?"""
        mol = liquid.mol
        cation = mol.get("Cd", 0.0) > TRACE_MOL or mol.get("Zn", 0.0) > TRACE_MOL
        if cation and (mol.get("S", 0.0) > TRACE_MOL or mol.get("Se", 0.0) > TRACE_MOL):
            return True
        for p in self.populations:
            if p.ads_cd_mol > TRACE_MOL or p.ads_zn_mol > TRACE_MOL:
                return True
            if p.n_mol > 0 and (cation or mol.get("Mn", 0.0) > TRACE_MOL):
                return True
        return any(v > TRACE_MOL for v in self.monomer_mol.values())

    def _quiescent(self, liquid) -> bool:
        """No anion, dopant or monomer: only cation adsorption and ripening can happen."""
        mol = liquid.mol
        return (mol.get("S", 0.0) <= TRACE_MOL and mol.get("Se", 0.0) <= TRACE_MOL
                and mol.get("Mn", 0.0) <= TRACE_MOL
                and all(v <= TRACE_MOL for v in self.monomer_mol.values()))

    def active(self, model) -> bool:
        if self._supplies(model.liquid):
            return True
        # ripening matters only when hot
        return model.temperature_c_now() > 150.0 and any(p.n_mol > 0 for p in self.populations)

    def _nucleation_slot(self, material: str) -> int | None:
        """Index of the population new ``material`` nuclei join (created empty when needed)."""
        for i, p in enumerate(self.populations):
            if p.extra.get("nucleating") == material:
                return i
        grown = any(p.n_mol > REPORT_MIN_MOL for p in self.populations)
        pop = Population(label="secondary nuclei" if grown else "cores", core=material,
                         extra={"nucleating": material})
        self.populations.append(pop)
        return len(self.populations) - 1

    def _prepare_step(self, model) -> None:
        """Make sure nuclei have somewhere to go when monomer can form."""
        cd, s, zn, se, _ = self._free(model.liquid)
        # a nucleation episode ends when the monomer falls below the critical
        # concentration: its particles become an ordinary population, and any later
        # episode (an over-dosed SILAR step) starts a new one
        litres = max(model.liquid.volume_ml, 1e-3) * 1e-3
        for p in self.populations:
            mat = p.extra.get("nucleating")
            if (mat and p.n_mol > REPORT_MIN_MOL
                    and self.monomer_mol[mat] < MONOMER_CRITICAL_MOL_L[mat] * litres):
                p.extra["nucleating"] = None
        if (cd > 0 and s > 0) or self.monomer_mol["CdS"] > 0:
            self._nucleation_slot("CdS")
        if (cd > 0 and se > 0) or self.monomer_mol["CdSe"] > 0:
            self._nucleation_slot("CdSe")

    # -- dynamics -------------------------------------------------------------------------
    def _pack(self, liquid) -> np.ndarray:
        y = self._free(liquid) + [self.monomer_mol[m] for m in _MONOMERS]
        for p in self.populations:
            y += [p.n_mol, p.core_units_mol, p.cds_shell_mol, p.zns_shell_mol, p.sigma_nm,
                  p.ads_cd_mol, p.ads_zn_mol, p.mn_mol]
        return np.array(y)

    def _unpack(self, y: np.ndarray, liquid) -> None:
        y = np.maximum(y, 0.0).tolist()
        for name, v in zip(_FREE, y, strict=False):
            if v > 0 or name in liquid.mol:
                liquid.mol[name] = v
        for m, v in zip(_MONOMERS, y[len(_FREE):_HEAD], strict=False):
            self.monomer_mol[m] = v
        for i, p in enumerate(self.populations):
            (p.n_mol, p.core_units_mol, p.cds_shell_mol, p.zns_shell_mol, p.sigma_nm,
             p.ads_cd_mol, p.ads_zn_mol, p.mn_mol) = y[_HEAD + _FIELDS * i: _HEAD + _FIELDS * (i + 1)]

    def _make_deriv(self, model):
        """The derivative for the present populations, volume, ligands and pool regime."""
        liquid = model.liquid
        key = (liquid.volume_ml, liquid.get("OAm"), tuple(self._qss),
               tuple((p.core, p.extra.get("nucleating")) for p in self.populations))
        return self.bound_derivative(key, lambda: self._build_deriv(model))

    def _build_deriv(self, model) -> kinetics.Derivative:
        """Bind the compiled growth derivative to the present conditions."""
        pops = self.populations
        litres = max(model.liquid.volume_ml, 1e-3) * 1e-3
        amine = 1.0 + AMINE_ACTIVATION_PER_M * model.liquid.concentration_mol_l("OAm")
        conditions = [len(pops), litres, amine, amine / SURFACE_AMINE_REFERENCE]
        conditions += [MONOMER_CRITICAL_MOL_L[m] * litres for m in _MONOMERS]
        conditions += [GROWTH_MOL_M2_S[m] for m in _MONOMERS]
        conditions += [1.0 if q else 0.0 for q in self._qss]
        slots = [-1.0, -1.0]           # nucleation slots of CdS and CdSe
        for i, p in enumerate(pops):
            nucleating = p.extra.get("nucleating")
            if nucleating in ("CdS", "CdSe"):
                slots[nucleating == "CdSe"] = i
        conditions += slots
        for p in pops:
            conditions += [SEMICONDUCTORS[p.core].unit_volume_nm3,
                           1.0 if p.core == "CdSe" else 0.0,
                           1.0 if p.core == "CdS" else 0.0]      # Mn dopes CdS cores
        return kinetics.Derivative(kinetics.GROWTH, np.array(_KINETIC_CONSTANTS + conditions),
                                   self._qss_pool)

    def _atol(self, liquid) -> np.ndarray:
        # below ~1 µmol (of a 0.1–0.2 mmol charge) a species' relative change does not
        # limit the step; its absolute error stays below ~1e-9 mol
        litres = max(liquid.volume_ml, 1e-3) * 1e-3
        tol = [1e-6, 1e-6, 1e-6, 1e-6, 1e-7] + [0.1 * MONOMER_CRITICAL_MOL_L[m] * litres
                                                 for m in _MONOMERS]
        for p in self.populations:
            n = max(p.n_mol, 1e-9)
            units = max(p.core_units_mol + p.cds_shell_mol + p.zns_shell_mol, 1e-6)
            tol += [n, units, units, units, 0.05, units * 0.05, units * 0.05, n]
        return np.array(tol)

    def _choose_qss(self, model, temperature_c: float) -> None:
        """Which monomer pools are in quasi-steady state for the coming step.

        With plenty of particle surface a monomer pool relaxes within seconds
        (rate ``λ = g·A/c_crit``) to the level where deposition equals formation,
        ``m* = c_crit·P/(g·A)``, while everything else changes over minutes: an
        explicit integrator would be held to steps of ~1/λ by that one component.
        A pool with ``λ > QSS_RATE_PER_S`` whose ``m*`` is below
        ``QSS_MAX_SATURATION``·c_crit (no nucleation possible) is therefore taken as
        quasi-steady: all monomer formed deposits at once, shared by surface area.
        It enters once it has relaxed to within 10 % of ``m*``, follows ``m*`` from
        step to step while quasi-steady (the difference deposits on, or comes from,
        the particles with the most surface: mass is conserved), and leaves —
        continuing from its amount — when ``λ`` halves or ``m*`` approaches
        supersaturation (an over-dosed SILAR step).  The lag this neglects,
        ``(dm*/dt)/λ``, is a few per cent of a pool that holds well under 1 % of
        the material.
        """
        if self._qss_time == model.t:
            return                       # already decided for this step
        self._qss_time = model.t
        liquid = model.liquid
        litres = max(liquid.volume_ml, 1e-3) * 1e-3
        a_tot = sum(p.surface_area_m2() for p in self.populations if p.n_mol > 0)
        was = list(self._qss)
        rates = [GROWTH_MOL_M2_S[m] * a_tot / (MONOMER_CRITICAL_MOL_L[m] * litres)
                 for m in _MONOMERS]
        cd, s, zn, se, _ = self._free(liquid)
        fed = [(cd > TRACE_MOL and s > TRACE_MOL), (zn > TRACE_MOL and s > TRACE_MOL),
               (cd > TRACE_MOL and se > TRACE_MOL)]
        candidates = [not was[j] and rates[j] > QSS_RATE_PER_S
                      and (fed[j] or self.monomer_mol[m] > TRACE_MOL)
                      for j, m in enumerate(_MONOMERS)]
        if any(candidates):
            # m* of every pool at the present state (a derivative evaluation with all
            # pools quasi-steady stores it in _qss_pool)
            self._qss = [True, True, True]
            self._make_deriv(model)(self._pack(liquid), temperature_c)
        # otherwise the pools of the quasi-steady ones are those of the last evaluation
        # (the end of the previous step)
        pools = self._qss_pool.tolist()
        choice = []
        for j, m in enumerate(_MONOMERS):
            c_crit = MONOMER_CRITICAL_MOL_L[m] * litres
            ok = (was[j] or candidates[j]) and rates[j] > (0.5 if was[j] else 1.0) * (
                QSS_RATE_PER_S) and pools[j] < QSS_MAX_SATURATION * c_crit
            if ok and not was[j]:
                held = self.monomer_mol[m]
                ok = abs(held - pools[j]) <= 0.1 * pools[j] + 1e-3 * c_crit
                if ok:
                    self._deposit(j, held - pools[j])
                    self.monomer_mol[m] = pools[j]
            choice.append(ok)
        self._qss = choice
        if choice != was:
            self.control.reset()

    def _deposit(self, j: int, amount_mol: float) -> None:
        """Put ``amount_mol`` of monomer ``j`` on the population with the most surface."""
        pops = [p for p in self.populations if p.n_mol > 0]
        if not pops or amount_mol == 0.0:
            return
        p = max(pops, key=lambda q: q.surface_area_m2())
        field_name = ("n_mol", "core_units_mol", "cds_shell_mol", "zns_shell_mol")[
            _GROWTH_FIELD[j][p.core == "CdSe"]]
        setattr(p, field_name, max(0.0, getattr(p, field_name) + amount_mol))

    def step_limit_s(self, model, temperature_c: float) -> float:
        if self._quiescent(model.liquid):
            return self._quiescent_limit(temperature_c)
        self._choose_qss(model, temperature_c)
        h = self.control.next_h
        if h is None:
            # fresh estimate (after a dose, a withdrawal or a new population): a few
            # per cent of the fastest relative rate
            self._prepare_step(model)
            y = self._pack(model.liquid)
            dy = self._make_deriv(model)(y, temperature_c)
            self._cached = (y, temperature_c, dy)
            h = step_from_rates(y, dy, self._atol(model.liquid), fraction=0.03, floor_s=0.05,
                                ceiling_s=1800.0)
        # explicit Runge–Kutta on a monomer pool is stable for h·λ ≲ 3: keep a margin
        lam = 0.0
        for j, m in enumerate(_MONOMERS):
            if self.monomer_mol[m] > 0 and not self._qss[j]:
                litres = max(model.liquid.volume_ml, 1e-3) * 1e-3
                lam = max(lam, GROWTH_MOL_M2_S[m] / (MONOMER_CRITICAL_MOL_L[m] * litres))
        if lam > 0:
            a_tot = sum(p.surface_area_m2() for p in self.populations if p.n_mol > 0)
            if a_tot > 0:
                h = min(h, 1.5 / (lam * a_tot))
        return h

    def on_dose(self, model, species: str) -> None:
        self.control.reset()
        self._qss_time = None

    def advance(self, model, dt_s, t0_c, tmid_c, t1_c) -> None:
        if self._quiescent(model.liquid):
            self._advance_quiescent(model, dt_s, t0_c, tmid_c, t1_c)
            self.control.reset()
            return
        npop = len(self.populations)
        self._prepare_step(model)
        if len(self.populations) != npop:
            self.control.reset()
        self._choose_qss(model, t0_c)
        y0 = self._pack(model.liquid)
        cached = self._cached
        # the step limit already evaluated the derivative here: reuse it as the first stage
        k1 = (cached[2] if cached is not None and cached[1] == t0_c
              and np.array_equal(cached[0], y0) else None)
        self._cached = None
        y = self.control.step(self._make_deriv(model), y0, dt_s, model, self._atol(model.liquid),
                              k1=k1)
        self._unpack(y, model.liquid)
        for j, m in enumerate(_MONOMERS):
            if self._qss[j]:
                # the pool follows its quasi-steady level (the step's last derivative
                # evaluation, at its end); what it gives up deposits, what it gains comes
                # from the deposit: mass is conserved
                pool = float(self._qss_pool[j])
                self._deposit(j, self.monomer_mol[m] - pool)
                self.monomer_mol[m] = pool
        for p in self.populations:
            if p.mn_mol > 0 and p.cds_shell_at_doping_nm is None:
                r0, r1, _ = p.radii_nm()
                p.cds_shell_at_doping_nm = r1 - r0
        # drop empty nucleation slots when nothing can nucleate any more
        if not self._supplies(model.liquid):
            self.populations = [p for p in self.populations if p.n_mol > 1e-18]
            self.control.reset()

    # -- quiescent fast path: no anion, no dopant, no monomer -------------------------------
    def _quiescent_limit(self, temperature_c: float) -> float:
        k = _k(K_RIPEN, temperature_c)
        h = 3600.0
        for p in self.populations:
            if p.n_mol > 0 and k > 0:
                h = min(h, 0.02 * p.radius_nm ** 3 / k)
        return max(h, 1.0)

    def _advance_quiescent(self, model, dt_s, t0_c, tmid_c, t1_c) -> None:
        """Cation adsorption and ripening, integrated analytically.

        Without an anion nothing is deposited, so the only processes are cation
        adsorption (first order towards the surface capacity) and Ostwald ripening,
        whose LSW law ⟨r⟩³ += ∫K dt is exact; ∫K dt uses Simpson's rule on the exact
        temperature path.  This keeps long hot holds cheap.
        """
        liquid = model.liquid
        pops = [p for p in self.populations if p.n_mol > 0]
        self.populations = pops
        if not pops:
            return
        t_ml = SEMICONDUCTORS["CdS"].monolayer_nm
        v_cds = SEMICONDUCTORS["CdS"].unit_volume_nm3
        # adsorption towards the surface capacity, shared by surface area (first order)
        act = (1.0 + AMINE_ACTIVATION_PER_M * liquid.concentration_mol_l("OAm")) / (
            SURFACE_AMINE_REFERENCE)
        for cation, attr, kpar in (("Cd", "ads_cd_mol", K_ADS), ("Zn", "ads_zn_mol", K_ADS_ZN)):
            free = liquid.get(cation)
            if free <= TRACE_MOL:
                continue
            k_int = dt_s / 6.0 * (_k(kpar, t0_c) + 4.0 * _k(kpar, tmid_c) + _k(kpar, t1_c))
            free *= 1.0 - math.exp(-act * k_int)
            areas = [p.surface_area_m2() for p in pops]
            total_area = sum(areas)
            for p, a in zip(pops, areas, strict=False):
                r = p.radius_nm
                cap = SURFACE_CAPACITY_ML * p.n_mol * FOUR_PI_3 * ((r + t_ml) ** 3 - r ** 3) / v_cds
                room = max(0.0, cap - p.ads_cd_mol - p.ads_zn_mol)
                take = min(room, free * a / total_area)
                setattr(p, attr, getattr(p, attr) + take)
                liquid.mol[cation] -= take
        k_int = dt_s / 6.0 * (_k(K_RIPEN, t0_c) + 4.0 * _k(K_RIPEN, tmid_c) + _k(K_RIPEN, t1_c))
        if k_int <= 0.0:
            return
        r_max = max(p.radius_nm for p in pops)
        big = max(pops, key=lambda p: p.radius_nm)
        for p in pops:
            r = p.radius_nm
            r3 = r ** 3
            if r < SMALL_FRACTION * r_max and p is not big:
                keep = math.exp(-3.0 * k_int / r3)
                lost = (1.0 - keep)
                big.core_units_mol += lost * p.core_units_mol if p.core == big.core else 0.0
                big.cds_shell_mol += lost * (p.cds_shell_mol + (
                    p.core_units_mol if p.core != big.core else 0.0))
                big.zns_shell_mol += lost * p.zns_shell_mol
                p.n_mol *= keep
                p.core_units_mol *= keep
                p.cds_shell_mol *= keep
                p.zns_shell_mol *= keep
            else:
                p.n_mol *= r3 / (r3 + k_int)
                p.sigma_nm += (LSW_WIDTH * r - p.sigma_nm) * (1.0 - math.exp(-2.0 * k_int / r3))

    def scale(self, keep: float) -> None:
        self.control.reset()
        self._qss_time = None
        for m in self.monomer_mol:
            self.monomer_mol[m] *= keep
        for p in self.populations:
            p.n_mol *= keep
            p.core_units_mol *= keep
            p.cds_shell_mol *= keep
            p.zns_shell_mol *= keep
            p.ads_cd_mol *= keep
            p.ads_zn_mol *= keep
            p.mn_mol *= keep

    # -- optics -----------------------------------------------------------------------------
    def bands(self, model) -> list:
        v = model.liquid.volume_ml
        out = []
        for p in self.populations:
            if p.n_mol > 1e-15:
                b, _, _ = p.bands(v)
                out += b
                if p.flocculated > 0:
                    # flocs: extinction by scattering of the particle mass they hold
                    mass = (p.core_units_mol + p.cds_shell_mol + p.zns_shell_mol) / (v * 1e-3)
                    out.append(spectra.scattering(900.0 * mass * p.flocculated, 1.2))
        return out

    def emission_lines(self, model, excitation_nm: float) -> list:
        v = model.liquid.volume_ml
        lines = []
        for p in self.populations:
            if p.n_mol <= 1e-15 or p.flocculated >= 1.0:
                continue
            bands, _, sigma = p.bands(v)
            absorbed = spectra.absorbance_at(bands, excitation_nm)
            if absorbed <= 0:
                continue
            if p.alloy is not None:
                lines += p.alloy.emission(absorbed)
                continue
            e1 = HC_EV_NM / p.e1_nm()
            has_shell = p.zns_shell_mol > 0 or (p.core != "CdS" and p.cds_shell_mol > 0)
            qy = QY_SHELLED if has_shell else QY_BARE
            mn = p.mn_per_dot()
            # energy transfer to Mn²⁺ competes with exciton emission (≈ 1 - e^-mn/3)
            to_mn = 1.0 - math.exp(-mn / 3.0) if mn > 0 else 0.0
            if p.core == "CdS" and e1 < 2.2:
                to_mn = 0.0     # gap below the Mn ⁴T₁ level: no transfer
            lines.append(("g", e1 - STOKES_EV.get(p.core, 0.03), sigma,
                          absorbed * qy * (1.0 - to_mn) * (1.0 - p.flocculated)))
            if to_mn > 0:
                lines.append(("g", MN_PL_EV, MN_PL_SIGMA_EV,
                              absorbed * 0.4 * to_mn * (1.0 - p.flocculated)))
        return lines

    def state(self, model) -> dict:
        v = model.liquid.volume_ml
        pops = [p.summary(v) for p in self.populations if p.n_mol > REPORT_MIN_MOL]
        main = self.main()
        out = {"populations": pops}
        if main is not None:
            s = main.summary(v)
            out.update({"e1_nm": s["e1_nm"], "radius_nm": s["radius_nm"],
                        "diameter_nm": s["diameter_nm"], "sigma_rel": s["sigma_rel"],
                        "shell_ml": s["shell_ml"], "mn_per_dot": s["mn_per_dot"],
                        "particles_nmol": s["n_nmol"]})
            secondary = [p for p in self.populations if p is not main and p.n_mol > REPORT_MIN_MOL]
            out["secondary_particles_nmol"] = sum(p.n_mol for p in secondary) * 1e9
        return out
