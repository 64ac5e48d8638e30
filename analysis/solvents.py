"""Solvent properties the pre-flight checks and the simulator share.

Normal boiling points (°C, 1 atm) from the CRC Handbook / supplier data sheets;
1-octadecene's is its literature value (315 °C).  Names are matched
case-insensitively and with common abbreviations.
"""

from __future__ import annotations

BOILING_POINT_C = {
    "ODE": 315.0,        # 1-octadecene
    "toluene": 110.6,
    "octane": 125.6,
    "hexane": 68.7,
    "DMPU": 246.5,       # N,N'-dimethylpropyleneurea
    "water": 100.0,
    "BDA": 158.5,        # butane-1,4-diamine
    "butylamine": 77.0,  # n-butylamine
    "OAm": 350.0,        # oleylamine (decomposes near its boiling point)
    "TOP": 291.0,        # trioctylphosphine at 50 mmHg; decomposes above
    "propylene_oxide": 34.0,
}

_ALIASES = {"1-octadecene": "ODE", "octadecene": "ODE", "oleylamine": "OAm",
            "n-octane": "octane", "h2o": "water", "butane-1,4-diamine": "BDA",
            "n-butylamine": "butylamine", "trioctylphosphine": "TOP"}


def canonical_solvent(name: str) -> str:
    """The table's key for ``name`` (raises with the known names if unknown)."""
    key = _ALIASES.get(name.lower(), name)
    for known in BOILING_POINT_C:
        if known.lower() == key.lower():
            return known
    raise KeyError(f"unknown solvent {name!r}; known: {sorted(BOILING_POINT_C)}")


def boiling_point_c(name: str) -> float:
    """Normal boiling point of ``name`` in °C."""
    return BOILING_POINT_C[canonical_solvent(name)]
