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

Rendering: on a monotonic grid (cached with the grid) a Gaussian is evaluated
only within ±9σ of its centre and a continuum only across its ±40-width
transition (its plateau added as a constant beyond), bands with identical
shape are merged first; the result equals the plain sum over the whole grid to
double precision.  Non-monotonic grids get the plain sum.

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

Exchanged particles (``e1_ev`` given, SCIENCE.md E): the published ε at E1 is
the *pristine cores'* peak absorbance, so the 1S–1S Gaussian is the cores' one
(ε c minus the cores' own continuum and E2 shares at their E1) times
``e1_scale`` (the core/shell's ≈ 33 % oscillator strength); the exchanged
material's larger continuum does not eat into it.  A material may be given as
``[(units, own edge eV)]``: its continuum starts at max(E1, own edge) + 0.30 eV,
so the CdSe core of a Hg-rich shell absorbs from the CdSe edge (2.24 eV for a
3.2-nm particle) and not from the core/shell's 1.50 eV (see
:meth:`.exchange.AlloyState.optics`).
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
    pristine_e1_ev = (HC_EV_NM / e1_nm(diameter_eff_nm, material)
                      if material in _TABLE_RANGE_NM else None)
    exchanged = e1_ev is not None
    if e1_ev is None:
        e1_ev = pristine_e1_ev
    slope = d_e1_ev_d_radius(diameter_eff_nm, material) if material in _TABLE_RANGE_NM else 0.5
    sigma0 = math.sqrt((slope * sigma_radius_nm) ** 2 + HOMOGENEOUS_SIGMA_EV ** 2)
    sigma = math.sqrt(sigma0 ** 2 + extra_sigma_ev ** 2)
    eps = extinction_e1(diameter_eff_nm, material) if material in EXTINCTION else (
        5857.0 * diameter_eff_nm ** 2.65)
    peak = eps * particles_mol_l
    bands = []
    cont_at_e1 = 0.0
    for mat, spec in units_by_material_mol_l.items():
        parts = spec if isinstance(spec, (list, tuple)) else ((spec, None),)
        per_unit = CONTINUUM_PER_UNIT.get(mat, 1200.0)
        for units, own_edge in parts:
            if units <= 0:
                continue
            onset = _continuum_onset(mat, material, e1_ev, own_edge)
            plateau = per_unit * units
            bands.append(("c", onset, CONTINUUM_WIDTH_EV, plateau))
            cont_at_e1 += plateau / (1.0 + math.exp((onset - e1_ev) / CONTINUUM_WIDTH_EV))
    if not exchanged:
        # the published ε is the ensemble's *peak* absorbance: other bands' share at E1
        # comes off (a bleach scales the whole peak)
        e2 = E2_RELATIVE * peak * e1_scale
        e2_at_e1 = e2 * math.exp(-0.5 * (E2_OFFSET_EV / (sigma * 1.2)) ** 2)
        a1 = max(peak * e1_scale - cont_at_e1 - e2_at_e1, 0.0)
    else:
        # an exchanged particle keeps the 1S–1S *transition* of its pristine cores (the
        # Gaussian that ε at E1 fixed for them), scaled by e1_scale; its continua are
        # the exchanged material's and do not eat into it (see module docstring)
        a1 = e1_scale * _pristine_e1_amplitude(material, peak, sigma0, pristine_e1_ev,
                                               units_by_material_mol_l)
        e2 = e1_scale * E2_RELATIVE * peak
    bands.append(gaussian(e1_ev, sigma, a1))
    bands.append(gaussian(e1_ev + E2_OFFSET_EV, sigma * 1.2, e2))
    return bands, HC_EV_NM / e1_ev, sigma


def _continuum_onset(mat, material, e1_ev, own_edge_ev):
    """Where ``mat``'s interband continuum starts in a particle whose 1S–1S is ``e1_ev``."""
    if own_edge_ev is not None:     # a region of the particle with its own band edge
        return max(e1_ev, own_edge_ev) + CONTINUUM_OFFSET_EV
    if mat == material or mat == "HgSe":
        return e1_ev + CONTINUUM_OFFSET_EV
    # a shell material absorbs from its own (bulk-like) edge
    return max(e1_ev + CONTINUUM_OFFSET_EV, _SHELL_ONSET_EV.get(mat, e1_ev + 0.5))


def _pristine_e1_amplitude(material, peak, sigma0, e1_ev, units_by_material_mol_l):
    """1S–1S amplitude of the population before cation exchange (all cations ``material``)."""
    if e1_ev is None:
        return peak
    cont = 0.0
    per_unit = CONTINUUM_PER_UNIT.get(material, 1200.0)
    for mat, spec in units_by_material_mol_l.items():
        parts = spec if isinstance(spec, (list, tuple)) else ((spec, None),)
        units = sum(u for u, _ in parts)
        if units <= 0:
            continue
        if mat == material or mat == "HgSe":
            plateau, onset = per_unit * units, e1_ev + CONTINUUM_OFFSET_EV
        else:
            plateau = CONTINUUM_PER_UNIT.get(mat, 1200.0) * units
            onset = _continuum_onset(mat, material, e1_ev, None)
        cont += plateau / (1.0 + math.exp((onset - e1_ev) / CONTINUUM_WIDTH_EV))
    e2_at_e1 = E2_RELATIVE * peak * math.exp(-0.5 * (E2_OFFSET_EV / (sigma0 * 1.2)) ** 2)
    return max(peak - cont - e2_at_e1, 0.0)


#: where a shell material's own absorption starts (bulk gap + a little confinement)
_SHELL_ONSET_EV = {"CdS": 2.6, "ZnS": 3.75, "CdSe": 1.9}


def scattering(absorbance_500nm: float, exponent: float = 1.5) -> tuple:
    return ("s", float(absorbance_500nm), float(exponent))


_GRID_CACHE: dict = {}

#: a Gaussian is evaluated where |E − E0| < GAUSS_WINDOW_SIGMA·σ: outside, exp(−40.5)
#: = 2.6e-18 of its amplitude, below double precision relative to the spectrum
GAUSS_WINDOW_SIGMA = 9.0
#: a logistic continuum is evaluated where |E − onset| < LOGISTIC_WINDOW_WIDTHS·w:
#: beyond, it is 0 (within e^−40 = 4e-18 of its plateau) or exactly its plateau
LOGISTIC_WINDOW_WIDTHS = 40.0


def _grid(wavelengths_nm):
    """(wavelengths, energies, ascending energies or None, reversed?) for a grid, cached.

    The ascending view is the energy grid itself (or reversed, for ascending
    wavelengths) when it is strictly monotonic and finite; else None and the
    renderers evaluate every band on the whole grid.
    """
    wl = np.asarray(wavelengths_nm, dtype=float)
    if wl.size == 0:
        return wl, wl.copy(), None, False
    # a detector grid is the same array every read: key on shape, ends and sum
    key = (wl.shape, float(wl.flat[0]), float(wl.flat[-1]), float(wl.sum()))
    hit = _GRID_CACHE.get(key)
    if hit is not None:
        return (wl,) + hit
    with np.errstate(divide="ignore", invalid="ignore"):
        e = HC_EV_NM / np.where(wl > 0, wl, np.nan)
    asc, rev = None, False
    if e.ndim == 1 and np.all(np.isfinite(e)):
        d = np.diff(e)
        if np.all(d > 0):
            asc = e
        elif np.all(d < 0):
            asc, rev = e[::-1], True
    if len(_GRID_CACHE) > 16:
        _GRID_CACHE.clear()
    _GRID_CACHE[key] = (e, asc, rev)
    return wl, e, asc, rev


def energy_grid(wavelengths_nm) -> tuple[np.ndarray, np.ndarray]:
    """(wavelengths, photon energies in eV); cached for a repeated detector grid."""
    wl, e, _, _ = _grid(wavelengths_nm)
    return wl, e


def _window(asc, rev, n, lo_ev, hi_ev):
    """Index slice of the grid whose energies lie in [lo_ev, hi_ev] (monotonic grids)."""
    i, j = np.searchsorted(asc, (lo_ev, hi_ev), side="left")
    j = int(j)
    j += int(j < n and asc[j] == hi_ev)
    i = int(i)
    return (n - j, n - i) if rev else (i, j)


def _merged(bands):
    """Gaussians with the same (E0, σ) and continua with the same (onset, w) summed."""
    g: dict = {}
    c: dict = {}
    s = []
    for band in bands:
        kind = band[0]
        if kind == "g":
            if band[3] != 0.0:
                g[band[1], band[2]] = g.get((band[1], band[2]), 0.0) + band[3]
        elif kind == "c":
            if band[3] != 0.0:
                c[band[1], band[2]] = c.get((band[1], band[2]), 0.0) + band[3]
        elif kind == "s":
            if band[1] != 0.0:
                s.append(band)
        else:
            raise ValueError(f"unknown band kind {kind!r}")
    return g, c, s


def render_absorbance(bands, wavelengths_nm) -> np.ndarray:
    """Sum the bands on a wavelength grid (1-cm absorbance).

    On a monotonic grid each Gaussian is evaluated only within ±9σ and each
    continuum only across its ±40 w transition, its plateau added as a constant
    on the saturated side; other grids get the full evaluation.  Both agree to
    double precision (tests/sim_devices/reactor/test_render_fast.py).
    """
    wl, e, asc, rev = _grid(wavelengths_nm)
    out = np.zeros_like(wl)
    if wl.size == 0:
        return out
    g, c, s = _merged(bands)
    n = e.size
    tmp = np.empty_like(wl)
    for (e0, sg), a in g.items():
        if asc is None:
            i, j = 0, n
        else:
            half = GAUSS_WINDOW_SIGMA * sg
            if asc[0] <= e0 <= asc[-1]:
                i, j = _window(asc, rev, n, e0 - half, e0 + half)
            else:       # only a tail on the grid: it may be all the spectrum there is
                i, j = 0, n
        t = tmp[i:j]
        np.subtract(e[i:j], e0, out=t)
        t *= 1.0 / sg
        np.square(t, out=t)
        t *= -0.5
        np.exp(t, out=t)
        t *= a
        out[i:j] += t
    for (onset, w), plateau in c.items():
        if asc is None:
            i, j = 0, n
        else:
            half = LOGISTIC_WINDOW_WIDTHS * w
            # an onset above the grid leaves only its tail, which may be all there is
            top = onset + half if onset <= asc[-1] else math.inf
            i, j = _window(asc, rev, n, onset - half, top)
            # the saturated (high-energy) side gets the plateau itself
            if rev:
                if i > 0:
                    out[:i] += plateau
            elif j < n:
                out[j:] += plateau
            if i >= j:
                continue
        # logistic step = (1 + tanh(x/2)) / 2: no overflow, no clipping needed
        t = tmp[i:j]
        np.subtract(e[i:j], onset, out=t)
        t *= 0.5 / w
        np.tanh(t, out=t)
        t += 1.0
        t *= 0.5 * plateau
        out[i:j] += t
    with np.errstate(divide="ignore", invalid="ignore"):   # λ ≤ 0 pixels are zeroed below
        for _, a500, p in s:
            out += a500 * (wl * (1.0 / 500.0)) ** (-p)
    if asc is None and not np.all(wl > 0):
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
    """Emission lines → photons per nm (each line's ``photons`` is its integral over λ).

    Windowed like :func:`render_absorbance` on monotonic grids.
    """
    wl, e, asc, rev = _grid(wavelengths_nm)
    out = np.zeros_like(wl)
    if wl.size == 0:
        return out
    n = e.size
    merged: dict = {}
    for _, e0, s, photons in lines:
        if photons > 0.0:
            merged[e0, s] = merged.get((e0, s), 0.0) + photons
    for (e0, s), photons in merged.items():
        if asc is None:
            i, j = 0, n
        else:
            half = GAUSS_WINDOW_SIGMA * s
            i, j = (_window(asc, rev, n, e0 - half, e0 + half) if asc[0] <= e0 <= asc[-1]
                    else (0, n))
        ew = e[i:j]
        z = (ew - e0) * (1.0 / s)
        # Gaussian in energy, converted to per-nm: |dE/dλ| = E²/hc
        out[i:j] += ((photons / (s * math.sqrt(2.0 * math.pi))) * np.exp(-0.5 * z * z)
                     * (ew * ew / HC_EV_NM))
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
