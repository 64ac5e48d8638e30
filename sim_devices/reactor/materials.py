"""Bulk constants of the semiconductors and solvents the reactor model uses.

Every number here is a handbook value or a value quoted in SCIENCE.md; where
the model needs a value no source gives, the choice and its reason are stated
next to it.

Semiconductors
--------------
Molar masses from the atomic weights; densities for CdS, ZnS and CdSe are the
ones SCIENCE.md quotes for the SILAR dose formula (4.82, 4.09, 5.82 g/cm³);
CdTe (5.85) and HgSe (8.25) are CRC Handbook values.  Bulk band gaps at room
temperature: CdSe 1.74 eV and HgSe −0.06 eV as SCIENCE.md E quotes them; CdS
2.42, ZnS 3.6, CdTe 1.5 eV (CRC).  Monolayer thicknesses 0.35 nm (CdS) and
0.31 nm (ZnS) from SCIENCE.md ("Shared physics"); the E shells (CdS,
Cd0.5Zn0.5S, ZnS on CdSe) use 0.35 nm, which is what "0.8 ML steps,
3.2 → 6.0 nm over 4 ML" implies.

Solvents
--------
Boiling points at 1 atm (CRC; BDA = butane-1,4-diamine 158–159 °C); densities
and heat capacities are room-temperature handbook values rounded to two
figures.  Only the product ρ·c_p matters to the heat model; a ±20 % error in it
changes the heating time by about the same fraction, inside the 5–15 min the
model is calibrated to.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

from . import kinetics

AVOGADRO = 6.02214076e23
#: E[eV] = HC_EV_NM / λ[nm]  (SCIENCE.md, "Energy ↔ wavelength")
HC_EV_NM = 1239.84
#: Planck constant × speed of light (J·m), for photon fluxes N = P·λ/(h·c)
HC_J_M = 6.62607015e-34 * 2.99792458e8


@dataclass(frozen=True)
class Semiconductor:
    """Bulk constants of one semiconductor (per formula unit MX)."""

    name: str
    molar_mass_g_mol: float
    density_g_cm3: float
    bulk_gap_ev: float
    monolayer_nm: float
    cation: str
    anion: str

    @cached_property
    def unit_volume_nm3(self) -> float:
        """Volume of one formula unit in the crystal (nm³)."""
        return self.molar_mass_g_mol / self.density_g_cm3 * 1e21 / AVOGADRO

    def units_in_sphere(self, radius_nm: float) -> float:
        """Formula units in a sphere of ``radius_nm``."""
        return 4.0 / 3.0 * math.pi * radius_nm ** 3 / self.unit_volume_nm3


SEMICONDUCTORS: dict[str, Semiconductor] = {
    "CdS": Semiconductor("CdS", 144.48, 4.82, 2.42, 0.35, "Cd", "S"),
    "ZnS": Semiconductor("ZnS", 97.47, 4.09, 3.6, 0.31, "Zn", "S"),
    "CdSe": Semiconductor("CdSe", 191.38, 5.82, 1.74, 0.35, "Cd", "Se"),
    "CdTe": Semiconductor("CdTe", 240.01, 5.85, 1.5, 0.37, "Cd", "Te"),
    "HgSe": Semiconductor("HgSe", 279.55, 8.25, -0.06, 0.35, "Hg", "Se"),
}


@dataclass(frozen=True)
class Solvent:
    """What the heat and liquid models need to know about a solvent."""

    name: str
    boiling_point_c: float
    density_g_ml: float
    heat_capacity_j_gk: float


SOLVENTS: dict[str, Solvent] = {
    s.name: s for s in [
        Solvent("ODE", 315.0, 0.789, 2.2),           # 1-octadecene
        Solvent("toluene", 111.0, 0.867, 1.7),
        Solvent("octane", 125.0, 0.703, 2.2),
        Solvent("DMPU", 246.0, 1.06, 1.9),
        Solvent("water", 100.0, 1.00, 4.18),
        Solvent("BDA", 159.0, 0.877, 2.5),           # butane-1,4-diamine
        Solvent("butylamine", 78.0, 0.74, 2.5),      # n-butylamine (monoamine route, D)
        Solvent("hexane", 69.0, 0.655, 2.3),
        Solvent("OAm", 350.0, 0.813, 2.0),           # oleylamine
        Solvent("TOP", 360.0, 0.831, 1.9),           # trioctylphosphine (decomposes near bp)
        Solvent("oleic_acid", 360.0, 0.895, 2.0),
        Solvent("propylene_oxide", 34.0, 0.83, 2.0),
        Solvent("DMF", 153.0, 0.944, 2.0),
        Solvent("acetonitrile", 82.0, 0.786, 2.2),
        Solvent("ethanol", 78.0, 0.789, 2.4),
        Solvent("methanol", 65.0, 0.792, 2.5),
    ]
}


def solvent(name: str) -> Solvent:
    """The :class:`Solvent` called ``name`` (a clear error for unknown names)."""
    try:
        return SOLVENTS[name]
    except KeyError:
        raise ValueError(f"unknown solvent {name!r}; the reactor model knows "
                         f"{sorted(SOLVENTS)}") from None


def ev_to_nm(energy_ev: float) -> float:
    return HC_EV_NM / energy_ev


def nm_to_ev(wavelength_nm: float) -> float:
    return HC_EV_NM / wavelength_nm


#: one definition, compiled: the processes' derivatives (:mod:`.kinetics`) use it too
arrhenius = kinetics.arrhenius
