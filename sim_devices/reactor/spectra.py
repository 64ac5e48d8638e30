"""Absorption and emission spectra from the species the model tracks.

Each phenomenon module describes what it contributes as a list of *bands*; this
module renders them on a wavelength grid.  The 1-cm absorbance is

    A(λ) = Σ Gaussian transitions (in energy)  +  Σ continua  +  scattering
           + solvent baseline,

* **Gaussian transitions** ``("g", E0_eV, sigma_eV, peak_absorbance)``: the
  first and second exciton of a nanocrystal ensemble (width from the size
  dispersion through the slope of the sizing curve, plus a homogeneous width),
  a magic-sized-cluster line, a molecular band.
* **Continua** ``("c", onset_eV, width_eV, plateau_absorbance)``: interband
  absorption above the band edge, a logistic step of ``width_eV`` (per-formula-
  unit strength, scaled by the amount of material).
* **Scattering** ``("s", absorbance_at_500nm, exponent)``: large objects
  (flocculated nanocrystals, cluster suprastructures) seen as an extinction
  rising to the blue as λ^-exponent.

Emission is the same kind of list, ``("g", E0_eV, sigma_eV, photons)``,
normalised so that ``photons`` is the integral over wavelength: the value
returned by :func:`render_emission` is photons per nm per unit excitation.

Rendering cost is one ``exp`` per band over the grid, so an A1 spectrum on a
2048-pixel detector takes tens of microseconds.

Nanocrystal transitions
-----------------------
:func:`nanocrystal_bands` builds the bands of a population from the sizing
curves of :mod:`photoreactor.analysis.sizing` (Yu, Qu, Guo, Peng 2003): E1 at
the wavelength the curve gives for the (effective) diameter, with the
published molar extinction at E1 *as the ensemble's peak absorbance*, so that a
Beer–Lambert concentration from the rendered spectrum returns the model's
particle concentration.  A second exciton sits 0.20 eV above E1 at 45 % of its
strength (typical of CdS/CdSe spectra), and the interband continuum starts
0.30 eV above E1 with a per-formula-unit strength: CdSe 1234 L mol⁻¹ cm⁻¹ —
SCIENCE.md E's 0.0119·d³ cm⁻¹ µM⁻¹ at 400 nm divided by the 9.64·d³ units in a
d-nm dot —, HgSe 3409 (0.0317·d³ the same way), CdS 1500 and CdTe 1300
(estimates of the same order), ZnS 1100 starting at its 3.6 eV bulk gap.
"""

from __future__ import annotations

import math

import numpy as np

from photoreactor.analysis.sizing import EXTINCTION, SIZING_POLYNOMIALS

from .materials import HC_EV_NM

#: interband continuum strength per formula unit (L mol⁻¹ cm⁻¹), see module docstring
CONTINUUM_PER_UNIT = {"CdS": 1500.0, "CdSe": 1234.0, "CdTe": 1300.0, "HgSe": 3409.0,
                      "ZnS": 1100.0}
#: second exciton: offset above E1 (eV) and strength relative to E1
E2_OFFSET_EV, E2_RELATIVE = 0.20, 0.45
#: continuum onset above E1 (eV) and logistic width (eV)
CONTINUUM_OFFSET_EV, CONTINUUM_WIDTH_EV = 0.30, 0.10
#: homogeneous (single-particle) half-width added in quadrature to the size broadening
HOMOGENEOUS_SIGMA_EV = 0.025

# Fast inverse sizing curves: tabulate D(λ) (monotonic over these ranges) once and
# interpolate, instead of a root-find per call.  The ranges extend the published
# fit ranges a little (CdS down to 290 nm, CdTe down to 470 nm) so
# that nuclei and the smallest QDs still get a wavelength; the extrapolated part
# is flagged in the population's state.
_TABLE_RANGE_NM = {"CdS": (290.0, 480.0), "CdSe": (440.0, 660.0), "CdTe": (470.0, 720.0)}
_TABLES: dict[str, tuple[np.ndarray, np.ndarray]] = {}


def _table(material: str):
    tab = _TABLES.get(material)
    if tab is None:
        lo, hi = _TABLE_RANGE_NM[material]
        lam = np.linspace(lo, hi, 4001)
        d = np.polyval(SIZING_POLYNOMIALS[material], lam)
        if np.any(np.diff(d) <= 0):
            raise RuntimeError(f"sizing curve of {material} is not monotonic on {lo}-{hi} nm")
        tab = _TABLES[material] = (d, lam)
    return tab


