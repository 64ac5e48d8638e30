"""Mn²⁺-doped (CdSe)₁₃ / (ZnSe)₁₃ clusters, suprastructures and ribbons (SCIENCE.md D).

Amounts in mol of MSe formula units (13 per cluster), whole flask.

``metal precursor + Se → clusters``
    ``k_form · min(M, Se)`` — fast at 25 °C (τ ≈ 5 min, Ea 40 kJ/mol): the
    Se injection gives (MSe)₁₃ at once.
``clusters → suprastructures`` (diamine, BDA)
    ``k_asm · exp(−((T − 120 °C)/30 °C)²)`` with τ ≈ 4 h at the optimum: "≈ 120 °C is
    optimal", assembly "over hours"; nothing at 25 °C in a day (MSCs stay), a
    little at 70 °C.  Assembled clusters are μm objects: their sharp lines wash
    out (kept at 10 % strength, broadened) and a scattering baseline
    ``∝ λ^-1.2`` rises — the in-situ signature the plans watch.
``clusters → nanoribbons`` (monoamine, n-butylamine)
    ``k_rib · logistic((T − 60 °C)/4 °C)`` (τ ≈ 3 h at 70 °C; none at 25 °C).
``carbonate`` (optional ``catalysis=True``)
    propylene oxide + CO₂ → cyclic carbonate at ``TOF(T)`` per cluster, TOF =
    2 994 h⁻¹ at 70 °C (Cd₀.₅Zn₀.₅, 3 bar CO₂, TBAB; Ea 60 kJ/mol assumed),
    zero order in the epoxide until it runs low: TON 17 964 after 6 h as published.
    The vessel is sealed (3 bar): no reflux cap at the epoxide's 34 °C boiling point.

Optics (per formula unit, 1 cm): Mn:(CdSe)₁₃ lines 353 and 340 nm and a broad
305 nm band; Mn:(ZnSe)₁₃ 290 and 280 nm; Cd₀.₅Zn₀.₅ clusters in between (321 /
309 nm, interpolated); ribbons 450 and 421 nm.  ε = 1500 L mol⁻¹ cm⁻¹ per unit
at the first line (an estimate of the right order for Cd chalcogenide
clusters).  Mn²⁺ PL at 593 nm (clusters, suprastructures) and 600 → 611 nm in
ribbons as they grow.

Photobleaching: under light each material's PL decays as ``exp(−k·I·t)``;
``k`` is set so that 30 min at ``BLEACH_REFERENCE_MW_CM2`` = 100 mW/cm² (the
irradiance of the source's measurement is not given; 100 mW/cm² assumed)
removes 78 % (monoamine MSC), 65 % (ribbons), 13 % (diamine MSC) and 7 %
(suprastructure) — the published losses.
"""

from __future__ import annotations

import math

from . import spectra
from .base import Process, rk4, step_from_rates
from .materials import HC_EV_NM, arrhenius

HOUR = 3600.0
K_FORM = (1.0 / 300.0, 40.0, 25.0)
K_ASSEMBLY_PER_S = 1.0 / (4.0 * HOUR)
ASSEMBLY_OPT_C, ASSEMBLY_WIDTH_C = 120.0, 30.0
K_RIBBON_PER_S = 1.0 / (3.0 * HOUR)
RIBBON_MID_C, RIBBON_WIDTH_C = 60.0, 4.0
TOF_PER_H = (2994.0, 60.0, 70.0)
UNITS_PER_CLUSTER = 13
LINES = {  # (line 1 nm, line 2 nm, ratio, broad band nm or None)
    "Cd": (353.0, 340.0, 0.8, 305.0),
    "Zn": (290.0, 280.0, 0.8, None),
    "CdZn": (321.0, 309.0, 0.8, 290.0),
    "ribbon": (450.0, 421.0, 0.7, None),
}
LINE_SIGMA_EV = 0.035
EPSILON_PER_UNIT = 1500.0
SCATTER_PER_UNIT_M = 4000.0     # A(500 nm, 1 cm) per mol/L of assembled units
BLEACH_LOSS_30MIN = {"monoamine": 0.78, "ribbon": 0.65, "diamine": 0.13, "supra": 0.07}
BLEACH_REFERENCE_MW_CM2 = 100.0
MN_PL_NM = 593.0


def _bleach_k(loss: float) -> float:
    """Rate per (mW/cm² · s) giving ``loss`` after 30 min at the reference irradiance."""
    return -math.log(1.0 - loss) / (1800.0 * BLEACH_REFERENCE_MW_CM2)


