"""Precursor amounts for shell growth (SILAR) and cation exchange.

SILAR dose per monolayer (SCIENCE.md "Shared physics")::

    mol precursor = N_particles × ρ/M × (4π/3) [(r + t)³ − r³]

per layer of thickness ``t`` (≈ 0.35 nm CdS, ≈ 0.31 nm ZnS), ``N_particles``
the number of particles (= particle amount in mol × Avogadro), ρ the shell
density and ``M`` its molar mass.  For 1:1 compounds (CdS, ZnS, CdSe …) the
cation and the anion precursor doses are equal.

Decisions where the specification is silent
-------------------------------------------
* Fractional monolayers (SCIENCE.md E grows 0.8 ML increments) are a shell of
  ``monolayers × t``.
* Successive layers are dosed on the grown particle: layer ``k`` covers radius
  ``r + (k − 1)t`` (:func:`silar_layer_doses_mol`), so later layers need more.
* Densities and molar masses not given in SCIENCE.md (HgSe, CdTe, the
  Cd₀.₅Zn₀.₅S alloy) are handbook values / Vegard averages, marked below.
* The number of cations in a core (for exchange equivalents "per Cd") is the
  particle volume × ρ/M — the bulk-stoichiometry estimate; surface excess
  cations of real, metal-rich particles are not counted.
"""

from __future__ import annotations

import math

import numpy as np

AVOGADRO = 6.02214076e23

#: density g/cm³ (CdS, ZnS, CdSe from SCIENCE.md; others handbook/Vegard)
DENSITY_G_CM3 = {"CdS": 4.82, "ZnS": 4.09, "CdSe": 5.82, "HgSe": 8.25, "CdTe": 5.85,
                 "ZnSe": 5.27, "Cd0.5Zn0.5S": 4.455}
#: molar mass g/mol (per formula unit, one cation)
MOLAR_MASS_G_MOL = {"CdS": 144.48, "ZnS": 97.47, "CdSe": 191.37, "HgSe": 279.55,
                    "CdTe": 240.01, "ZnSe": 144.35, "Cd0.5Zn0.5S": 120.975}
#: thickness of one monolayer (nm); CdS and ZnS from SCIENCE.md
MONOLAYER_NM = {"CdS": 0.35, "ZnS": 0.31, "Cd0.5Zn0.5S": 0.33}


def _lookup(table: dict, material: str, what: str):
    try:
        return table[material]
    except KeyError:
        raise ValueError(f"no {what} for {material!r}; known: {sorted(table)}") from None


def silar_layer_thickness_nm(material: str) -> float:
    """Thickness (nm) of one monolayer of ``material`` (CdS 0.35, ZnS 0.31 nm)."""
    return float(_lookup(MONOLAYER_NM, material, "monolayer thickness"))


def particle_volume_nm3(diameter_nm):
    """Sphere volume (nm³)."""
    r = np.asarray(diameter_nm, float) / 2.0
    return 4.0 / 3.0 * math.pi * r**3


def formula_units_per_particle(diameter_nm, material: str):
    """Formula units (= cations for 1:1 compounds) in one spherical particle."""
    rho = _lookup(DENSITY_G_CM3, material, "density")
    mm = _lookup(MOLAR_MASS_G_MOL, material, "molar mass")
    v_cm3 = particle_volume_nm3(diameter_nm) * 1e-21
    return rho * v_cm3 / mm * AVOGADRO


def cation_mol_in_particles(diameter_nm, particles_mol, material: str = "CdSe"):
    """Cations (mol) held by ``particles_mol`` of particles — e.g. the Cd to exchange.

    Example: 100 nmol of 3.2 nm CdSe hold ≈ 31 µmol Cd (≈ 314 per particle).
    """
    return formula_units_per_particle(diameter_nm, material) * np.asarray(particles_mol, float)


def shell_diameter_nm(core_diameter_nm, material: str, monolayers: float = 1.0,
                      thickness_nm: float | None = None):
    """Diameter after growing ``monolayers`` of shell."""
    t = thickness_nm if thickness_nm is not None else silar_layer_thickness_nm(material)
    return np.asarray(core_diameter_nm, float) + 2.0 * monolayers * t


def silar_dose_mol(diameter_nm, particles_mol, material: str, monolayers: float = 1.0,
                   thickness_nm: float | None = None):
    """Precursor (mol, each of cation and anion) to grow ``monolayers`` of shell.

    Parameters
    ----------
    diameter_nm : float
        Current particle diameter (core, or core/shell so far).
    particles_mol : float
        Amount of particles (mol), e.g. 60e-9 for 60 nmol cores.
    material : str
        Shell material: ``"CdS"``, ``"ZnS"``, ``"Cd0.5Zn0.5S"`` …
    monolayers : float
        Layers to add (fractions allowed).
    thickness_nm : float, optional
        Override the monolayer thickness.

    Returns
    -------
    float
        mol of cation precursor (equal to the anion precursor for 1:1 shells).
    """
    if monolayers < 0:
        raise ValueError(f"monolayers must be ≥ 0, got {monolayers}")
    if np.any(np.asarray(particles_mol, float) < 0):
        raise ValueError(f"particle amount must be ≥ 0, got {particles_mol}")
    t = thickness_nm if thickness_nm is not None else silar_layer_thickness_nm(material)
    rho = _lookup(DENSITY_G_CM3, material, "density")
    mm = _lookup(MOLAR_MASS_G_MOL, material, "molar mass")
    r = np.asarray(diameter_nm, float) / 2.0
    shell_nm3 = 4.0 / 3.0 * math.pi * ((r + monolayers * t) ** 3 - r**3)
    per_particle_mol = rho * shell_nm3 * 1e-21 / mm
    return per_particle_mol * AVOGADRO * np.asarray(particles_mol, float)


def silar_layer_doses_mol(diameter_nm: float, particles_mol: float, material: str, layers: int,
                          monolayers_per_layer: float = 1.0,
                          thickness_nm: float | None = None) -> np.ndarray:
    """Dose (mol) for each of ``layers`` successive SILAR cycles, largest last."""
    t = thickness_nm if thickness_nm is not None else silar_layer_thickness_nm(material)
    out = []
    d = float(diameter_nm)
    for _ in range(int(layers)):
        out.append(float(silar_dose_mol(d, particles_mol, material, monolayers_per_layer, t)))
        d += 2.0 * monolayers_per_layer * t
    return np.array(out)


def dose_volume_ml(amount_mol, concentration_mol_l):
    """Volume (mL) of a stock at ``concentration_mol_l`` holding ``amount_mol``."""
    c = np.asarray(concentration_mol_l, float)
    if np.any(c <= 0):
        raise ValueError(f"stock concentration must be positive, got {concentration_mol_l} mol/L")
    return np.asarray(amount_mol, float) / c * 1e3


def exchange_equivalents_mol(cd_mol, equivalents):
    """Reagent amount (mol) for ``equivalents`` per Cd (e.g. 1.5 Hg, 0.075 Ag per Cd)."""
    eq = np.asarray(equivalents, float)
    if np.any(eq < 0):
        raise ValueError(f"equivalents must be ≥ 0, got {equivalents}")
    return np.asarray(cd_mol, float) * eq