def e1_nm(diameter_nm: float, material: str) -> float:
    """First-exciton wavelength (nm) of a ``material`` dot of ``diameter_nm``.

    Clamped to the tabulated range (a dot smaller than the smallest tabulated
    size gets the shortest wavelength).
    """
    d, lam = _table(material)
    return float(np.interp(diameter_nm, d, lam))


def diameter_range_nm(material: str) -> tuple[float, float]:
    d, _ = _table(material)
    return float(d[0]), float(d[-1])


def extinction_e1(diameter_nm: float, material: str) -> float:
    """Published molar extinction at E1 (L mol⁻¹ cm⁻¹ per particle)."""
    a, p = EXTINCTION[material]
    return a * diameter_nm ** p


def d_e1_ev_d_radius(diameter_nm: float, material: str) -> float:
    """|dE1/dr| (eV per nm of radius) from the sizing curve, for size broadening."""
    h = 0.02
    e_lo = HC_EV_NM / e1_nm(diameter_nm - h, material)
    e_hi = HC_EV_NM / e1_nm(diameter_nm + h, material)
    # the diameters differ by 2h, i.e. the radii by h
    return abs(e_lo - e_hi) / h


def gaussian(e_ev: float, sigma_ev: float, amplitude: float) -> tuple:
    return ("g", float(e_ev), float(max(sigma_ev, 1e-4)), float(amplitude))


def nanocrystal_bands(material: str, diameter_eff_nm: float, sigma_radius_nm: float,
                      particles_mol_l: float, units_by_material_mol_l: dict[str, float],
                      e1_ev: float | None = None, e1_scale: float = 1.0,
                      extra_sigma_ev: float = 0.0) -> tuple[list, float, float]:
    """Bands of one nanocrystal population (1 cm path).

    Parameters
    ----------
    material : str
        Material whose sizing curve sets E1 (the core's, for core/shell dots).
    diameter_eff_nm : float
        Effective (exciton-confining) diameter.
    sigma_radius_nm : float
        Standard deviation of the particle radius.
    particles_mol_l : float
        Particle concentration in the flask.
    units_by_material_mol_l : dict
        Formula-unit concentration of each material in the particles (continua).
    e1_ev : float, optional
        Override E1 (cation exchange computes it from composition).
    e1_scale : float
        Multiplies the E1/E2 strengths (bleach, oscillator-strength loss).
    extra_sigma_ev : float
        Added in quadrature to the width (compositional disorder).

    Returns
    -------
    bands, e1_nm, sigma_ev
    """
    if e1_ev is None:
        e1_ev = HC_EV_NM / e1_nm(diameter_eff_nm, material)
    slope = d_e1_ev_d_radius(diameter_eff_nm, material) if material in _TABLE_RANGE_NM else 0.5
    sigma = math.sqrt((slope * sigma_radius_nm) ** 2 + HOMOGENEOUS_SIGMA_EV ** 2
                      + extra_sigma_ev ** 2)
    eps = extinction_e1(diameter_eff_nm, material) if material in EXTINCTION else (
        5857.0 * diameter_eff_nm ** 2.65)
    peak = eps * particles_mol_l * e1_scale
    bands = []
    cont_at_e1 = 0.0
    for mat, units in units_by_material_mol_l.items():
        if units <= 0:
            continue
        per_unit = CONTINUUM_PER_UNIT.get(mat, 1200.0)
        if mat == material or mat == "HgSe":
            onset = e1_ev + CONTINUUM_OFFSET_EV
        else:   # a shell material absorbs from its own (bulk-like) edge
            onset = max(e1_ev + CONTINUUM_OFFSET_EV, _SHELL_ONSET_EV.get(mat, e1_ev + 0.5))
        plateau = per_unit * units
        bands.append(("c", onset, CONTINUUM_WIDTH_EV, plateau))
        cont_at_e1 += plateau / (1.0 + math.exp((onset - e1_ev) / CONTINUUM_WIDTH_EV))
    e2 = E2_RELATIVE * peak
    e2_at_e1 = e2 * math.exp(-0.5 * (E2_OFFSET_EV / (sigma * 1.2)) ** 2)
    # the published ε is the ensemble's *peak* absorbance: other bands' share at E1 comes off
    a1 = max(peak - cont_at_e1 - e2_at_e1, 0.0)
    bands.append(gaussian(e1_ev, sigma, a1))
    bands.append(gaussian(e1_ev + E2_OFFSET_EV, sigma * 1.2, e2))
    return bands, HC_EV_NM / e1_ev, sigma


#: where a shell material's own absorption starts (bulk gap + a little confinement)
_SHELL_ONSET_EV = {"CdS": 2.6, "ZnS": 3.75, "CdSe": 1.9}


