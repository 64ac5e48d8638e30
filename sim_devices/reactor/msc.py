"""CdTe magic-sized clusters and their reaction zones (SCIENCE.md C).

Species (amounts in mol of Te units, whole flask):

======  ===================================================================
Te      TOPTe not yet reacted
I       Cd–Te monomer / pre-nucleation clusters (invisible)
P       the broad ≈ 430 nm precursor complex (forms when amine is lacking)
M449    magic-sized clusters, 449 / 405 nm (non-emissive)
M469    second magic-sized family, 469 / 427 nm
Q       CdTe quantum dots (broad band 490–550 nm, the PL of the system)
M480    weak sharp ≈ 480 nm species (only at high temperature)
M550    weak sharp ≈ 550 nm species (only at high temperature)
lost    Te lost to a side reaction (TOPTe decomposition; invisible)
======  ===================================================================

Reactions (rates per second; ``c_X`` the concentration of X in M):

``Te → I``
    ``k1 · A(T) · [TOP]/0.424 M · 1/(1 + ([OAm]/0.6 M)²) · Cd/(Cd + 0.02 Te₀)``.
    TOP activates TOPTe (no added TOP: nothing happens; more: faster); amine
    binds Cd and slows it (25 → 50 mmol slower); Cd:Te 0.6 and 1.2 react at the
    same rate, 0.6 running out of Cd.  ``A(T)`` is a precursor-activation step
    switching on between 60 and 80 °C (logistic, mid 70 °C, width 4 °C) times a
    weak Arrhenius term (20 kJ/mol): nothing at 50 °C in a day, only ≈ 2×
    faster at 150 °C than at 100 °C, as the published timings require.
``Te → lost``
    ``k_side`` (τ ≈ 10 h): the competing loss that makes slower conditions give
    *lower* MSC yields as well (TOP and OAm rows: "rate and yield").
``I → M449``
    nucleation-limited: ``k2 · I · s⁶/(1 + s⁶) · OAm_free/(OAm_free + K)`` with
    ``s = I/I_c`` (I_c = 35 % of the standard 20 mM): the monomer builds up
    before clusters appear (ODE: none at 0.5 h, sharp 449 nm at 1 h; TOP 5 mmol:
    only after 4 h).  Each cluster unit binds ``N_OAM`` = 12 OAm, so 6 mmol
    OAm runs out (449 + 430 mixture) while ≥ 12.6 mmol suffices for 1 mmol Te
    (pure MSC) — the published zone boundary.
``I → P``
    ``k_P · I`` (τ ≈ 20 h): without free amine the monomer slowly becomes the
    broad 430 nm complex (OAm 0: it "grows for 24 h").
``M449 → M469``
    ``k3 · (solv + 0.55·ex²)`` with ``ex`` the Cd excess over Te (per standard
    Te): ODE/octane convert (≈ 3 h), toluene does not — except with excess Cd
    (Cd:Te 2.4 partly, 4.8 faster than the clusters form: no 449 at all).
``M449 → Q``, ``M469 → Q``
    ``k4 · (solv + 0.09·ex²)`` (QDs minor at 100 °C, dominant at 150 °C: Ea
    90 kJ/mol) and ``k4b`` (Ea 180 kJ/mol: 469 is stable at 100 °C, dissolves
    at 150 °C).  Above ≈ 130 °C 8 % each of the QD-bound flux is trapped as
    the weak sharp 480 and 550 nm species.

QD size and PL: new QDs appear at ``D_start`` and relax to ``D_end`` (both
from the published band positions: 490 → 522 nm at 100 °C in ODE, 530 → 550
nm at 150 °C, +0.16 nm per unit Cd excess), with a relative dispersion
relaxing to 7 % at 100 °C (PL narrows and brightens) and 25 % at 150 °C; the
PL sits ``0.045 + 1.1·(σ_rel − 0.10)₊`` eV below the QD band (500 → 532 nm at
100 °C; 547 → ≈ 600 nm at 150 °C) with a quantum yield rising from 5 % to 30 %
(τ 6 h).

Optics: MSC lines as Gaussians (σ 0.045 eV; ε 2000 L mol⁻¹ cm⁻¹ per Te unit
at E1, E2 60 % of E1), the 430 nm complex as a broad band (σ 0.16 eV, ε 700),
QDs through the CdTe sizing curve and extinction of Yu et al.

All rate constants are calibrated to the zones table and timeline of SCIENCE.md
C at the standard concentrations (see :mod:`.fidelity`); they are not
mechanistic values.
"""