class ClusterProcess(Process):
    """Cluster formation, assembly into suprastructures or ribbons, bleaching, catalysis."""

    name = "clusters"

    def __init__(self):
        self.charged = False
        self.metal = "Cd"
        self.amine = "diamine"
        # precursor, Se, clusters, suprastructures, ribbons, PL factors (cluster, supra,
        # ribbon), epoxide, carbonate
        self.y = [0.0] * 10
        self.y[5] = self.y[6] = self.y[7] = 1.0
        self.catalysis = False
        self.clusters_mol_for_ton = 0.0
        self.epoxide0 = 1.0

    def on_dose(self, model, species: str) -> None:
        if self.charged and species == "Se":
            self.y[1] += model.liquid.get("Se")
            model.liquid.mol["Se"] = 0.0

    def active(self, model) -> bool:
        if not self.charged:
            return False
        y = self.y
        return ((y[0] > 1e-12 and y[1] > 1e-12) or y[2] > 1e-12
                or (model.irradiance_mw_cm2() > 0 and (y[2] + y[3] + y[4]) > 0)
                or (self.catalysis and y[8] > 1e-9))

    def _make_deriv(self, model):
        irr = model.irradiance_mw_cm2()
        diamine = self.amine == "diamine"
        kb_cluster = _bleach_k(BLEACH_LOSS_30MIN["diamine" if diamine else "monoamine"]) * irr
        kb_supra = _bleach_k(BLEACH_LOSS_30MIN["supra"]) * irr
        kb_ribbon = _bleach_k(BLEACH_LOSS_30MIN["ribbon"]) * irr
        n_clusters = self.clusters_mol_for_ton

        def deriv(y, temp):
            prec, se, c, a, r, b_c, b_a, b_r, epox, carb = y
            d = [0.0] * 10
            form = arrhenius(K_FORM[0], K_FORM[1], temp, K_FORM[2]) * max(0.0, min(prec, se))
            d[0] -= form
            d[1] -= form
            d[2] += form
            c = max(c, 0.0)
            if diamine:
                asm = K_ASSEMBLY_PER_S * math.exp(-((temp - ASSEMBLY_OPT_C) / ASSEMBLY_WIDTH_C) ** 2) * c
                d[2] -= asm
                d[3] += asm
            else:
                rib = K_RIBBON_PER_S / (1.0 + math.exp(-(temp - RIBBON_MID_C) / RIBBON_WIDTH_C)) * c
                d[2] -= rib
                d[4] += rib
            d[5] = -kb_cluster * b_c
            d[6] = -kb_supra * b_a
            d[7] = -kb_ribbon * b_r
            if n_clusters > 0 and epox > 0:
                tof = arrhenius(TOF_PER_H[0] / HOUR, TOF_PER_H[1], temp, TOF_PER_H[2])
                # saturated catalyst: zero order in epoxide until it runs low
                rate = tof * n_clusters * epox / (epox + 0.02 * self.epoxide0)
                d[8] -= rate
                d[9] += rate
            return d

        return deriv

    def step_limit_s(self, model, temperature_c: float) -> float:
        d = self._make_deriv(model)(self.y, temperature_c)
        scale = max(self.y[0] + self.y[2] + self.y[3] + self.y[4], 1e-9)
        atol = [0.01 * scale] * 5 + [0.01] * 3 + [0.01 * max(self.y[8] + self.y[9], 1e-9)] * 2
        return step_from_rates(self.y, d, atol, fraction=0.03, floor_s=0.5, ceiling_s=3600.0)

    def advance(self, model, dt_s, t0_c, tmid_c, t1_c) -> None:
        self.y = [max(v, 0.0) for v in rk4(self._make_deriv(model), self.y, dt_s,
                                           t0_c, tmid_c, t1_c)]

    def scale(self, keep: float) -> None:
        for i in (0, 1, 2, 3, 4, 8, 9):
            self.y[i] *= keep
        self.clusters_mol_for_ton *= keep

    # -- optics ---------------------------------------------------------------------------
    def bands(self, model) -> list:
        if not self.charged:
            return []
        litres = max(model.liquid.volume_ml, 1e-3) * 1e-3
        _, _, c, a, r = self.y[:5]
        out = []
        l1, l2, ratio, broad = LINES[self.metal]
        for amount, strength, widen in ((c, 1.0, 1.0), (a, 0.10, 2.5)):
            conc = amount / litres
            if conc <= 0:
                continue
            amp = EPSILON_PER_UNIT * conc * strength
            out.append(spectra.gaussian(HC_EV_NM / l1, LINE_SIGMA_EV * widen, amp))
            out.append(spectra.gaussian(HC_EV_NM / l2, LINE_SIGMA_EV * widen, amp * ratio))
            if broad:
                out.append(spectra.gaussian(HC_EV_NM / broad, 0.2, amp * 0.9))
        if a > 0:
            out.append(spectra.scattering(SCATTER_PER_UNIT_M * a / litres, 1.2))
        if r > 0:
            l1, l2, ratio, _ = LINES["ribbon"]
            amp = EPSILON_PER_UNIT * 1.5 * r / litres
            out.append(spectra.gaussian(HC_EV_NM / l1, 0.03, amp))
            out.append(spectra.gaussian(HC_EV_NM / l2, 0.03, amp * ratio))
            out.append(spectra.scattering(0.05 * SCATTER_PER_UNIT_M * r / litres, 1.0))
        return out

    def emission_lines(self, model, excitation_nm: float) -> list:
        if not self.charged:
            return []
        litres = max(model.liquid.volume_ml, 1e-3) * 1e-3
        _, _, c, a, r, b_c, b_a, b_r = self.y[:8]
        e_ex = HC_EV_NM / excitation_nm
        l1 = LINES[self.metal][0]
        absorbs = 1.0 if e_ex > HC_EV_NM / l1 - 0.1 else 0.0
        lines = []
        qy = 0.2
        if c > 0:
            lines.append(("g", HC_EV_NM / MN_PL_NM, 0.11,
                          absorbs * EPSILON_PER_UNIT * c / litres * qy * b_c))
        if a > 0:
            lines.append(("g", HC_EV_NM / MN_PL_NM, 0.11,
                          absorbs * EPSILON_PER_UNIT * a / litres * qy * b_a))
        if r > 0:
            total = c + a + r
            grown = r / total if total > 0 else 1.0
            lines.append(("g", HC_EV_NM / (600.0 + 11.0 * grown), 0.11,
                          (1.0 if e_ex > HC_EV_NM / 450.0 - 0.1 else 0.0)
                          * EPSILON_PER_UNIT * r / litres * qy * b_r))
        return lines

    def state(self, model) -> dict:
        if not self.charged:
            return {}
        prec, se, c, a, r, b_c, b_a, b_r, epox, carb = self.y
        total = c + a + r
        out = {"metal": self.metal, "amine": self.amine,
               "clusters_umol_units": c * 1e6, "assembled_fraction": a / total if total else 0.0,
               "ribbon_fraction": r / total if total else 0.0,
               "pl_remaining": {"clusters": b_c, "suprastructures": b_a, "ribbons": b_r},
               "pl_loss_pct": 100.0 * (1.0 - (b_c if self.amine == "diamine" or r == 0 else b_r))}
        if self.catalysis:
            n = self.clusters_mol_for_ton
            out.update({"carbonate_mmol": carb * 1e3, "epoxide_mmol": epox * 1e3,
                        "ton_per_cluster": carb / n if n > 0 else 0.0})
        return out


