"""Compiled right-hand sides of the reactor chemistry, and the step that integrates them.

The phenomena — nanocrystal growth (:mod:`.nanocrystals`), CdTe magic-sized clusters
(:mod:`.msc`) and cation exchange (:mod:`.exchange`) — are described, calibrated and
bookkept in their own modules.  Their time derivatives are evaluated some fifty times
per virtual hour of active chemistry, which in plain Python cost ≈ 10 µs each; here
they are compiled with numba (≈ 0.3 µs), together with the Runge–Kutta step
(Dormand–Prince 5(4)) and its error estimate (:func:`dormand_prince_step`, the arithmetic of
:class:`~.base.StepControl`), so one sub-step of chemistry is one call.

Self-contained on purpose
-------------------------
numba keeps compiled code in an on-disk cache (``__pycache__``) that is invalidated
only when *this file* changes: compiled code that read a constant or called a function
of another module would silently keep a stale copy after that module was edited.  So
nothing compiled here reads anything from outside this file: every constant arrives in
the parameter vector ``p`` each process builds, laid out as the ``*_CONSTANTS`` name
tuples below say (the processes build it by name, so a missing constant is a
``KeyError``, not a silent shift).

Each derivative is ``f(y, T, p, aux) → dy/dt`` for a state array ``y`` at ``T`` °C.
``aux`` is a small array a derivative may write to (the nanocrystal model reports its
quasi-steady monomer levels there) or read from.
"""

from __future__ import annotations

import math

import numpy as np
from numba import boolean, float64, int64, njit
from numba.types import Tuple

#: which derivative :func:`derivative` and :func:`dormand_prince_step` evaluate
GROWTH, CLUSTERS, EXCHANGE = 0, 1, 2

GAS_CONSTANT = 8.314462618


#: numba signatures of what Python calls: compiled (or loaded from the cache) when this
#: module is imported, so a session never stalls at its first chemistry step (in an
#: emulator answering a driver, say); what only compiled code calls is compiled with it
_F = float64
_ARR = float64[::1]


@njit(_F(_F, _F, _F, _F), cache=True)
def arrhenius(k_ref: float, ea_kj_mol: float, temperature_c: float, ref_c: float) -> float:
    """Rate constant at ``temperature_c`` from its value ``k_ref`` at ``ref_c``."""
    return k_ref * math.exp(-ea_kj_mol * 1e3 / GAS_CONSTANT
                            * (1.0 / (temperature_c + 273.15) - 1.0 / (ref_c + 273.15)))


# -- nanocrystals ----------------------------------------------------------------------
#: state: free Cd, S, Zn, Se, Mn; monomer CdS, ZnS, CdSe; then per population
#: N, core units, CdS shell, ZnS shell, σ, adsorbed Cd, adsorbed Zn, Mn (all mol, σ nm)
GROWTH_HEAD, GROWTH_FIELDS = 8, 8
#: population field a monomer deposits into: [monomer][core is CdSe] (1 core, 2 CdS, 3 ZnS)
GROWTH_FIELD = ((1, 2), (3, 3), (1, 1))
#: constants (then 9 Arrhenius rows of ``GROWTH_RATES``: k_ref, Ea kJ/mol, T_ref °C)
GROWTH_CONSTANTS = ("surface_capacity_ml", "small_fraction", "lsw_width", "mn_capacity",
                    "doping_ripening", "nucleation_j0", "nucleation_order",
                    "v_cds", "v_zns", "t_ml", "u_nuc_cds", "u_nuc_cdse", "four_pi_na")
GROWTH_RATES = ("ads", "ads_zn", "surf", "surf_zn", "ripen", "dope", "hom_cds", "hom_zns",
                "hom_cdse")