from __future__ import annotations

import math

import numpy as np

from . import kinetics, spectra
from .base import Process, StepControl, step_from_rates
from .materials import HC_EV_NM, SEMICONDUCTORS

HOUR = 3600.0
TE_STANDARD_M = 0.020                 # 1 mmol Te in 50 mL
TOP_STANDARD_M = 21.2e-3 / 0.050      # 0.424 M
OAM_INHIBITION_M = 0.6
K1_PER_H = 2.2                        # at 100 °C, full activation, standard TOP, no OAm
K1_EA = 10.0
ACTIVATION_MID_C, ACTIVATION_WIDTH_C = 70.0, 4.0
K_SIDE_PER_H = (0.10, 40.0)           # (at 100 °C, Ea)
K2_PER_H = 12.0
CLUSTER_GROWTH = 1.0
TOP_ORDER = 1.5
QD_AUTOCATALYSIS = 0.1
K_AUTO_PER_H = (0.02, 100.0)
EX_ORDER = 8
I_CRITICAL = 0.45                     # × standard Te concentration
OAM_HALF_MOL = 0.5e-3
N_OAM = 12.0
K_P_PER_H = 0.05
K3_PER_H = (0.10, 0.0)
K4_PER_H = (0.06, 30.0)
K4B_PER_H = (2.0, 180.0, 150.0)
EX_CONVERSION, EX_QD = 0.014, 0.09
SOLVENT_CONVERSION = {"ODE": 1.0, "octane": 1.0, "toluene": 0.0}
MINOR_SPECIES_FRACTION = 0.08
MINOR_MID_C = 130.0
# QD size (nm) and dispersion targets
QD_D_START = {100.0: 2.04, 150.0: 2.98}     # 490 nm, 530 nm
QD_D_END = {100.0: 2.85, 150.0: 3.24}       # 522 nm, 550 nm
QD_D_START_PER_EX, QD_D_END_PER_EX = 0.15, 0.013
QD_RELAX_PER_H = (0.20, 0.15)               # 1/h at 100 and 150 °C
QD_SIGMA_START, QD_SIGMA_END = 0.12, {100.0: 0.07, 150.0: 0.25}
QD_QY_START, QD_QY_END, QD_QY_TAU_H = 0.05, 0.30, 6.0
# optics
MSC_LINES = {  # species: (E1 nm, E2 nm, E2/E1)
    "M449": (449.0, 405.0, 0.6), "M469": (469.0, 427.0, 0.6),
    "M480": (480.0, 440.0, 0.5), "M550": (550.0, 505.0, 0.5)}
MSC_SIGMA_EV = 0.055
MSC_EPSILON = 2000.0
P_NM, P_SIGMA_EV, P_EPSILON = 430.0, 0.16, 700.0

_SPECIES = ("Te", "I", "P", "M449", "M469", "Q", "M480", "M550", "lost")
_IDX = {s: i for i, s in enumerate(_SPECIES)}
_EXTRA = ("D", "sigma", "age")       # QD diameter, relative dispersion, QD age (h-weighted)


def _at_100_and_150(table: dict) -> tuple[float, float]:
    """A table of values at 100 and 150 °C (linear between, constant outside)."""
    if sorted(table) != [100.0, 150.0]:
        raise ValueError(f"the cluster kinetics interpolate between 100 and 150 °C, not {table}")
    return table[100.0], table[150.0]


