"""Photocatalysis: hot-electron hydrodehalogenation, the intensity cascade, CO₂ → CO.

A3 — hydrodehalogenation with Mn²⁺-doped CdS/ZnS dots
-----------------------------------------------------
Rate per *active* photocatalyst unit (dot or molecule), turnovers per hour::

    r = k_type · channel(I) · f_S · f_donor · f_atmosphere · f_solvent

* ``channel`` for core-doped dots is the hot-electron channel: the number of
  excited Mn²⁺ per dot is Poisson with mean ``λ(I) = 11.5·x/(1 + x)``,
  ``x = I/103 mW cm⁻²`` — the two parameters put λ at 0.11 for 1 mW/cm² and
  6.8 at 150 mW/cm² (SCIENCE.md's range) and saturate near the ≈ 10 Mn per
  dot — and a hot electron needs two of them, ``P(i ≥ 2) = 1 − e^-λ(1 + λ)``.
  Undoped, interface-doped, bare-CdS and molecular catalysts reduce the
  aryl chloride (E_red −2.9 V, below the −2.24 V band edge) only through a weak
  channel linear in irradiance (normalised to 5 mW/cm²).
* ``f_S = S/(S + 5 mM)``: zero order in substrate until it runs out.
* ``f_donor = 0.08 + 0.92·D/(D + 0.05 equiv)``: TAEA (one consumed per turnover).
* Air ×0.139 (O₂ scavenges electrons), toluene ×0.075 (instead of DMPU).
* A fixed concentration of adventitious quencher (0.66 µM in the reaction
  solution: ``QUENCHER_M``) deactivates that many dots for good — the only
  simple mechanism found that makes halving the loading cost more than half the
  yield (0.0005 mol %: 30 % rather than ≈ 65 %).
* The aryl radical gives the hydrodehalogenated product with 93 % selectivity
  (the rest: side products), which caps the yield at 93 % (150 mW/cm², 18 h).

Which numbers are fitted and which predicted (see :mod:`.fidelity`): ``k`` of
each catalyst type from its own Table 1 row, the air, toluene and no-TAEA
factors from theirs, the quencher from the 0.0005 mol % row and the
selectivity from the 150 mW/cm² row; the 1 mW/cm² row, the TON column and
the irradiance dependence are predictions of the λ/Poisson channel.

A4 — intensity-switched cascade (1-bromo-4-chlorobenzene)
---------------------------------------------------------
C–Br is reduced by *band-edge* electrons of any CdS dot at ``k_BE·I`` (linear);
C–Cl only by hot electrons (the A3 channel).  The aryl radical couples with the
partner present (N-methylpyrrole at C–Br; B₂pin₂ at C–Cl), otherwise it is
hydrodehalogenated.  At 1–5 mW/cm² the C–Br coupling outruns C–Cl activation
by ≈ 40–300×; at 150 mW/cm² C–Cl activation is fast.  ``k_BE`` is chosen so
that stage 1 (1 mW/cm²) converts the C–Br sites within ≈ 24 h (no published
kinetics).

B — CO₂ photoreduction with Zn–CuInS₂ dots
-------------------------------------------
CO ``= k_comp · (I/100 mW cm⁻²) · f_donor · a`` per hour with ``k_comp`` for the
2/12, 4/12, 8/12 compositions set to give 12.2, 3.1 and 0.5 µmol after 120 h
under the 100 mW/cm² solar simulator; 92 % CO selectivity (the rest H₂); the
activity ``a`` decays with the photon dose so that ≈ 70 % remains after 360 h
(renewing the atmosphere and donor does not restore it).  A light source
with ``wavelength_nm = 0`` is the broadband solar simulator (380–780 nm);
monochromatic light acts through the published apparent quantum yields
(0.32, 0.25, 0.11, 0.05 % at 400, 450, 500, 550 nm; interpolated, zero beyond
600 nm) on ``illuminated_area_cm2`` (1 cm² by default): electrons used = AQY ×
incident photons, N = P·λ/(h·c).  Band gaps 2.46 / 2.35 / 2.14 eV and PL Stokes
shifts 0.49 / 0.44 / 0.38 eV are assigned to 2/12, 4/12, 8/12 (the study gives
only the ranges; the assignment — more Cu-deficient, wider gap and larger
Stokes shift — is ours).

Photodoping: under light with a sacrificial donor the dots accumulate electrons;
their E1 bleaches by up to 8 % (``1 − e^(−I/20 mW cm⁻²)``, τ 1 min on, 10 min
off).
"""