_GR = len(GROWTH_CONSTANTS)                  # first rate row
#: conditions after the rates: population count, litres, amine activation, surface
#: activation, per monomer (CdS, ZnS, CdSe) its critical amount, growth coefficient and
#: quasi-steady flag, nucleation slots of CdS and CdSe (−1: none); then per population
#: its core's unit volume, "core is CdSe", "can be Mn-doped"
GROWTH_CONDITIONS = _GR + 3 * len(GROWTH_RATES)
_C = GROWTH_CONDITIONS
G_NPOP, G_LITRES, G_AMINE, G_SURF_ACT = _C, _C + 1, _C + 2, _C + 3
G_CCRIT, G_GROWTH, G_QSS, G_SLOT = _C + 4, _C + 7, _C + 10, _C + 13
G_POP, G_PER_POP = _C + 15, 3


@njit(cache=True)
def growth_derivative(y, temp, p, pool):  # pragma: no cover - compiled
    """Nanocrystals: homogeneous monomer formation, SILAR adsorption and surface
    reaction, growth from monomer, LSW ripening, Mn doping, LaMer nucleation.

    Quasi-steady monomer pools (flag in ``p``) deposit everything formed at once, shared
    by surface area; the level that implies is written to ``pool``.
    """
    cap_ml, small_frac, lsw = p[0], p[1], p[2]
    mn_cap, dope_ripen, j0, nuc_order = p[3], p[4], p[5], p[6]
    v_cds, v_zns, t_ml = p[7], p[8], p[9]
    four_pi_3 = 4.0 * math.pi / 3.0
    four_pi_na = p[12]
    k = np.empty(9)
    for r in range(9):
        b = _GR + 3 * r
        k[r] = arrhenius(p[b], p[b + 1], temp, p[b + 2])
    k_ads, k_ads_zn, k_surf, k_surf_zn, k_rip, k_dope = k[0], k[1], k[2], k[3], k[4], k[5]
    npop = int(p[G_NPOP])
    litres, amine, surf_act = p[G_LITRES], p[G_AMINE], p[G_SURF_ACT]
    head, fields = GROWTH_HEAD, GROWTH_FIELDS
    cd = max(y[0], 0.0)
    s = max(y[1], 0.0)
    zn = max(y[2], 0.0)
    se = max(y[3], 0.0)
    mnf = max(y[4], 0.0)
    d = np.zeros(y.size)
    radii = np.zeros(max(npop, 1))
    areas = np.zeros(max(npop, 1))
    caps = np.zeros(max(npop, 1))
    ads_total = 0.0
    for i in range(npop):
        b = head + fields * i
        n = y[b]
        if n <= 0.0:
            continue
        vol = (max(y[b + 1], 0.0) * p[G_POP + G_PER_POP * i] + max(y[b + 2], 0.0) * v_cds
               + max(y[b + 3], 0.0) * v_zns) / n
        r = (vol / four_pi_3) ** (1.0 / 3.0)
        radii[i] = r
        areas[i] = n * four_pi_na * r * r
        caps[i] = cap_ml * n * four_pi_3 * ((r + t_ml) ** 3 - r ** 3) / v_cds
        ads_total += max(y[b + 5], 0.0) + max(y[b + 6], 0.0)
    a_tot = areas.sum()
    r_max = radii.max()
    cations = ads_total + cd + zn
    f_s = min(1.0, s / cations) if cations > 0 else 0.0
    # homogeneous monomer formation (first order in the limiting precursor)
    h_cds = k[6] * amine * cd * f_s
    h_zns = k[7] * amine * zn * f_s
    h_cdse = k[8] * min(cd, se)
    d[0] -= h_cds + h_cdse
    d[1] -= h_cds + h_zns
    d[2] -= h_zns
    d[3] -= h_cdse
    d[5] += h_cds
    d[6] += h_zns
    d[7] += h_cdse
    qss = (p[G_QSS] > 0.0, p[G_QSS + 1] > 0.0, p[G_QSS + 2] > 0.0)
    sat = (y[5] / p[G_CCRIT], y[6] / p[G_CCRIT + 1], y[7] / p[G_CCRIT + 2])
    for i in range(npop):
        b = head + fields * i
        n = y[b]
        if n <= 0.0:
            continue
        is_cdse = p[G_POP + G_PER_POP * i + 1] > 0.0
        doped_ok = p[G_POP + G_PER_POP * i + 2] > 0.0
        r = radii[i]
        a_cd = max(y[b + 5], 0.0)
        a_zn = max(y[b + 6], 0.0)
        share = areas[i] / a_tot
        room = max(1.0 - (a_cd + a_zn) / caps[i], 0.0)
        # SILAR: cations adsorb on the surface, anions react with adsorbed cations
        ads_cd = k_ads * surf_act * cd * share * room
        ads_zn = k_ads_zn * surf_act * zn * share * room
        rx_cd = k_surf * surf_act * a_cd * f_s
        rx_zn = k_surf_zn * surf_act * a_zn * f_s
        d[0] -= ads_cd
        d[2] -= ads_zn
        d[1] -= rx_cd + rx_zn
        d[b + 5] += ads_cd - rx_cd
        d[b + 6] += ads_zn - rx_zn
        d[b + 2] += rx_cd
        d[b + 3] += rx_zn
        # growth from monomer in solution (pools in quasi-steady state: below)
        a_i = areas[i]
        g_cds = 0.0 if qss[0] else p[G_GROWTH] * a_i * sat[0]
        g_zns = 0.0 if qss[1] else p[G_GROWTH + 1] * a_i * sat[1]
        g_cdse = 0.0 if qss[2] else p[G_GROWTH + 2] * a_i * sat[2]
        if is_cdse:
            d[b + 1] += g_cdse
            d[b + 2] += g_cds
        else:
            d[b + 1] += g_cds + g_cdse
        d[b + 3] += g_zns
        d[5] -= g_cds
        d[6] -= g_zns
        d[7] -= g_cdse
        # Ostwald ripening (LSW): large populations coarsen, small ones dissolve
        rate = k_rip / (r * r * r)
        if r < small_frac * r_max:
            frac = 3.0 * rate
            d[b] -= n * frac
            lost_core = max(y[b + 1], 0.0) * frac
            d[b + 1] -= lost_core
            d[7 if is_cdse else 5] += lost_core
            lost = max(y[b + 2], 0.0) * frac
            d[b + 2] -= lost
            d[5] += lost
            lost = max(y[b + 3], 0.0) * frac
            d[b + 3] -= lost
            d[6] += lost
        else:
            d[b] -= n * rate
            d[b + 4] += 2.0 * (lsw * r - y[b + 4]) * rate
        # Mn doping of CdS-based particles, with dopant-induced ripening
        if mnf > 0.0 and (doped_ok or y[b + 2] > 0):
            per_dot = max(y[b + 7], 0.0) / n
            up = k_dope * (mnf / litres) * n * max(0.0, mn_cap - per_dot)
            d[4] -= up
            d[b + 7] += up
            d[b] -= dope_ripen * up
            d[b + 4] += 0.5 * (lsw * r - y[b + 4]) * dope_ripen * up / n
    if a_tot > 0.0:
        # quasi-steady pools: everything formed (or dissolved) deposits at once,
        # shared by surface area; the pool holds c_crit·P/(g·A)
        for j in range(3):
            if not qss[j]:
                continue
            supply = max(d[5 + j], 0.0)
            pool[j] = supply * p[G_CCRIT + j] / (p[G_GROWTH + j] * a_tot)
            d[5 + j] = 0.0
            if supply == 0.0:
                continue
            for i in range(npop):
                if areas[i] <= 0.0:
                    continue
                b = head + fields * i
                is_cdse = p[G_POP + G_PER_POP * i + 1] > 0.0
                field = GROWTH_FIELD[j][1] if is_cdse else GROWTH_FIELD[j][0]
                d[b + field] += supply * areas[i] / a_tot
    # nucleation (LaMer): only above the critical monomer concentration
    for idx, unit in ((0, 0), (2, 1)):                 # CdS, CdSe
        slot = int(p[G_SLOT + unit])
        if qss[idx] or slot < 0:
            continue
        excess = sat[idx] - 1.0
        if excess > 0.0:
            rate_j = j0 * litres * excess ** nuc_order
            u_nuc = p[10 + unit]
            b = head + fields * slot
            d[b] += rate_j
            d[b + 1] += rate_j * u_nuc
            d[5 + idx] -= rate_j * u_nuc
    return d