#: the compiled derivative's constants (see :mod:`.kinetics`, which holds the equations)
_KINETIC_CONSTANTS = kinetics.parameter_vector(kinetics.CLUSTER_CONSTANTS, {
    "k1_per_s": K1_PER_H / HOUR, "k1_ea": K1_EA, "activation_mid_c": ACTIVATION_MID_C,
    "activation_width_c": ACTIVATION_WIDTH_C, "k_side_per_s": K_SIDE_PER_H[0] / HOUR,
    "k_side_ea": K_SIDE_PER_H[1], "k2_per_s": K2_PER_H / HOUR, "cluster_growth": CLUSTER_GROWTH,
    "qd_autocatalysis": QD_AUTOCATALYSIS, "k_auto_per_s": K_AUTO_PER_H[0] / HOUR,
    "k_auto_ea": K_AUTO_PER_H[1], "oam_half_mol": OAM_HALF_MOL, "n_oam": N_OAM,
    "k_p_per_s": K_P_PER_H / HOUR, "k3_per_s": K3_PER_H[0] / HOUR, "k3_ea": K3_PER_H[1],
    "k4_per_s": K4_PER_H[0] / HOUR, "k4_ea": K4_PER_H[1], "k4b_per_s": K4B_PER_H[0] / HOUR,
    "k4b_ea": K4B_PER_H[1], "k4b_ref_c": K4B_PER_H[2], "minor_fraction": MINOR_SPECIES_FRACTION,
    "minor_mid_c": MINOR_MID_C, "d_start_per_ex": QD_D_START_PER_EX,
    "d_end_per_ex": QD_D_END_PER_EX, "sigma_start": QD_SIGMA_START,
    "relax_per_s_100": QD_RELAX_PER_H[0] / HOUR, "relax_per_s_150": QD_RELAX_PER_H[1] / HOUR,
    "d_start_100": _at_100_and_150(QD_D_START)[0], "d_start_150": _at_100_and_150(QD_D_START)[1],
    "d_end_100": _at_100_and_150(QD_D_END)[0], "d_end_150": _at_100_and_150(QD_D_END)[1],
    "sigma_end_100": _at_100_and_150(QD_SIGMA_END)[0],
    "sigma_end_150": _at_100_and_150(QD_SIGMA_END)[1]})
assert len(_KINETIC_CONSTANTS) == kinetics.CLUSTER_CONDITIONS
assert len(_SPECIES) == kinetics.CLUSTER_SPECIES