from __future__ import annotations

import math

from . import spectra
from .base import Process, rk4, step_from_rates
from .materials import AVOGADRO, HC_EV_NM, HC_J_M, SEMICONDUCTORS

HOUR = 3600.0
LAMBDA_MAX, I_SAT_MW_CM2 = 11.49, 103.45
#: turnovers per hour per active unit at channel = 1 (doped: P(i≥2) = 1; others at 5 mW/cm²)
K_TYPE_PER_H = {"doped": 26_700.0, "undoped": 18.0, "interface": 17.0, "CdS": 60.8,
                "4CzIPN": 0.0398, "Ir": 0.0441}
IS_DOT = {"doped": True, "undoped": True, "interface": True, "CdS": True,
          "4CzIPN": False, "Ir": False}
SELECTIVITY = 0.93
K_SUBSTRATE_M = 0.005
DONOR_BASELINE, K_DONOR_EQUIV = 0.0815, 0.05
AIR_FACTOR, TOLUENE_FACTOR = 0.139, 0.0746
QUENCHER_M = 0.655e-6
K_BAND_EDGE_PER_H_MW = 13000.0      # A4 C–Br turnovers per dot per hour per mW/cm²
# B
K_CO_UMOL_H = {"2/12": 0.1079, "4/12": 0.02741, "8/12": 0.004421}
CO_SELECTIVITY = 0.92
DEACTIVATION_DOSE_J_CM2 = 1009.0 * 3600.0 * 0.100   # 1009 h at 100 mW/cm²
AQY_TABLE = ((380.0, 0.0034), (400.0, 0.0032), (450.0, 0.0025), (500.0, 0.0011),
             (550.0, 0.0005), (600.0, 0.0))
GAP_EV = {"2/12": 2.46, "4/12": 2.35, "8/12": 2.14}
STOKES_EV = {"2/12": 0.49, "4/12": 0.44, "8/12": 0.38}
BLEACH_MAX = 0.08
_PRODUCTS = ("product", "side", "ArCl_NMP", "ArBpin_NMP", "ArHCl", "ArH_NMP", "Cl_first")


def mn_excitations(irradiance_mw_cm2: float) -> float:
    """Mean number of excited Mn²⁺ per dot (Poisson λ) at an irradiance."""
    x = max(irradiance_mw_cm2, 0.0) / I_SAT_MW_CM2
    return LAMBDA_MAX * x / (1.0 + x)


def hot_electron_probability(irradiance_mw_cm2: float) -> float:
    """P(i ≥ 2) of a Poisson with mean :func:`mn_excitations`."""
    lam = mn_excitations(irradiance_mw_cm2)
    return 1.0 - math.exp(-lam) * (1.0 + lam)


def aqy(wavelength_nm: float) -> float:
    """Apparent quantum yield of the 2/12 dots at a wavelength (fraction)."""
    pts = AQY_TABLE
    if wavelength_nm <= pts[0][0] or wavelength_nm >= pts[-1][0]:
        return 0.0 if wavelength_nm >= pts[-1][0] else pts[0][1]
    for (l0, a0), (l1, a1) in zip(pts, pts[1:], strict=False):
        if l0 <= wavelength_nm <= l1:
            return a0 + (a1 - a0) * (wavelength_nm - l0) / (l1 - l0)
    return 0.0