# -- CdTe magic-sized clusters ------------------------------------------------------------
#: state: Te, I, P, M449, M469, Q, M480, M550, lost (mol); QD diameter, σ, age
CLUSTER_SPECIES = 9
CLUSTER_CONSTANTS = (
    "k1_per_s", "k1_ea", "activation_mid_c", "activation_width_c", "k_side_per_s",
    "k_side_ea", "k2_per_s", "cluster_growth", "qd_autocatalysis", "k_auto_per_s",
    "k_auto_ea", "oam_half_mol", "n_oam", "k_p_per_s", "k3_per_s", "k3_ea", "k4_per_s",
    "k4_ea", "k4b_per_s", "k4b_ea", "k4b_ref_c", "minor_fraction", "minor_mid_c",
    "d_start_per_ex", "d_end_per_ex", "sigma_start", "relax_per_s_100", "relax_per_s_150",
    "d_start_100", "d_start_150", "d_end_100", "d_end_150", "sigma_end_100",
    "sigma_end_150")
_K = len(CLUSTER_CONSTANTS)
#: conditions after the constants: total Cd, TOP factor, OAm (mol), standard Te (mol),
#: Cd excess, OAm factor, conversion factor, QD factor, QD-from-469 factor, critical I
CLUSTER_CONDITIONS = _K
K_CD, K_TOP_F, K_OAM, K_TE_STD, K_EX, K_OAM_F = _K, _K + 1, _K + 2, _K + 3, _K + 4, _K + 5
K_CONV, K_QD_F, K_QD_469, K_I_CRIT = _K + 6, _K + 7, _K + 8, _K + 9


