"""Cation exchange CdSe → HgSe / HgₓCd₁₋ₓSe (SCIENCE.md E).

A CdSe population exchanges its cations with Hg²⁺ from solution in two steps:

1. **Surface exchange** of an outer layer ``SURFACE_LAYER_NM`` thick (≈ 1.3
   monolayers — what exchanges within minutes without interdiffusion):
   ``dx_s/dt = k_x(T)·a_Hg·(1 − x_s)``, with ``a_Hg = h/(h + 0.1)``, ``h`` the
   free Hg per cation site, reduced by thiol complexation (below).  Each
   exchanged site takes one Hg from solution and releases one Cd
   (``"Cd_released"``, kept apart from precursor Cd).
2. **Fickian interdiffusion** inside the particle, on ``SHELLS`` concentric
   shells (finite volumes in spherical geometry), with
   ``D = D_IE · exp(−Ea/R (1/T − 1/353 K)) · f_Ag · f_thiol``.

Published anchors (SCIENCE.md E) and how they fix the constants:

* D ≈ 1e-22 m²/s at 80 °C for IE-CE (0.075 Ag per Cd, thiol present): ``D_IE``.
* "≈ 1000× smaller at room temperature without thiol": Ea = 70 kJ/mol gives
  ×0.0123 from 80 to 25 °C, and no thiol ×0.081 (the product 1e-3).
* Hg only stalls (incomplete after > 48 h): without Ag, interdiffusion runs at
  ``NO_AG_FACTOR`` = 1e-3 of the Ag-mediated value (Ag⁺ interstitials supply
  the vacancies that carry the exchange); the surface layer alone then gives a
  core/shell particle.
* Ag beyond 0.075 per Cd slows exchange and broadens the spectra:
  ``f_Ag = 1e-3 + (a/0.075)·exp(1 − a/0.075)`` peaks at the published optimum;
  excess Ag also slows the surface step (×1/(1 + (a/0.075 − 1)₊)) and adds
  spectral width.
* Excess thiol stops exchange: DDT binds the metal ions in solution
  (≈ M(SR)₂; the Cd released competes with Hg), so the free Hg fraction is
  ``1/(1 + (DDT/(2·(Hg + Cd_released)))¹⁶)`` — ≈ 1 at the standard 0.6–1.5
  equiv DDT against 1.5 equiv Hg, 1 % at 4 equiv, nothing left at 6.
* > 100 °C the particles ripen and flocculate: the flocculated fraction grows at
  ``(T − 100)/20 per 10 min``; flocs scatter and their excitons wash out.

Optics
------
1S–1S energy of an alloy: linear interpolation between CdSe (the sizing curve
at the particle's diameter) and HgSe (−0.06 eV bulk gap + 11.8 eV nm² / d²:
1.17 eV at 3.1 nm) — "band gaps interpolate between 1.74 and −0.06 eV with
confinement".  For a graded particle the composition entering that formula is
the volume average of x weighted by (1 + 0.5·x): the band-edge state leans
into the low-gap Hg-rich regions.  A core/shell intermediate (Hg-rich surface
layer on a CdSe core) has its 1S–1S oscillator strength reduced by up to 67 %
(``1 − 0.67·h``, h the surface–core composition difference), as published.
PL: Stokes shift 0.03 + 0.01·x eV (PL 2.21 → 1.13 eV), σ from size dispersion
plus composition disorder (0.062·h for a core/shell, 0.033·x for the alloy)
and Ag excess, which gives PL FWHM ≈ 120 meV for the IE-CE alloy and
≈ 180 meV for the Hg-only core/shell (published 109–143 and 167–196 meV);
quantum yield 5 % for the bare CdSe cores, up to 18 % for a homogeneous alloy,
∝ (1 − h)⁴ (core/shell: < 1 %).

With these values the model gives 2.24 → ≈ 1.50 eV after 1 h and stalling for
Hg only, 2.24 → ≈ 1.24 eV after 1 h and complete in ≈ 4 h with Ag (see
:mod:`.fidelity`).
"""

from __future__ import annotations

import math

import numpy as np

from . import kinetics, spectra
from .base import Process, StepControl, step_from_rates
from .materials import HC_EV_NM, SEMICONDUCTORS