class PhotocatalysisProcess(Process):
    """Light-driven conversions (A3, A4, B) and photodoping of the dots."""

    name = "photocatalysis"

    def __init__(self, nanocrystals):
        self.nanocrystals = nanocrystals
        self.mode: str | None = None
        self.options: dict = {}
        self.catalyst_mol = 0.0
        self.population = None
        self.s = {}             # amounts (mol) of the species this mode tracks
        self.photon_dose_j_cm2 = 0.0
        self.bleach = 0.0
        self.co_mol = 0.0
        self.h2_mol = 0.0
        self.electrons_mol = 0.0
        self.photons_mol = 0.0

    # -- helpers ---------------------------------------------------------------------
    def _donor(self, model) -> float:
        return model.liquid.get("TAEA" if self.mode in ("A3", "A4") else "ascorbate")

    def active(self, model) -> bool:
        if self.mode is None:
            return False
        return model.irradiance_mw_cm2() > 0 or self.s.get("bleach", 0.0) > 1e-6

    def _active_units(self, model) -> float:
        if IS_DOT.get(self.options.get("photocatalyst", "doped"), True):
            quencher = QUENCHER_M * model.liquid.volume_ml * 1e-3
            return max(0.0, self.catalyst_mol - quencher)
        return self.catalyst_mol

    def _factors(self, model) -> float:
        o = self.options
        f = 1.0
        if o.get("atmosphere", "N2") == "air":
            f *= AIR_FACTOR
        if o.get("solvent", "DMPU") == "toluene":
            f *= TOLUENE_FACTOR
        return f

    # -- kinetics -------------------------------------------------------------------------
    def _make_deriv(self, model):
        irr = model.irradiance_mw_cm2()
        units = self._active_units(model)
        f_env = self._factors(model)
        litres = max(model.liquid.volume_ml, 1e-3) * 1e-3
        donor0 = self.options.get("donor0_mol", 1.0)
        keys = list(self.s)
        mode = self.mode
        cat = self.options.get("photocatalyst", "doped")
        p2 = hot_electron_probability(irr)
        lin = irr / 5.0
        light = list(model.light.values())

        def f_donor(d_mol):
            eq = d_mol / donor0 if donor0 > 0 else 0.0
            return DONOR_BASELINE + (1.0 - DONOR_BASELINE) * eq / (eq + K_DONOR_EQUIV)

        def deriv(y, temp):
            v = dict(zip(keys, y, strict=False))
            d = dict.fromkeys(keys, 0.0)
            if mode == "A3":
                sub = max(v["substrate"], 0.0)
                channel = p2 if cat == "doped" else lin
                rate = (K_TYPE_PER_H[cat] / HOUR) * channel * units * f_env * f_donor(
                    max(v["TAEA"], 0.0)) * (sub / litres) / (sub / litres + K_SUBSTRATE_M)
                d["substrate"] -= rate
                d["product"] += SELECTIVITY * rate
                d["side"] += (1.0 - SELECTIVITY) * rate
                taea = max(v["TAEA"], 0.0)
                d["TAEA"] -= rate * taea / (taea + 1e-3 * donor0)   # none left: none used
            elif mode == "A4":
                fd = f_donor(max(v["TAEA"], 0.0)) * f_env
                brcl, p1 = max(v["ArBrCl"], 0.0), max(v["ArCl_NMP"], 0.0)
                hcl = max(v["ArHCl"], 0.0)
                total_br = brcl
                total_cl = brcl + p1 + hcl
                conc = (total_br + total_cl) / litres
                sat = conc / (conc + K_SUBSTRATE_M) if conc > 0 else 0.0
                # band-edge electrons: C–Br
                r_br = (K_BAND_EDGE_PER_H_MW / HOUR) * irr * units * fd * sat * (
                    total_br / (total_br + total_cl) if total_br > 0 else 0.0)
                # hot electrons: C–Cl of every chloroarene present
                r_cl_tot = (K_TYPE_PER_H["doped"] / HOUR) * p2 * units * fd * sat * (
                    total_cl / (total_br + total_cl) if total_cl > 0 else 0.0)
                nmp, bpin = max(v["N_methylpyrrole"], 0.0), max(v["B2pin2"], 0.0)
                share_nmp = nmp / (nmp + 1e-5 * litres) if nmp > 0 else 0.0
                share_b = bpin / (bpin + 1e-5 * litres) if bpin > 0 else 0.0
                d["ArBrCl"] -= r_br
                d["ArCl_NMP"] += r_br * share_nmp
                d["ArHCl"] += r_br * (1.0 - share_nmp)
                d["N_methylpyrrole"] -= r_br * share_nmp
                d["TAEA"] -= r_br
                if total_cl > 0:
                    for key, amount in (("ArBrCl", brcl), ("ArCl_NMP", p1), ("ArHCl", hcl)):
                        r = r_cl_tot * amount / total_cl
                        d[key] -= r
                        d["TAEA"] -= r
                        d["B2pin2"] -= r * share_b
                        if key == "ArCl_NMP":
                            d["ArBpin_NMP"] += r * share_b
                            d["ArH_NMP"] += r * (1.0 - share_b)
                        else:
                            d["Cl_first"] += r
            elif mode == "B":
                comp = self.options["composition"]
                act = math.exp(-max(v["dose"], 0.0) / DEACTIVATION_DOSE_J_CM2)
                fd = f_donor(max(v["ascorbate"], 0.0)) / f_donor(donor0)   # 1 when fresh
                e_rate = 0.0     # mol electrons per s
                for wl, i_mw in light:
                    if i_mw <= 0:
                        continue
                    if wl <= 0:      # solar simulator
                        co = K_CO_UMOL_H[comp] * 1e-6 / HOUR * i_mw / 100.0
                        e_rate += 2.0 * co / CO_SELECTIVITY
                    else:
                        photons = i_mw * 1e-3 * self.options["illuminated_area_cm2"] * (
                            wl * 1e-9) / HC_J_M / AVOGADRO
                        rel = K_CO_UMOL_H[comp] / K_CO_UMOL_H["2/12"]
                        e_rate += aqy(wl) * rel * photons
                e_rate *= act * fd
                d["CO"] += CO_SELECTIVITY * e_rate / 2.0
                d["H2"] += (1.0 - CO_SELECTIVITY) * e_rate / 2.0
                d["ascorbate"] -= e_rate / 2.0
                d["electrons"] += e_rate
            d["dose"] = irr * 1e-3
            return [d[k] for k in keys]

        return deriv

    def step_limit_s(self, model, temperature_c: float) -> float:
        y = [self.s[k] for k in self.s]
        dy = self._make_deriv(model)(y, temperature_c)
        # products grow steadily (RK4 integrates that exactly): only the consumption of
        # reactants, the bleach and the donor set the step
        scale = max(self.options.get("substrate0_mol", 1e-6), 1e-9)
        atol = []
        for k in self.s:
            if k == "dose":
                atol.append(1e9)
            elif k == "bleach":
                atol.append(1e9)     # integrated exactly in advance()
            elif k in ("CO", "H2", "electrons"):
                atol.append(1e-4)
            elif k in _PRODUCTS:
                atol.append(scale)
            else:
                atol.append(0.01 * scale)
        return step_from_rates(y, dy, atol, fraction=0.03, floor_s=0.5, ceiling_s=6 * HOUR)

    def advance(self, model, dt_s, t0_c, tmid_c, t1_c) -> None:
        keys = list(self.s)
        y = rk4(self._make_deriv(model), [self.s[k] for k in keys], dt_s, t0_c, tmid_c, t1_c)
        new = {k: (max(v, 0.0) if k != "dose" else v) for k, v in zip(keys, y, strict=False)}
        if "bleach" in new:
            # photodoping relaxes exponentially to a level set by light and donor: exact
            irr = model.irradiance_mw_cm2()
            donor = self.s.get("TAEA", self.s.get("ascorbate", 0.0))
            target = BLEACH_MAX * (1.0 - math.exp(-irr / 20.0)) if donor > 0 else 0.0
            tau = 60.0 if irr > 0 else 600.0
            new["bleach"] = target + (self.s["bleach"] - target) * math.exp(-dt_s / tau)
        self.s = new
        for k in ("TAEA", "ascorbate", "N_methylpyrrole", "B2pin2"):
            if k in self.s:
                model.liquid.mol[k] = self.s[k]
        if "bleach" in self.s and self.population is not None:
            self.population.bleach = self.s["bleach"]
        self.photon_dose_j_cm2 = self.s.get("dose", 0.0)

    def on_dose(self, model, species: str) -> None:
        if self.mode is None:
            return
        for k in ("TAEA", "ascorbate", "N_methylpyrrole", "B2pin2"):
            if k in self.s:
                self.s[k] = model.liquid.get(k)
        if species == "substrate" and self.mode == "A3":
            self.s["substrate"] += model.liquid.get("substrate")
            model.liquid.mol["substrate"] = 0.0
        if species == "substrate" and self.mode == "A4":
            self.s["ArBrCl"] += model.liquid.get("substrate")
            model.liquid.mol["substrate"] = 0.0

    def scale(self, keep: float) -> None:
        """An aliquot left with ``1 - keep`` of everything dissolved.

        Yields are fractions of the substrate *in the vial*, so the reference
        amount shrinks with it: sampling does not change a yield (GC/NMR measure
        ratios), it only leaves less material.
        """
        for k in self.s:
            if k not in ("dose", "bleach", "CO", "H2", "electrons"):
                self.s[k] *= keep
        self.catalyst_mol *= keep
        if "substrate0_mol" in self.options:
            self.options["substrate0_mol"] *= keep

    # -- optics -----------------------------------------------------------------------------
    def bands(self, model) -> list:
        if self.mode is None:
            return []
        litres = max(model.liquid.volume_ml, 1e-3) * 1e-3
        out = []
        cat = self.options.get("photocatalyst")
        if cat == "4CzIPN":
            out.append(spectra.gaussian(HC_EV_NM / 435.0, 0.25, 1.1e4 * self.catalyst_mol / litres))
        elif cat == "Ir":
            out.append(spectra.gaussian(HC_EV_NM / 375.0, 0.3, 7.0e3 * self.catalyst_mol / litres))
        if self.mode == "B":
            comp = self.options["composition"]
            gap = GAP_EV[comp]
            conc_units = self.options["units_mol"] / litres
            # featureless CuInS₂ edge: a weak band-edge transition on a rising continuum
            out.append(("c", gap + 0.25, 0.18, 900.0 * conc_units))
            out.append(spectra.gaussian(gap, 0.10, 120.0 * conc_units))
        return out

    def emission_lines(self, model, excitation_nm: float) -> list:
        if self.mode != "B":
            return []
        comp = self.options["composition"]
        gap = GAP_EV[comp]
        if HC_EV_NM / excitation_nm < gap - 0.1:
            return []
        litres = max(model.liquid.volume_ml, 1e-3) * 1e-3
        absorbed = spectra.absorbance_at(self.bands(model), excitation_nm)
        return [("g", gap - STOKES_EV[comp], 0.14, absorbed * 0.05 * litres / litres)]

    def state(self, model) -> dict:
        if self.mode is None:
            return {}
        out = {"mode": self.mode, "photon_dose_j_cm2": self.photon_dose_j_cm2,
               "photocatalyst": self.options.get("photocatalyst"),
               "amounts_mmol": {k: v * 1e3 for k, v in self.s.items()
                                if k not in ("dose", "bleach", "electrons")},
               "bleach": self.s.get("bleach", 0.0)}
        if self.mode == "A3":
            s0 = self.options["substrate0_mol"]
            prod = self.s["product"]
            out.update({"conversion": 1.0 - self.s["substrate"] / s0,
                        "yield_pct": 100.0 * prod / s0,
                        "ton": prod / self.catalyst_mol if self.catalyst_mol > 0 else 0.0,
                        "mn_excitations": mn_excitations(model.irradiance_mw_cm2()),
                        "hot_electron_probability": hot_electron_probability(
                            model.irradiance_mw_cm2())})
        elif self.mode == "A4":
            s0 = self.options["substrate0_mol"]
            out.update({"c_br_converted": 1.0 - self.s["ArBrCl"] / s0,
                        "stage1_product_pct": 100.0 * self.s["ArCl_NMP"] / s0,
                        "stage2_product_pct": 100.0 * self.s["ArBpin_NMP"] / s0,
                        "c_cl_first_pct": 100.0 * self.s["Cl_first"] / s0,
                        "conversion": 1.0 - self.s["ArBrCl"] / s0})
        elif self.mode == "B":
            out.update({"co_umol": self.s["CO"] * 1e6, "h2_umol": self.s["H2"] * 1e6,
                        "co_selectivity": (self.s["CO"] / (self.s["CO"] + self.s["H2"])
                                           if self.s["CO"] > 0 else None),
                        "activity": math.exp(-self.s["dose"] / DEACTIVATION_DOSE_J_CM2),
                        "electrons_umol": self.s["electrons"] * 1e6,
                        "band_gap_ev": GAP_EV[self.options["composition"]],
                        "pl_ev": GAP_EV[self.options["composition"]]
                        - STOKES_EV[self.options["composition"]]})
        return out

    def renew(self, model) -> None:
        """B long-term runs: fresh CO₂ atmosphere and donor (the catalyst keeps its history)."""
        if self.mode != "B":
            raise RuntimeError("renew() applies to the CO₂ photoreduction (recipe B_co2)")
        self.s["ascorbate"] = self.options["donor0_mol"]
        model.liquid.mol["ascorbate"] = self.s["ascorbate"]