@njit(cache=True)
def _logistic(x: float) -> float:
    if x < -60:
        return 0.0
    return 1.0 / (1.0 + math.exp(-x))


@njit(cache=True)
def _between_100_and_150(v100: float, v150: float, temperature_c: float) -> float:
    f = min(1.0, max(0.0, (temperature_c - 100.0) / 50.0))
    return v100 + f * (v150 - v100)


@njit(cache=True)
def cluster_derivative(y, temp, p, aux):  # pragma: no cover - compiled
    """CdTe: Te → intermediate I → 449/469 nm clusters, precursor complex P, QDs."""
    n = CLUSTER_SPECIES
    te = max(y[0], 0.0)
    i_ = max(y[1], 0.0)
    p_amt = max(y[2], 0.0)
    m449 = max(y[3], 0.0)
    m469 = max(y[4], 0.0)
    q = max(y[5], 0.0)
    m480 = max(y[6], 0.0)
    m550 = max(y[7], 0.0)
    d_q, sig, age = y[n], y[n + 1], y[n + 2]
    cd_total, oam_total, te_std_mol, ex = p[K_CD], p[K_OAM], p[K_TE_STD], p[K_EX]
    i_crit = p[K_I_CRIT]
    growth, minor_fraction = p[7], p[21]
    d = np.zeros(y.size)
    act = _logistic((temp - p[2]) / p[3])
    cd_free = max(cd_total - (i_ + p_amt + m449 + m469 + q + m480 + m550), 0.0)
    f_cd = cd_free / (cd_free + 0.02 * te_std_mol)
    r1 = p[0] * arrhenius(1.0, p[1], temp, 100.0) * act * p[K_TOP_F] * p[K_OAM_F] * f_cd * te
    r_side = arrhenius(p[4], p[5], temp, 100.0) * te
    bound = p[12] * (m449 + m469)
    oam_free = max(oam_total - bound, 0.0)
    s6 = (i_ / i_crit) ** 6 if i_crit > 0 else 0.0
    # nucleation above I_c, then growth onto the clusters already there
    seeded = s6 / (1.0 + s6) + growth * (m449 + m469) / te_std_mol
    r2 = p[6] * i_ * seeded * oam_free / (oam_free + p[11])
    # hot, monomer also feeds the growing QDs (the clusters may all be gone)
    minor = minor_fraction * _logistic((temp - p[22]) / 5.0)
    r_qi = p[6] * growth * i_ * q / te_std_mol * minor / minor_fraction
    r_p = p[13] * i_
    r3 = arrhenius(p[14], p[15], temp, 100.0) * p[K_CONV] * m449
    k4 = arrhenius(p[16], p[17], temp, 100.0)
    # hot QDs ripen at the expense of the clusters: autocatalytic in the QD amount
    k_auto = arrhenius(p[9], p[10], temp, 100.0)
    r4 = (k4 + k_auto * q / (p[8] * te_std_mol)) * p[K_QD_F] * m449
    # the 469 family dissolves into QDs when hot, or with excess Cd
    r4b = (arrhenius(p[18], p[19], temp, p[20]) + k4 * p[K_QD_469]) * m469
    to_q = (r4 + r4b) * (1.0 - 2.0 * minor) + r_qi
    d[0] = -r1 - r_side
    d[1] = r1 - r2 - r_p - r_qi
    d[2] = r_p
    d[3] = r2 - r3 - r4
    d[4] = r3 - r4b
    d[5] = to_q
    d[6] = (r4 + r4b) * minor
    d[7] = (r4 + r4b) * minor
    d[8] = r_side
    # QD size: new material enters at D_start, the ensemble relaxes to D_end
    d_start = _between_100_and_150(p[28], p[29], temp) + p[23] * ex
    d_end = _between_100_and_150(p[30], p[31], temp) + p[24] * ex
    relax = _between_100_and_150(p[26], p[27], temp)
    if q > 1e-15:
        inflow = to_q / q
        d[n] = relax * (d_end - d_q) + inflow * (d_start - d_q)
        d[n + 1] = (relax * (_between_100_and_150(p[32], p[33], temp) - sig)
                    + inflow * (p[25] - sig))
        d[n + 2] = 1.0 / 3600.0 - inflow * age
    else:
        # before any QD exists their would-be size tracks the starting size
        d[n] = (d_start - d_q) / 60.0
    return d