SHELLS = 6
SURFACE_LAYER_NM = 0.45
D_IE_NM2_S = 1.0e-4                 # 1e-22 m²/s at 80 °C
D_EA_KJ_MOL = 70.0
NO_THIOL_FACTOR = 0.081
NO_AG_FACTOR = 1.0e-3
AG_OPTIMUM_PER_CD = 0.075
K_SURFACE_EXCHANGE = (1.0 / 300.0, 60.0, 80.0)   # 1/s at 80 °C, Ea, ref °C
K_AG_UPTAKE = 1.0 / 60.0                            # Ag⁺ enters the lattice within minutes
K_AG_EXTRACTION = (1.0 / 2400.0, 60.0, 50.0)        # TOP strips Ag (50 °C, 2 h: ≈ 95 %)
THIOL_ORDER = 16
HG_HALF_SATURATION = 0.1            # free Hg per site at half the surface rate
E_HGSE_CONFINEMENT_EV_NM2 = 11.8
BULK_GAP_EV = {"CdSe": 1.74, "HgSe": -0.06}
LOCALISATION = 0.25
OSCILLATOR_LOSS = 0.67
FLOC_ONSET_C = 100.0
#: the compiled derivative's constants (see :mod:`.kinetics`, which holds the equations)
_KINETIC_CONSTANTS = kinetics.parameter_vector(kinetics.EXCHANGE_CONSTANTS, {
    "d_ie_nm2_s": D_IE_NM2_S, "d_ea": D_EA_KJ_MOL, "no_ag_factor": NO_AG_FACTOR,
    "ag_optimum_per_cd": AG_OPTIMUM_PER_CD, "no_thiol_factor": NO_THIOL_FACTOR,
    "thiol_order": THIOL_ORDER, "hg_half_saturation": HG_HALF_SATURATION,
    "k_x": K_SURFACE_EXCHANGE[0], "k_x_ea": K_SURFACE_EXCHANGE[1],
    "k_x_ref_c": K_SURFACE_EXCHANGE[2], "k_ag_uptake": K_AG_UPTAKE,
    "k_ag_ext": K_AG_EXTRACTION[0], "k_ag_ext_ea": K_AG_EXTRACTION[1],
    "k_ag_ext_ref_c": K_AG_EXTRACTION[2], "floc_onset_c": FLOC_ONSET_C})
assert len(_KINETIC_CONSTANTS) == kinetics.EXCHANGE_CONDITIONS
_CONSTANTS_ARRAY = np.array(_KINETIC_CONSTANTS)


def interdiffusion_nm2_s(temperature_c: float, ag_per_cd: float, thiol: bool) -> float:
    """Hg/Cd interdiffusion coefficient (nm²/s): Arrhenius, Ag-assisted (optimum at
    AG_OPTIMUM_PER_CD), slowed without thiol (the derivative's own formula)."""
    return kinetics.interdiffusion_nm2_s(_CONSTANTS_ARRAY, float(temperature_c),
                                         float(ag_per_cd), bool(thiol))