def _qd_population(kind: str, n_mol: float):
    """The A2 product (or a control) as a population for optics and photodoping."""
    from .nanocrystals import Population

    cds, zns = SEMICONDUCTORS["CdS"], SEMICONDUCTORS["ZnS"]
    if kind == "CdS":
        r_cds, r_out, mn = 1.75, 1.75, 0.0
    elif kind == "interface":
        r_cds, r_out, mn = 2.85, 3.40, 10.0
    else:
        r_cds, r_out, mn = 2.80, 3.35, (10.0 if kind == "doped" else 0.0)
    pop = Population(label="photocatalyst", core="CdS", n_mol=n_mol,
                     core_units_mol=cds.units_in_sphere(r_cds) * n_mol,
                     zns_shell_mol=(zns.units_in_sphere(r_out) - zns.units_in_sphere(r_cds))
                     * n_mol, sigma_nm=0.15, mn_mol=mn * n_mol)
    if mn:
        # core-doped dots were doped before the CdS shell (buried), interface ones after
        pop.cds_shell_at_doping_nm = -1.0 if kind == "doped" else 0.0
    return pop


def charge_a3(model, o: dict) -> dict:
    """Recipe ``A3_photocatalysis``.

    Options: ``photocatalyst`` (``"doped"``, ``"undoped"``, ``"interface"``, ``"CdS"``,
    ``"4CzIPN"``, ``"Ir"``), ``loading_mol_pct`` (default 0.001 for doped and CdS,
    0.02 for undoped and interface, 10 for the molecular catalysts — the loadings
    Table 1's TON column implies), ``substrate_mmol`` (0.25), ``taea`` (True:
    1.5 equiv), ``atmosphere`` (``"N2"``/``"air"``), ``solvent`` (``"DMPU"``/``"toluene"``),
    ``concentration_m`` (0.25).
    """
    from .recipes import _check

    o = _check("A3_photocatalysis", o, {"photocatalyst": "doped", "loading_mol_pct": None,
                                        "substrate_mmol": 0.25, "taea": True,
                                        "atmosphere": "N2", "solvent": "DMPU",
                                        "concentration_m": 0.25})
    cat = o["photocatalyst"]
    if cat not in K_TYPE_PER_H:
        raise ValueError(f"A3: photocatalyst must be one of {sorted(K_TYPE_PER_H)}, not {cat!r}")
    if o["atmosphere"] not in ("N2", "air") or o["solvent"] not in ("DMPU", "toluene"):
        raise ValueError("A3: atmosphere is 'N2' or 'air'; solvent 'DMPU' or 'toluene'")
    if o["loading_mol_pct"] is None:
        o["loading_mol_pct"] = {"doped": 0.001, "CdS": 0.001, "undoped": 0.02,
                                "interface": 0.02}.get(cat, 10.0)
    model.use_flask(o.get("flask_ml", 10.0))
    s0 = o["substrate_mmol"] * 1e-3
    volume = o["substrate_mmol"] / o["concentration_m"]
    model.liquid.add_solvent(o["solvent"], volume)
    proc = model.photocatalysis
    proc.mode = "A3"
    proc.catalyst_mol = s0 * o["loading_mol_pct"] / 100.0
    taea = 1.5 * s0 if o["taea"] else 0.0
    model.liquid.add_species("TAEA", taea)
    proc.options = dict(o, substrate0_mol=s0, donor0_mol=1.5 * s0)
    proc.s = {"substrate": s0, "product": 0.0, "side": 0.0, "TAEA": taea, "dose": 0.0,
              "bleach": 0.0}
    if IS_DOT[cat]:
        proc.population = model.nanocrystals.add_population(_qd_population(cat, proc.catalyst_mol))
    return o