# -- cation exchange -------------------------------------------------------------------------
#: state: Hg fraction per shell (inner → outer), then Hg free, Ag free, Ag in the
#: particles, Cd released (mol), flocculated fraction
EXCHANGE_CONSTANTS = ("d_ie_nm2_s", "d_ea", "no_ag_factor", "ag_optimum_per_cd",
                      "no_thiol_factor", "thiol_order", "hg_half_saturation",
                      "k_x", "k_x_ea", "k_x_ref_c", "k_ag_uptake", "k_ag_ext", "k_ag_ext_ea",
                      "k_ag_ext_ref_c", "floc_onset_c")
_E = len(EXCHANGE_CONSTANTS)
#: conditions after the constants: shells, sites (mol), outer radius³, DDT, TOP (mol),
#: thiol present; then the shells' edge radii (shells + 1) and volume fractions (shells)
EXCHANGE_CONDITIONS = _E
E_SHELLS, E_SITES, E_VOL, E_DDT, E_TOP, E_THIOL, E_EDGES = (_E, _E + 1, _E + 2, _E + 3, _E + 4,
                                                          _E + 5, _E + 6)


@njit(_F(_ARR, _F, _F, boolean), cache=True)
def interdiffusion_nm2_s(p, temperature_c: float, ag_per_cd: float, thiol: bool) -> float:
    """Hg/Cd interdiffusion: Arrhenius, Ag-assisted (optimum ``ag_optimum_per_cd``),
    slowed without thiol."""
    a = ag_per_cd / p[3]
    f_ag = p[2] + a * math.exp(1.0 - a)
    return p[0] * arrhenius(1.0, p[1], temperature_c, 80.0) * f_ag * (1.0 if thiol else p[4])