class AlloyState:
    """Radial Hg profile of one exchanging population (the optics the population asks for)."""

    def __init__(self, pop, process):
        self.pop = pop
        self.process = process
        self.x = [0.0] * SHELLS
        self.ag_mol = 0.0
        self._geometry()

    def _geometry(self):
        r_out = self.pop.radius_nm
        r_in = max(r_out - SURFACE_LAYER_NM, 0.3 * r_out)
        edges = [r_in * k / (SHELLS - 1) for k in range(SHELLS)] + [r_out]
        self.edges = edges
        vols = [edges[k + 1] ** 3 - edges[k] ** 3 for k in range(SHELLS)]
        total = sum(vols)
        self.vfrac = [v / total for v in vols]
        self.radius_nm = r_out

    # -- composition ------------------------------------------------------------------
    def sites_mol(self) -> float:
        return self.pop.core_units_mol

    def x_mean(self) -> float:
        return sum(v * x for v, x in zip(self.vfrac, self.x, strict=False))

    def x_effective(self) -> float:
        w = [v * (1.0 + LOCALISATION * x) for v, x in zip(self.vfrac, self.x, strict=False)]
        return sum(wi * x for wi, x in zip(w, self.x, strict=False)) / sum(w)

    def inhomogeneity(self) -> float:
        """Surface-layer minus inner-half composition (0 homogeneous, 1 HgSe on CdSe)."""
        inner_v = self.vfrac[: SHELLS // 2]
        inner = sum(v * x for v, x in zip(inner_v, self.x[: SHELLS // 2], strict=False)) / max(sum(inner_v), 1e-12)
        return min(1.0, max(0.0, self.x[-1] - inner))

    def ag_per_cd(self) -> float:
        sites = self.sites_mol()
        return self.ag_mol / sites if sites > 0 else 0.0

    # -- optics -------------------------------------------------------------------------
    def e1s_ev(self, x_eff: float | None = None) -> float:
        d = 2.0 * self.radius_nm
        e_cdse = HC_EV_NM / spectra.e1_nm(d, "CdSe")
        e_hgse = BULK_GAP_EV["HgSe"] + E_HGSE_CONFINEMENT_EV_NM2 / (d * d)
        x = self.x_effective() if x_eff is None else x_eff
        return (1.0 - x) * e_cdse + x * e_hgse

    def oscillator_factor(self) -> float:
        return 1.0 - OSCILLATOR_LOSS * self.inhomogeneity()

    def extra_sigma_ev(self) -> float:
        ag_excess = max(0.0, self.ag_per_cd() / AG_OPTIMUM_PER_CD - 1.0)
        x = self.x_mean()
        return math.sqrt((0.062 * self.inhomogeneity()) ** 2 + (0.033 * x) ** 2
                         + (0.02 * ag_excess) ** 2)

    def optics(self, units: dict) -> tuple:
        """(E1 eV, oscillator factor, extra σ eV, continuum units by material).

        The CdSe and HgSe units are each given as ``[(units, own edge eV)]``: the
        unit-weighted mean over the radial shells of the band edge that shell's
        composition would have on its own (:meth:`e1s_ev` at that x).  A
        homogeneous alloy has one edge, its E1; a Hg-rich shell on a CdSe core
        has the CdSe core absorbing from the CdSe edge, well above the core/shell
        1S–1S (see :func:`.spectra.nanocrystal_bands`).
        """
        total = units.get("CdSe", 0.0)
        out = dict(units)
        cd = hg = cd_edge = hg_edge = 0.0
        for v, x in zip(self.vfrac, self.x, strict=False):
            edge = self.e1s_ev(x)
            cd += v * (1.0 - x)
            hg += v * x
            cd_edge += v * (1.0 - x) * edge
            hg_edge += v * x * edge
        e_cdse = self.e1s_ev(0.0)
        cd_edge = cd_edge / cd if cd > 0 else e_cdse
        hg_edge = hg_edge / hg if hg > 0 else e_cdse
        osc = self.oscillator_factor()
        out["CdSe"] = [(total * cd, cd_edge)]
        # near the edge the Hg-rich region's transitions share the 1S–1S's reduced
        # electron–hole overlap; above the CdSe region's own edge they are bulk-like
        out["HgSe"] = [(total * hg * osc, hg_edge), (total * hg * (1.0 - osc), cd_edge)]
        return self.e1s_ev(), self.oscillator_factor(), self.extra_sigma_ev(), out

    def stokes_ev(self) -> float:
        return 0.03 + 0.01 * self.x_effective()

    def quantum_yield(self) -> float:
        x = self.x_effective()
        h = self.inhomogeneity()
        return (1.0 - x) * 0.05 * (1.0 - h) + x * 0.18 * (1.0 - h) ** 4

    def pl_sigma_ev(self) -> float:
        _, _, sigma = self.pop.bands(1.0)
        return sigma

    def emission(self, absorbed: float) -> list:
        qy = self.quantum_yield() * (1.0 - self.pop.flocculated)
        return [("g", self.e1s_ev() - self.stokes_ev(), self.pl_sigma_ev(), absorbed * qy)]

    def summary(self) -> dict:
        e = self.e1s_ev()
        sigma = self.pl_sigma_ev()
        return {"e1s_ev": e, "e1s_nm": HC_EV_NM / e, "x_mean": self.x_mean(),
                "x_effective": self.x_effective(), "x_surface": self.x[-1],
                "x_profile": list(self.x), "inhomogeneity": self.inhomogeneity(),
                "oscillator_factor": self.oscillator_factor(), "ag_per_cd": self.ag_per_cd(),
                "pl_ev": e - self.stokes_ev(), "pl_fwhm_mev": 2354.8 * sigma,
                "quantum_yield": self.quantum_yield(), "flocculated": self.pop.flocculated}


class ExchangeProcess(Process):
    """Hg / Ag cation exchange of CdSe nanocrystals with interdiffusion."""

    name = "exchange"

    def __init__(self, nanocrystals):
        self.nanocrystals = nanocrystals
        self.alloy: AlloyState | None = None
        self.control = StepControl(floor_s=0.05, ceiling_s=1800.0)

    def attach(self, pop) -> AlloyState:
        """Follow exchange in ``pop`` (a CdSe population)."""
        if pop.core != "CdSe":
            raise ValueError(f"cation exchange is modelled for CdSe cores, not {pop.core}")
        self.alloy = pop.alloy = AlloyState(pop, self)
        return self.alloy

    def on_dose(self, model, species: str) -> None:
        self.control.reset()
        if species in ("Hg", "Ag") and self.alloy is None:
            cdse = [p for p in self.nanocrystals.populations if p.core == "CdSe" and p.n_mol > 0]
            if cdse:
                self.attach(max(cdse, key=lambda p: p.n_mol))

    def active(self, model) -> bool:
        if self.alloy is None or self.alloy.pop.n_mol <= 0:
            return False
        liq = model.liquid
        return (liq.get("Hg") > 1e-12 or liq.get("Ag") > 1e-12 or self.alloy.ag_mol > 1e-15
                or any(x > 1e-9 for x in self.alloy.x)
                or (model.temperature_c_now() > FLOC_ONSET_C and self.alloy.pop.flocculated < 1))

    # -- kinetics ---------------------------------------------------------------------
    def _make_deriv(self, model) -> kinetics.Derivative:
        """Bind the compiled exchange derivative to the present particles (rebuilt only
        when they, the thiol or the TOP change)."""
        alloy = self.alloy
        liq = model.liquid
        conditions = [SHELLS, max(alloy.sites_mol(), 1e-30),
                      alloy.radius_nm ** 3,      # (4π/3 cancels with the shells')
                      liq.get("DDT"), liq.get("TOP"), 1.0 if self._thiol(model) else 0.0]
        return self.bound_derivative((alloy, *conditions), lambda: kinetics.Derivative(
            kinetics.EXCHANGE, np.array(_KINETIC_CONSTANTS + conditions + list(alloy.edges)
                                        + list(alloy.vfrac))))

    def _thiol(self, model) -> bool:
        """Enough thiol to keep the exchange going (> 0.3 per site)."""
        return model.liquid.get("DDT") > 0.3 * max(self.alloy.sites_mol(), 1e-30)

    def _stability_rate(self, model, temperature_c: float) -> float:
        """Fastest relaxation rate of the shell diffusion (explicit Runge–Kutta needs h·λ ≲ 3)."""
        alloy = self.alloy
        a = alloy.ag_mol / max(alloy.sites_mol(), 1e-30)
        d_coef = interdiffusion_nm2_s(temperature_c, a, self._thiol(model))
        return 4.0 * d_coef / (min(alloy.edges[1] - alloy.edges[0], SURFACE_LAYER_NM) ** 2)

    def _pack(self, model) -> np.ndarray:
        liq = model.liquid
        return np.array(list(self.alloy.x) + [liq.get("Hg"), liq.get("Ag"), self.alloy.ag_mol,
                                              liq.get("Cd_released"),
                                              self.alloy.pop.flocculated])

    def _unpack(self, y: np.ndarray, model) -> None:
        y = np.maximum(y, 0.0).tolist()
        self.alloy.x = [min(1.0, v) for v in y[:SHELLS]]
        liq = model.liquid
        for name, v in zip(("Hg", "Ag"), y[SHELLS:SHELLS + 2], strict=False):
            liq.mol[name] = v
        self.alloy.ag_mol = y[SHELLS + 2]
        liq.mol["Cd_released"] = y[SHELLS + 3]
        self.alloy.pop.flocculated = min(1.0, y[SHELLS + 4])

    def _scale(self) -> np.ndarray:
        sites = self.alloy.sites_mol()
        return np.array([0.02] * SHELLS + [0.02 * sites] * 4 + [0.02])

    def step_limit_s(self, model, temperature_c: float) -> float:
        h = self.control.next_h
        if h is None:       # first step after a change: a few per cent of the fastest rate
            y = self._pack(model)
            dy = self._make_deriv(model)(y, temperature_c)
            h = step_from_rates(y, dy, self._scale(), fraction=0.02, floor_s=0.05,
                                ceiling_s=1800.0)
        lam = self._stability_rate(model, temperature_c)
        if lam > 0:
            # explicit Dormand–Prince on the shell diffusion is stable for h·λ ≤ 3.3: the
            # same ×1.4 margin RK4 had at 2.0 (its limit is 2.79)
            h = min(h, 2.35 / lam)
        return h

    def advance(self, model, dt_s, t0_c, tmid_c, t1_c) -> None:
        y = self.control.step(self._make_deriv(model), self._pack(model), dt_s, model,
                              self._scale())
        self._unpack(y, model)

    def scale(self, keep: float) -> None:
        self.control.reset()
        if self.alloy is not None:
            self.alloy.ag_mol *= keep

    def state(self, model) -> dict:
        if self.alloy is None or self.alloy.pop.n_mol <= 0:
            return {}
        out = self.alloy.summary()
        sites = self.alloy.sites_mol()
        liq = model.liquid
        out["hg_free_per_cd"] = liq.get("Hg") / sites if sites > 0 else 0.0
        out["diffusion_m2_s"] = interdiffusion_nm2_s(
            model.temperature_c_now(), self.alloy.ag_per_cd(), self._thiol(model)) * 1e-18
        out["complete"] = out["x_mean"] > 0.9 and out["inhomogeneity"] < 0.05
        return out


__all__ = ["ExchangeProcess", "AlloyState", "SEMICONDUCTORS"]