def charge_clusters(model, o: dict) -> dict:
    """Recipe ``D_clusters``.

    Options: ``metal`` (``"Cd"``, ``"Zn"``, ``"CdZn"``), ``amine`` (``"diamine"`` = BDA,
    ``"monoamine"`` = n-butylamine), ``metal_mmol`` (1.5), ``se_mmol`` (4.5),
    ``se_injected`` (True: the Se precursor is already in; False: it comes from a
    pump line carrying species ``"Se"``), ``catalysis`` (False: True charges the
    propylene-oxide carbonation test: 3 mL epoxide + TBAB, 3 bar CO₂, with
    ``catalyst_umol_clusters`` 0.2 of clusters instead of a synthesis).
    """
    from .recipes import _check

    o = _check("D_clusters", o, {"metal": "Cd", "amine": "diamine", "metal_mmol": 1.5,
                                 "se_mmol": 4.5, "se_injected": True, "catalysis": False,
                                 "catalyst_umol_clusters": 0.2})
    if o["metal"] not in LINES or o["metal"] == "ribbon":
        raise ValueError(f"D_clusters: metal must be Cd, Zn or CdZn, not {o['metal']!r}")
    if o["amine"] not in ("diamine", "monoamine"):
        raise ValueError(f"D_clusters: amine must be 'diamine' or 'monoamine', not {o['amine']!r}")
    model.use_flask(o.get("flask_ml", 50.0))
    proc = model.clusters
    proc.charged = True
    proc.metal, proc.amine = o["metal"], o["amine"]
    amine_solvent = "BDA" if o["amine"] == "diamine" else "butylamine"
    if o["catalysis"]:
        proc.catalysis = True
        n = o["catalyst_umol_clusters"] * 1e-6
        proc.y[2] = n * UNITS_PER_CLUSTER
        proc.clusters_mol_for_ton = n
        model.liquid.add_solvent("propylene_oxide", 3.0)
        proc.epoxide0 = 3.0 * 0.83 / 58.08        # mol of propylene oxide in 3 mL
        proc.y[8] = proc.epoxide0
        model.liquid.add_species("TBAB", 100e-3 / 322.4)
        model.sealed = True      # 3 bar CO₂ autoclave: propylene oxide (bp 34 °C) stays liquid
        return o
    model.liquid.add_solvent(amine_solvent, 10.0)
    proc.y[0] = o["metal_mmol"] * 1e-3
    model.liquid.add_species("MnCl2", 0.075e-3)
    if o["se_injected"]:
        model.liquid.add_solvent(amine_solvent, 5.0)
        proc.y[1] = o["se_mmol"] * 1e-3
    return o