@njit(cache=True)
def exchange_derivative(y, temp, p, aux):  # pragma: no cover - compiled
    """Surface exchange of the outer shell with free Hg, Fickian interdiffusion between
    shells, Ag uptake and extraction by TOP, flocculation when hot."""
    shells = int(p[E_SHELLS])
    edges = p[E_EDGES:E_EDGES + shells + 1]
    vf = p[E_EDGES + shells + 1:E_EDGES + 2 * shells + 1]
    sites, vol_total, ddt, top = p[E_SITES], p[E_VOL], p[E_DDT], p[E_TOP]
    hg = max(y[shells], 0.0)
    ag_free = max(y[shells + 1], 0.0)
    ag_in = max(y[shells + 2], 0.0)
    floc = y[shells + 4]
    d = np.zeros(y.size)
    a = ag_in / sites
    d_coef = interdiffusion_nm2_s(p, temp, a, p[E_THIOL] > 0.0)
    # Fickian flux between shells: dx_k/dt = D/V_k Σ A (Δx/Δr)
    for k in range(shells - 1):
        r_face = edges[k + 1]
        dr = 0.5 * (edges[k + 2] - edges[k])
        flux = 3.0 * d_coef * r_face * r_face * (y[k + 1] - y[k]) / dr / vol_total
        d[k] += flux / vf[k]
        d[k + 1] -= flux / vf[k + 1]
    # surface exchange of the outer layer with free Hg
    # thiol binds the metal ions in solution (≈ M(SR)₂): Hg and the Cd it released
    free_ratio = 1.0
    metal = hg + max(y[shells + 3], 0.0)
    if ddt > 0 and metal > 0:
        free_ratio = 1.0 / (1.0 + (ddt / (2.0 * metal)) ** p[5])
    h = hg * free_ratio / sites
    a_hg = h / (h + p[6])
    slow = 1.0 / (1.0 + max(0.0, a / p[3] - 1.0))
    rate = arrhenius(p[7], p[8], temp, p[9]) * a_hg * slow * (1.0 - y[shells - 1])
    d[shells - 1] += rate
    exchanged = rate * vf[shells - 1] * sites        # mol of sites per s
    d[shells] -= exchanged
    d[shells + 3] += exchanged
    # Ag: uptake into the lattice, extraction by TOP (the Ag stays complexed by TOP)
    up = p[10] * ag_free
    d[shells + 1] -= up
    d[shells + 2] += up
    if top > 0:
        d[shells + 2] -= arrhenius(p[11], p[12], temp, p[13]) * ag_in
    # flocculation above the onset temperature
    if temp > p[14]:
        d[shells + 4] = (temp - p[14]) / 20.0 / 600.0 * (1.0 - floc)
    return d


# -- integration -------------------------------------------------------------------------------
@njit(_ARR(int64, _ARR, _F, _ARR, _ARR), cache=True)
def derivative(kind, y, temp, p, aux):  # pragma: no cover - compiled
    if kind == GROWTH:
        return growth_derivative(y, temp, p, aux)
    if kind == CLUSTERS:
        return cluster_derivative(y, temp, p, aux)
    return exchange_derivative(y, temp, p, aux)


#: where in a step (fraction of h) the Dormand–Prince stages evaluate the derivative:
#: the temperatures passed to :func:`dormand_prince_step` are those at these points
STAGE_NODES = (0.0, 1.0 / 5.0, 3.0 / 10.0, 4.0 / 5.0, 8.0 / 9.0, 1.0)