def charge_a4(model, o: dict) -> dict:
    """Recipe ``A4_cascade``: 0.25 mmol 1-bromo-4-chlorobenzene, core-doped dots.

    Options: ``substrate_mmol`` (0.25), ``loading_mol_pct`` (0.001),
    ``n_methylpyrrole_equiv`` (3.0, charged with the substrate), ``b2pin2_equiv``
    (0.0: added by pump at stage 2, species ``"B2pin2"``), ``taea`` (True,
    3 equiv: two reductions per molecule), ``solvent`` (DMPU).
    """
    from .recipes import _check

    o = _check("A4_cascade", o, {"substrate_mmol": 0.25, "loading_mol_pct": 0.001,
                                 "n_methylpyrrole_equiv": 3.0, "b2pin2_equiv": 0.0,
                                 "taea": True, "solvent": "DMPU", "atmosphere": "N2"})
    model.use_flask(o.get("flask_ml", 10.0))
    s0 = o["substrate_mmol"] * 1e-3
    model.liquid.add_solvent(o["solvent"], o["substrate_mmol"] / 0.25)
    proc = model.photocatalysis
    proc.mode = "A4"
    proc.catalyst_mol = s0 * o["loading_mol_pct"] / 100.0
    taea = 3.0 * s0 if o["taea"] else 0.0
    nmp = o["n_methylpyrrole_equiv"] * s0
    bpin = o["b2pin2_equiv"] * s0
    for k, v in (("TAEA", taea), ("N_methylpyrrole", nmp), ("B2pin2", bpin)):
        model.liquid.add_species(k, v)
    proc.options = dict(o, photocatalyst="doped", substrate0_mol=s0, donor0_mol=3.0 * s0)
    proc.s = {"ArBrCl": s0, "ArCl_NMP": 0.0, "ArBpin_NMP": 0.0, "ArHCl": 0.0, "ArH_NMP": 0.0,
              "Cl_first": 0.0, "TAEA": taea, "N_methylpyrrole": nmp, "B2pin2": bpin,
              "dose": 0.0, "bleach": 0.0}
    proc.population = model.nanocrystals.add_population(_qd_population("doped", proc.catalyst_mol))
    return o