def scattering(absorbance_500nm: float, exponent: float = 1.5) -> tuple:
    return ("s", float(absorbance_500nm), float(exponent))


_GRID_CACHE: dict = {}


def energy_grid(wavelengths_nm) -> tuple[np.ndarray, np.ndarray]:
    """(wavelengths, photon energies in eV); cached for a repeated detector grid."""
    wl = np.asarray(wavelengths_nm, dtype=float)
    if wl.size == 0:
        return wl, wl.copy()
    # a detector grid is the same array every read: key on shape, ends and sum
    key = (wl.shape, float(wl.flat[0]), float(wl.flat[-1]), float(wl.sum()))
    hit = _GRID_CACHE.get(key)
    if hit is not None:
        return wl, hit
    with np.errstate(divide="ignore", invalid="ignore"):
        e = HC_EV_NM / np.where(wl > 0, wl, np.nan)
    if len(_GRID_CACHE) > 16:
        _GRID_CACHE.clear()
    _GRID_CACHE[key] = e
    return wl, e


def render_absorbance(bands, wavelengths_nm) -> np.ndarray:
    """Sum the bands on a wavelength grid (1-cm absorbance)."""
    wl, e = energy_grid(wavelengths_nm)
    out = np.zeros_like(wl)
    tmp = np.empty_like(wl)
    for band in bands:
        kind = band[0]
        if kind == "g":
            _, e0, s, a = band
            if a == 0.0:
                continue
            np.subtract(e, e0, out=tmp)
            tmp *= 1.0 / s
            np.square(tmp, out=tmp)
            tmp *= -0.5
            np.exp(tmp, out=tmp)
            tmp *= a
            out += tmp
        elif kind == "c":
            _, onset, w, plateau = band
            if plateau == 0.0:
                continue
            # logistic step = (1 + tanh(x/2)) / 2: no overflow, no clipping needed
            np.subtract(e, onset, out=tmp)
            tmp *= 0.5 / w
            np.tanh(tmp, out=tmp)
            tmp += 1.0
            tmp *= 0.5 * plateau
            out += tmp
        elif kind == "s":
            _, a500, n = band
            if a500 == 0.0:
                continue
            out += a500 * (wl * (1.0 / 500.0)) ** (-n)
        else:
            raise ValueError(f"unknown band kind {kind!r}")
    if not np.all(wl > 0):
        out[~(wl > 0)] = 0.0
    return out


def absorbance_at(bands, wavelength_nm: float) -> float:
    """The same sum at one wavelength (pure Python: cheap for excitation lookups)."""
    e = HC_EV_NM / wavelength_nm
    total = 0.0
    for band in bands:
        kind = band[0]
        if kind == "g":
            _, e0, s, a = band
            total += a * math.exp(-0.5 * ((e - e0) / s) ** 2)
        elif kind == "c":
            _, onset, w, plateau = band
            total += plateau / (1.0 + math.exp(min(60.0, max(-60.0, (onset - e) / w))))
        elif kind == "s":
            _, a500, n = band
            total += a500 * (wavelength_nm / 500.0) ** (-n)
    return total


def render_emission(lines, wavelengths_nm) -> np.ndarray:
    """Emission lines → photons per nm (each line's ``photons`` is its integral over λ)."""
    wl, e = energy_grid(wavelengths_nm)
    out = np.zeros_like(wl)
    for _, e0, s, photons in lines:
        if photons <= 0.0:
            continue
        z = (e - e0) * (1.0 / s)
        # Gaussian in energy, converted to per-nm: |dE/dλ| = E²/hc
        out += (photons / (s * math.sqrt(2.0 * math.pi))) * np.exp(-0.5 * z * z) * (e * e / HC_EV_NM)
    return np.nan_to_num(out, nan=0.0)


def solvent_baseline(solvent_fractions: dict[str, float]) -> list:
    """Weak UV absorption of the solvents themselves (1 cm).

    Aromatic toluene absorbs below ≈ 290 nm, DMPU/amines below ≈ 260 nm, alkenes
    (ODE) below ≈ 230 nm; modelled as steep edges so that they only matter at the
    blue end of a UV-vis spectrometer.
    """
    edges = {"toluene": 4.3, "DMPU": 4.8, "BDA": 4.9, "butylamine": 4.9, "OAm": 4.9,
             "ODE": 5.4, "TOP": 5.0, "oleic_acid": 5.2}
    bands = []
    for name, frac in solvent_fractions.items():
        onset = edges.get(name)
        if onset is not None and frac > 0:
            bands.append(("c", onset, 0.08, 3.0 * frac))
    return bands