@njit(Tuple((_ARR, _ARR, _F))(int64, _ARR, _F, _ARR, _ARR, _ARR, _ARR, _ARR, _F), cache=True)
def dormand_prince_step(kind, y0, h, temps, p, aux, k1, scale, rtol):  # pragma: no cover
    """One Dormand–Prince 5(4) step of ``y' = f(y, T)`` and its error estimate.

    ``temps`` are the contents temperatures at :data:`STAGE_NODES` of the step (the
    heat model's exact path).  ``k1`` is the derivative at the start if the caller has it (else an empty
    array).  Returns ``(y1, k7, err)``: the fifth-order solution, the derivative at
    its end (the next step's ``k1`` when nothing else changes the state: "first
    same as last") and ``max|y1 − ŷ1| / (rtol·(|y1| + scale))`` with ``ŷ1`` the
    embedded fourth-order solution.
    """
    if k1.size == 0:
        k1 = derivative(kind, y0, temps[0], p, aux)
    k2 = derivative(kind, y0 + h * (1.0 / 5.0) * k1, temps[1], p, aux)
    k3 = derivative(kind, y0 + h * (3.0 / 40.0 * k1 + 9.0 / 40.0 * k2), temps[2], p, aux)
    k4 = derivative(kind, y0 + h * (44.0 / 45.0 * k1 - 56.0 / 15.0 * k2 + 32.0 / 9.0 * k3),
                    temps[3], p, aux)
    k5 = derivative(kind, y0 + h * (19372.0 / 6561.0 * k1 - 25360.0 / 2187.0 * k2
                                    + 64448.0 / 6561.0 * k3 - 212.0 / 729.0 * k4),
                    temps[4], p, aux)
    k6 = derivative(kind, y0 + h * (9017.0 / 3168.0 * k1 - 355.0 / 33.0 * k2
                                    + 46732.0 / 5247.0 * k3 + 49.0 / 176.0 * k4
                                    - 5103.0 / 18656.0 * k5), temps[5], p, aux)
    y1 = y0 + h * (35.0 / 384.0 * k1 + 500.0 / 1113.0 * k3 + 125.0 / 192.0 * k4
                   - 2187.0 / 6784.0 * k5 + 11.0 / 84.0 * k6)
    k7 = derivative(kind, y1, temps[5], p, aux)
    e = h * ((35.0 / 384.0 - 5179.0 / 57600.0) * k1 + (500.0 / 1113.0 - 7571.0 / 16695.0) * k3
             + (125.0 / 192.0 - 393.0 / 640.0) * k4 + (-2187.0 / 6784.0 + 92097.0 / 339200.0) * k5
             + (11.0 / 84.0 - 187.0 / 2100.0) * k6 - 1.0 / 40.0 * k7)
    err = 0.0
    for i in range(y0.size):
        v = abs(e[i]) / (rtol * (abs(y1[i]) + scale[i]))
        if v > err:
            err = v
    return y1, k7, err


NO_STAGE = np.empty(0)


class Derivative:
    """One process's compiled derivative bound to its parameters (callable ``f(y, T)``)."""

    __slots__ = ("kind", "p", "aux")

    def __init__(self, kind: int, p: np.ndarray, aux: np.ndarray | None = None):
        self.kind, self.p = kind, p
        self.aux = aux if aux is not None else NO_STAGE

    def __call__(self, y: np.ndarray, temperature_c: float) -> np.ndarray:
        return derivative(self.kind, y, temperature_c, self.p, self.aux)


def parameter_vector(names: tuple, values: dict, *tables) -> list:
    """``values`` in the order of ``names`` (a missing one is a ``KeyError``), then the
    flattened ``tables``."""
    out = [float(values[n]) for n in names]
    for t in tables:
        out += [float(v) for row in t for v in row]
    return out