class MSCProcess(Process):
    """CdTe magic-sized clusters, precursor complex and QDs."""

    name = "msc"

    def __init__(self):
        self.y = [0.0] * (len(_SPECIES) + len(_EXTRA))
        self.y[len(_SPECIES)] = 2.0
        self.y[len(_SPECIES) + 1] = QD_SIGMA_START
        self.te0_mol = 0.0
        self.charged = False
        self.control = StepControl(floor_s=0.5, ceiling_s=1800.0)

    # -- helpers --------------------------------------------------------------------------
    def amount(self, species: str) -> float:
        return self.y[_IDX[species]]

    def _conditions(self, model):
        liq = model.liquid
        litres = max(liq.volume_ml, 1e-3) * 1e-3
        main = liq.main_solvent()
        fr = liq.fractions()
        # the bulk hydrocarbon solvent decides (the 2 mL ODE of the Cd stock does not)
        bulk = [k for k in sorted(fr, key=fr.get, reverse=True) if k in SOLVENT_CONVERSION]
        solv = SOLVENT_CONVERSION[bulk[0]] if bulk else SOLVENT_CONVERSION.get(main, 0.5)
        return litres, solv

    def on_dose(self, model, species: str) -> None:
        self.control.reset()        # any dose changes the conditions (volume, ligands)
        if species == "Te":
            te = model.liquid.get("Te")
            if te > 0:
                self.y[_IDX["Te"]] += te
                self.te0_mol += te
                model.liquid.mol["Te"] = 0.0
                self.charged = True

    def active(self, model) -> bool:
        if not self.charged:
            return False
        y = self.y
        return (y[_IDX["Te"]] > 1e-12 or y[_IDX["I"]] > 1e-12 or y[_IDX["M449"]] > 1e-12
                or y[_IDX["M469"]] > 1e-12 or y[_IDX["Q"]] > 1e-12)

    # -- kinetics --------------------------------------------------------------------------
    def _make_deriv(self, model) -> kinetics.Derivative:
        """Bind the compiled cluster derivative to the present conditions."""
        litres, solv = self._conditions(model)
        liq = model.liquid
        cd_total = liq.get("Cd")
        top_m = liq.get("TOP") / litres
        oam_total = liq.get("OAm")
        te_std_mol = TE_STANDARD_M * litres
        ex = max(0.0, (cd_total - self.te0_mol) / te_std_mol)
        conditions = [cd_total, (top_m / TOP_STANDARD_M) ** TOP_ORDER, oam_total, te_std_mol,
                      ex, 1.0 / (1.0 + (oam_total / litres / OAM_INHIBITION_M) ** 2),
                      solv + EX_CONVERSION * ex ** EX_ORDER, solv + EX_QD * ex ** 2,
                      EX_QD * ex ** 2, I_CRITICAL * te_std_mol]
        return self.bound_derivative(tuple(conditions), lambda: kinetics.Derivative(
            kinetics.CLUSTERS, np.array(_KINETIC_CONSTANTS + conditions)))

    def _scale(self) -> np.ndarray:
        scale = max(self.te0_mol, 1e-12)
        return np.array([0.01 * scale] * len(_SPECIES) + [0.05, 0.01, 0.5])

    def step_limit_s(self, model, temperature_c: float) -> float:
        if self.control.next_h is not None:
            return self.control.next_h
        # first step after a change: a few per cent of the fastest relative rate
        dy = self._make_deriv(model)(np.array(self.y), temperature_c)
        return step_from_rates(self.y, dy.tolist(), self._scale(), fraction=0.03, floor_s=0.5,
                               ceiling_s=1800.0)

    def advance(self, model, dt_s, t0_c, tmid_c, t1_c) -> None:
        y = self.control.step(self._make_deriv(model), np.array(self.y), dt_s, model,
                              self._scale())
        n = len(_SPECIES)
        self.y = np.maximum(y[:n], 0.0).tolist() + y[n:].tolist()

    def scale(self, keep: float) -> None:
        self.control.reset()
        n = len(_SPECIES)
        for i in range(n):
            self.y[i] *= keep
        self.te0_mol *= keep

    # -- optics -----------------------------------------------------------------------------
    def _qd(self, model):
        n = len(_SPECIES)
        q = self.y[_IDX["Q"]]
        d_q, sig, age = self.y[n:]
        d_q = max(d_q, 1.4)
        units = SEMICONDUCTORS["CdTe"].units_in_sphere(d_q / 2.0)
        return q, d_q, sig, age, units

    def bands(self, model) -> list:
        if not self.charged:
            return []
        litres = max(model.liquid.volume_ml, 1e-3) * 1e-3
        out = []
        for sp, (e1, e2, rel) in MSC_LINES.items():
            c = self.y[_IDX[sp]] / litres
            if c > 0:
                a = MSC_EPSILON * c
                out.append(spectra.gaussian(HC_EV_NM / e1, MSC_SIGMA_EV, a))
                out.append(spectra.gaussian(HC_EV_NM / e2, MSC_SIGMA_EV * 1.3, a * rel))
        c_p = self.y[_IDX["P"]] / litres
        if c_p > 0:
            out.append(spectra.gaussian(HC_EV_NM / P_NM, P_SIGMA_EV, P_EPSILON * c_p))
        q, d_q, sig, _, units = self._qd(model)
        if q > 0:
            b, _, _ = spectra.nanocrystal_bands("CdTe", d_q, sig * d_q / 2.0, q / units / litres,
                                                {"CdTe": q / litres})
            out += b
        return out

    def qd_e1_nm(self) -> float:
        n = len(_SPECIES)
        return spectra.e1_nm(max(self.y[n], 1.4), "CdTe")

    def qd_pl_ev(self) -> float:
        n = len(_SPECIES)
        sig = self.y[n + 1]
        stokes = 0.045 + 1.1 * max(0.0, sig - 0.10)
        return HC_EV_NM / self.qd_e1_nm() - stokes

    def qd_quantum_yield(self) -> float:
        age = self.y[len(_SPECIES) + 2]
        return QD_QY_END - (QD_QY_END - QD_QY_START) * math.exp(-age / QD_QY_TAU_H)

    def emission_lines(self, model, excitation_nm: float) -> list:
        if not self.charged:
            return []
        q, d_q, sig, _, units = self._qd(model)
        if q <= 0:
            return []
        litres = max(model.liquid.volume_ml, 1e-3) * 1e-3
        b, _, sigma = spectra.nanocrystal_bands("CdTe", d_q, sig * d_q / 2.0,
                                                q / units / litres, {"CdTe": q / litres})
        absorbed = spectra.absorbance_at(b, excitation_nm)
        return [("g", self.qd_pl_ev(), sigma, absorbed * self.qd_quantum_yield())]

    def zone_evidence(self, model, dilution: float = 101.0) -> dict:
        """Peak absorbance of each species in a diluted aliquot (1 cm), and the QD PL.

        ``dilution`` 101 is SCIENCE.md C's 50 µL into 5 mL toluene.
        """
        litres = max(model.liquid.volume_ml, 1e-3) * 1e-3
        ev = {}
        for sp in MSC_LINES:
            ev[sp] = MSC_EPSILON * self.y[_IDX[sp]] / litres / dilution
        ev["P430"] = P_EPSILON * self.y[_IDX["P"]] / litres / dilution
        q, d_q, sig, _, units = self._qd(model)
        if q > 0:
            b, _, _ = spectra.nanocrystal_bands("CdTe", d_q, sig * d_q / 2.0,
                                                q / units / litres / dilution,
                                                {"CdTe": q / litres / dilution})
            ev["QD"] = spectra.extinction_e1(d_q, "CdTe") * q / units / litres / dilution
            ev["QD_PL"] = spectra.absorbance_at(b, 405.0) * self.qd_quantum_yield()
        else:
            ev["QD"] = 0.0
            ev["QD_PL"] = 0.0
        return ev

    def state(self, model) -> dict:
        if not self.charged:
            return {}
        out = {f"{sp}_mmol": self.y[_IDX[sp]] * 1e3 for sp in _SPECIES}
        out["te0_mmol"] = self.te0_mol * 1e3
        out["qd_e1_nm"] = self.qd_e1_nm()
        out["qd_pl_nm"] = HC_EV_NM / self.qd_pl_ev()
        out["qd_sigma_rel"] = self.y[len(_SPECIES) + 1]
        out["qd_quantum_yield"] = self.qd_quantum_yield()
        out["zone_evidence"] = self.zone_evidence(model)
        return out


