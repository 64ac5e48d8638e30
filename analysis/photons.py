"""Photon flux, photon dose, apparent quantum yield and excitation statistics.

* Photon flux from optical power (SCIENCE.md B): N/s = P·λ/(h·c).
* Dose = ∫ irradiance dt over an irradiance history (SCIENCE.md A4 wants the
  photon dose delivered per stage).  Two integration rules:

  - ``"step"`` (default): each reading holds until the next one — the right
    rule for a *setpoint* history, where the LED jumps between levels;
  - ``"trapezoid"``: linear between readings — for sampled *measurements* of a
    smoothly varying source.

* Apparent quantum yield (SCIENCE.md B): AQY = electrons used / incident
  photons = n_e · mol product / mol photons.
* Poisson statistics of excitations per dot (SCIENCE.md A3):
  P(i) = λⁱ e^−λ / i!, hot electrons need i ≥ 2.

Units: irradiance in mW/cm², power in W, wavelength in nm, time in s; amounts
of photons in mol (einstein) unless the name says ``photons``.
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln

PLANCK_J_S = 6.62607015e-34
LIGHT_M_S = 299792458.0
AVOGADRO = 6.02214076e23


def _out(x):
    x = np.asarray(x, float)
    return x.item() if x.ndim == 0 else x


def photon_energy_j(wavelength_nm):
    """Energy of one photon (J): h·c/λ."""
    lam = np.asarray(wavelength_nm, float)
    if np.any(lam <= 0):
        raise ValueError(f"wavelength must be positive, got {wavelength_nm} nm")
    return _out(PLANCK_J_S * LIGHT_M_S / (lam * 1e-9))


def photon_flux_per_s(power_w, wavelength_nm):
    """Photons per second carried by ``power_w`` of monochromatic light: P·λ/(h·c)."""
    return _out(np.asarray(power_w, float) / photon_energy_j(wavelength_nm))


def photon_flux_mol_s(power_w, wavelength_nm):
    """Photon flux in einstein (mol photons) per second."""
    return _out(np.asarray(photon_flux_per_s(power_w, wavelength_nm)) / AVOGADRO)


def photon_flux_cm2_s(irradiance_mw_cm2, wavelength_nm):
    """Photons cm⁻² s⁻¹ at an irradiance (mW/cm²)."""
    return _out(np.asarray(irradiance_mw_cm2, float) * 1e-3 / photon_energy_j(wavelength_nm))


def _integrate(t_s, y, method: str, cumulative: bool):
    t = np.asarray(t_s, float)
    v = np.asarray(y, float)
    if t.ndim != 1 or t.shape != v.shape:
        raise ValueError(f"times {t.shape} and values {v.shape} must be matching 1-D arrays")
    if t.size and np.any(np.diff(t) < 0):
        raise ValueError("times must be non-decreasing")
    if method not in ("step", "trapezoid"):
        raise ValueError(f"method must be 'step' or 'trapezoid', not {method!r}")
    if t.size < 2:
        return np.zeros(t.size) if cumulative else 0.0
    dt = np.diff(t)
    v = np.nan_to_num(v, nan=0.0)     # an unknown reading contributes nothing, not NaN
    pieces = v[:-1] * dt if method == "step" else 0.5 * (v[:-1] + v[1:]) * dt
    if cumulative:
        return np.concatenate([[0.0], np.cumsum(pieces)])
    return float(pieces.sum())


def radiant_dose_j_cm2(time_s, irradiance_mw_cm2, *, method: str = "step",
                       cumulative: bool = False):
    """Radiant exposure ∫ irradiance dt (J/cm²) from an irradiance history.

    Parameters
    ----------
    time_s : array_like
        Times of the readings or setpoint changes (s, non-decreasing).
    irradiance_mw_cm2 : array_like
        Irradiance at those times (mW/cm²); NaN counts as dark.
    method : {"step", "trapezoid"}
        See the module docstring.  With ``"step"`` the last value has no
        duration: append the switch-off time with 0 to close a programme.
    cumulative : bool
        Return the running dose at every time instead of the total.
    """
    dose_mj = _integrate(time_s, irradiance_mw_cm2, method, cumulative)
    return _out(np.asarray(dose_mj) * 1e-3)


def photon_dose_mol_cm2(time_s, irradiance_mw_cm2, wavelength_nm, *, method: str = "step",
                        cumulative: bool = False):
    """Photon dose (einstein/cm²) of monochromatic light from an irradiance history."""
    joules = np.asarray(radiant_dose_j_cm2(time_s, irradiance_mw_cm2, method=method,
                                           cumulative=cumulative))
    return _out(joules / photon_energy_j(wavelength_nm) / AVOGADRO)


def photon_dose_by_stage(time_s, irradiance_mw_cm2, stage, wavelength_nm: float, *,
                         method: str = "step") -> dict:
    """Photon dose (einstein/cm²) per stage label of an irradiance history.

    ``stage[i]`` labels the interval starting at ``time_s[i]`` (for an
    intensity-switched cascade, SCIENCE.md A4).  Returns ``{label: dose}``
    in order of first appearance.
    """
    t = np.asarray(time_s, float)
    v = np.nan_to_num(np.asarray(irradiance_mw_cm2, float), nan=0.0)
    labels = list(stage)
    if len(labels) != t.size or v.size != t.size:
        raise ValueError("time, irradiance and stage must have the same length")
    dt = np.diff(t)
    pieces = v[:-1] * dt if method == "step" else 0.5 * (v[:-1] + v[1:]) * dt
    per_photon = photon_energy_j(wavelength_nm) * AVOGADRO
    out: dict = {}
    for lab in labels:
        out.setdefault(lab, 0.0)
    for lab, mj in zip(labels[:-1], pieces, strict=True):
        out[lab] += float(mj) * 1e-3 / per_photon
    return out


def incident_photons_mol(irradiance_mw_cm2, area_cm2, duration_s, wavelength_nm):
    """Photons (mol) reaching an illuminated area at constant irradiance."""
    return _out(np.asarray(photon_flux_cm2_s(irradiance_mw_cm2, wavelength_nm)) * area_cm2
                * duration_s / AVOGADRO)


def apparent_quantum_yield(product_mol, electrons_per_product, photons_mol):
    """AQY = electrons used / incident photons (fraction, SCIENCE.md B).

    CO₂ → CO takes 2 electrons per CO.  Example: 0.32 % at 400 nm means
    2·n_CO / n_photons = 0.0032.
    """
    ph = np.asarray(photons_mol, float)
    if np.any(ph <= 0):
        raise ValueError(f"incident photons must be positive, got {photons_mol} mol")
    return _out(electrons_per_product * np.asarray(product_mol, float) / ph)


def poisson_probability(i, mean):
    """P(i) = λⁱ e^−λ / i! — probability of ``i`` excitations per dot at mean ``λ``."""
    i = np.asarray(i)
    lam = np.asarray(mean, float)
    if np.any(lam < 0) or np.any(i < 0):
        raise ValueError("Poisson mean and counts must be non-negative")
    with np.errstate(divide="ignore", invalid="ignore"):
        logp = i * np.log(lam) - lam - gammaln(i + 1.0)
    out = np.where(lam == 0, (i == 0).astype(float), np.exp(logp))
    return _out(out)


def probability_at_least(k: int, mean):
    """P(i ≥ k) for a Poisson mean λ; k = 2 gives the hot-electron fraction."""
    lam = np.asarray(mean, float)
    below = sum(np.asarray(poisson_probability(j, lam)) for j in range(int(k)))
    return _out(np.clip(1.0 - below, 0.0, 1.0))


def mean_excitations(photon_flux_cm2_s_value, cross_section_cm2, lifetime_s):
    """Mean number of long-lived excitations per dot, λ = σ·J·τ.

    For Mn²⁺-doped dots τ is the ms-long Mn²⁺ (⁴T) lifetime, which is why
    sequential two-photon events become likely at modest irradiance.
    """
    return _out(np.asarray(photon_flux_cm2_s_value, float) * cross_section_cm2 * lifetime_s)