def charge_b(model, o: dict) -> dict:
    """Recipe ``B_co2``: Zn–CuInS₂ dots in 5 mL CO₂-saturated water with ascorbic acid.

    Options: ``composition`` (``"2/12"``, ``"4/12"``, ``"8/12"``), ``ascorbate_m`` (0.1),
    ``volume_ml`` (5), ``illuminated_area_cm2`` (1.0), ``dots_umol_units`` (20: the
    formula units of CuInS₂ in the flask, for the absorbance).
    """
    from .recipes import _check

    o = _check("B_co2", o, {"composition": "2/12", "ascorbate_m": 0.1, "volume_ml": 5.0,
                            "illuminated_area_cm2": 1.0, "dots_umol_units": 20.0})
    if o["composition"] not in K_CO_UMOL_H:
        raise ValueError(f"B_co2: composition must be one of {sorted(K_CO_UMOL_H)}")
    model.use_flask(o.get("flask_ml", 10.0))
    model.liquid.add_solvent("water", o["volume_ml"])
    donor = o["ascorbate_m"] * o["volume_ml"] * 1e-3
    model.liquid.add_species("ascorbate", donor)
    model.liquid.add_species("CO2", 0.034 * o["volume_ml"] * 1e-3)
    proc = model.photocatalysis
    proc.mode = "B"
    proc.options = dict(o, donor0_mol=donor, units_mol=o["dots_umol_units"] * 1e-6,
                        photocatalyst="Zn-CuInS2")
    proc.s = {"CO": 0.0, "H2": 0.0, "ascorbate": donor, "electrons": 0.0, "dose": 0.0}
    return o