def charge_msc(model, o: dict) -> dict:
    """Recipe ``C_cdte_msc`` (SCIENCE.md C standard, one coordinate changed at a time).

    Options: ``solvent`` (``"ODE"``; ``"toluene"``, ``"octane"``), ``top_mmol`` (21.2),
    ``oam_mmol`` (37.4), ``cd_te_ratio`` (1.2), ``te_mmol`` (1.0), ``total_ml`` (50).
    Te is 1 mL 1 M TOPTe, Cd(oleate)₂ 0.6 M in ODE; the solvent makes up the
    volume.  The temperature comes from the mantle.
    """
    from .recipes import NEAT_MOL_L, _check, add_neat

    o = _check("C_cdte_msc", o, {"solvent": "ODE", "top_mmol": 21.2, "oam_mmol": 37.4,
                                 "cd_te_ratio": 1.2, "te_mmol": 1.0, "total_ml": 50.0})
    model.use_flask(o.get("flask_ml", 100.0))
    proc = model.msc
    top_ml = o["top_mmol"] / NEAT_MOL_L["TOP"]
    oam_ml = o["oam_mmol"] / NEAT_MOL_L["OAm"]
    cd_mmol = o["cd_te_ratio"] * o["te_mmol"]
    cd_ml = cd_mmol / 0.6
    te_ml = o["te_mmol"] / 1.0
    if top_ml > 0:
        add_neat(model, "TOP", top_ml)
    if oam_ml > 0:
        add_neat(model, "OAm", oam_ml)
    model.liquid.add_solvent("ODE", cd_ml)           # Cd(oleate)₂ stock in ODE
    model.liquid.add_species("Cd", cd_mmol * 1e-3)
    model.liquid.add_solvent("TOP", te_ml)           # 1 M TOPTe: the TOP carrier, no free TOP
    rest = o["total_ml"] - model.liquid.volume_ml
    if rest < 0:
        raise ValueError(f"C_cdte_msc: ligands and stocks already fill {model.liquid.volume_ml:.1f} mL "
                         f"> total {o['total_ml']} mL")
    model.liquid.add_solvent(o["solvent"], rest)
    proc.y[_IDX["Te"]] += o["te_mmol"] * 1e-3
    proc.te0_mol += o["te_mmol"] * 1e-3
    proc.charged = True
    proc.control.reset()
    return o
