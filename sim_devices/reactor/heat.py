"""Heat balance of a round-bottom flask in a heating mantle.

Three lumped heat capacities — mantle (heating element and fabric), flask glass
and contents — joined by thermal conductances, losing heat to the ambient::

    C_m dT_m/dt = P − G_mf (T_m − T_f) − G_ma (T_m − T_a)
    C_f dT_f/dt = G_mf (T_m − T_f) − G_fc (T_f − T_c) − G_fa (T_f − T_a)
    C_c dT_c/dt = G_fc (T_f − T_c) − G_ca (T_c − T_a)

``P`` is the heater power fraction (the temperature controller's regulation
law) times the mantle's rated power.  For a constant ``P`` the system is linear
with constant coefficients, so :meth:`HeatModel.advance` uses its exact
solution (eigen-decomposition of the 3×3 matrix): a sub-step of any length is
exact, which is what makes clock jumps harmless.  The probe (thermocouple)
reads the contents temperature ``T_c``.

Scaling and calibration
-----------------------
Glass mass, mantle heat capacity and every conductance scale with the flask's
surface area (∝ V^(2/3)); the mantle's rated power with √V (typical fabric
mantles: ≈ 80 W for 25 mL, ≈ 160 W for 100 mL).  For a 25 mL flask:

========================  =========  ==============================================
quantity                  value      reason
========================  =========  ==============================================
glass heat capacity C_f   ≈ 29 J/K   35 g borosilicate × 0.83 J/(g K)
mantle heat capacity C_m  ≈ 60 J/K   element + fabric in thermal contact (estimate)
mantle → flask G_mf       0.52 W/K   contact through glass cloth (estimate)
flask → contents G_fc     1.0 W/K    stirred: h ≈ 500 W/(m² K) over ≈ 20 cm²;
                                     0.34 W/K unstirred (natural convection)
mantle → air G_ma         0.086 W/K  insulated mantle
flask → air G_fa          0.043 W/K  necks and upper flask; 0.30 W/K with the
                                     mantle removed (bottom exposed)
contents → head G_ca      0.017 W/K  liquid surface to headspace
========================  =========  ==============================================

These give, for 10 mL ODE at full power, 25 → 240 °C in ≈ 8 min (the
requirement: 5–15 min; 15 mL ≈ 8.5 min, 50 mL in a 100 mL flask to 100 °C ≈ 4
min), ≈ 42 % power to hold 240 °C, a mantle ≈ 70 °C hotter than the liquid
while heating, and cooling from 240 °C to 110 °C in ≈ 2.5 min after the mantle
is removed (≈ 13 min with the mantle left on but off).  The values are
engineering estimates for glassware of this size, not measurements;
``mantle_power_w`` and ``flask_ml`` are scenario parameters.

A dripping pump changes the contents' heat capacity every second; the
eigen-decomposition is refreshed when it has drifted by more than 0.2 % (the
error this leaves is far below the regulation ripple).

Boiling
-------
The contents cannot exceed the boiling point of the lowest-boiling solvent
present (≥ 5 vol %): with a condenser the excess heat refluxes.  The model
caps ``T_c`` there and reports ``boiling``; the flask's ``warnings`` say so.
"""

from __future__ import annotations

import math

import numpy as np

GLASS_CP_J_GK = 0.83
#: relative change of the contents' heat capacity that triggers a new eigen-decomposition
REFIT_FRACTION = 0.002


class HeatModel:
    """Mantle, flask and contents temperatures under a heater power fraction.

    Parameters
    ----------
    flask_ml : float
        Nominal flask volume; sets glass mass, mantle size and conductances.
    mantle_power_w : float, optional
        Rated mantle power; default ``16 W × √(flask_ml)`` (80 W for 25 mL).
    ambient_c : float
        Room temperature.
    """

    def __init__(self, *, flask_ml: float = 25.0, mantle_power_w: float | None = None,
                 ambient_c: float = 25.0):
        if flask_ml <= 0:
            raise ValueError(f"flask volume must be positive, got {flask_ml} mL")
        self.flask_ml = float(flask_ml)
        area = self.flask_ml ** (2.0 / 3.0)
        self.mantle_power_w = (16.0 * math.sqrt(self.flask_ml) if mantle_power_w is None
                               else float(mantle_power_w))
        self.ambient_c = float(ambient_c)
        self.c_mantle_j_k = 7.0 * area
        self.c_flask_j_k = GLASS_CP_J_GK * 4.1 * area
        self.c_contents_j_k = 1.0       # set by the liquid model
        self._c_prepared = 1.0
        self.g_mantle_flask_w_k = 0.060 * area
        self.g_flask_contents_stirred_w_k = 0.12 * area
        self.g_flask_contents_still_w_k = 0.040 * area
        self.g_mantle_air_w_k = 0.010 * area
        self.g_flask_air_w_k = 0.005 * area
        self.g_flask_air_bare_w_k = 0.035 * area
        self.g_contents_air_w_k = 0.002 * area
        self.mantle_attached = True
        self.stirred = False
        # temperatures as deviations from ambient: mantle, flask, contents
        self._y = [0.0, 0.0, 0.0]
        self.boiling_point_c = math.inf
        self.boiling = False
        self._dirty = True

    # -- configuration ---------------------------------------------------------
    def set_contents_heat_capacity(self, c_j_k: float) -> None:
        c = max(float(c_j_k), 0.05)   # an empty flask still has a film of liquid
        if c != self.c_contents_j_k:
            self.c_contents_j_k = c
            # a dripping pump changes C_c by < 0.1 % per second: re-diagonalise only when
            # the capacity used by the solution is off by more than REFIT_FRACTION
            if abs(c - self._c_prepared) > REFIT_FRACTION * self._c_prepared:
                self._dirty = True

    def set_stirred(self, stirred: bool) -> None:
        if bool(stirred) != self.stirred:
            self.stirred = bool(stirred)
            self._dirty = True

    def set_mantle(self, attached: bool) -> None:
        if bool(attached) != self.mantle_attached:
            self.mantle_attached = bool(attached)
            self._dirty = True

    def set_boiling_point(self, bp_c: float) -> None:
        self.boiling_point_c = float(bp_c)

    # -- state -------------------------------------------------------------------
    @property
    def contents_c(self) -> float:
        return self.ambient_c + self._y[2]

    @property
    def flask_c(self) -> float:
        return self.ambient_c + self._y[1]

    @property
    def mantle_c(self) -> float:
        return self.ambient_c + self._y[0]

    def set_temperatures(self, contents_c: float, flask_c: float | None = None,
                         mantle_c: float | None = None) -> None:
        """Place the system at given temperatures (a charge of pre-heated contents)."""
        ta = self.ambient_c
        self._y = [(contents_c if mantle_c is None else mantle_c) - ta,
                   (contents_c if flask_c is None else flask_c) - ta,
                   contents_c - ta]

    # -- dynamics ------------------------------------------------------------------
    def _conductances(self):
        g_mf = self.g_mantle_flask_w_k if self.mantle_attached else 0.0
        g_fa = self.g_flask_air_w_k if self.mantle_attached else self.g_flask_air_bare_w_k
        g_fc = self.g_flask_contents_stirred_w_k if self.stirred else self.g_flask_contents_still_w_k
        return g_mf, g_fa, g_fc

    def _prepare(self) -> None:
        g_mf, g_fa, g_fc = self._conductances()
        g_ma, g_ca = self.g_mantle_air_w_k, self.g_contents_air_w_k
        cond = np.array([[g_mf + g_ma, -g_mf, 0.0],
                         [-g_mf, g_mf + g_fc + g_fa, -g_fc],
                         [0.0, -g_fc, g_fc + g_ca]])
        caps = np.array([self.c_mantle_j_k, self.c_flask_j_k, self.c_contents_j_k])
        a = -cond / caps[:, None]
        lam, vec = np.linalg.eig(a)
        lam, vec = lam.real, vec.real
        # steady state per watt of heater power in the mantle
        per_watt = np.linalg.solve(cond, np.array([1.0, 0.0, 0.0]))
        self._lam = lam.tolist()
        self._vec = vec.tolist()
        self._inv = np.linalg.inv(vec).tolist()
        self._per_watt = per_watt.tolist()
        self._slowest_s = float(-1.0 / lam.max())
        self._c_prepared = self.c_contents_j_k
        self._dirty = False

    def steady_state_c(self, power_fraction: float) -> float:
        """Contents temperature the system settles at under a constant power fraction."""
        if self._dirty:
            self._prepare()
        power = power_fraction * self.mantle_power_w if self.mantle_attached else 0.0
        return self.ambient_c + power * self._per_watt[2]

    def power_for(self, contents_c: float) -> float | None:
        """Power fraction whose steady state is ``contents_c`` (``None``: none in 0..1 is).

        Also ``None`` with the mantle removed or above the boiling point (reflux caps
        the temperature instead).
        """
        if self._dirty:
            self._prepare()
        per_fraction = self.mantle_power_w * self._per_watt[2]
        if not self.mantle_attached or per_fraction <= 0 or contents_c >= self.boiling_point_c:
            return None
        p = (contents_c - self.ambient_c) / per_fraction
        return p if 0.0 <= p <= 1.0 else None

    def settle_hidden(self, power_fraction: float) -> None:
        """Put mantle and flask at their steady state under ``power_fraction``.

        The contents keep their temperature (the probe sees no jump) and relax to
        the steady state within about a minute (C_c / G_fc) instead of the mantle's
        slow mode.
        """
        if self._dirty:
            self._prepare()
        power = power_fraction * self.mantle_power_w if self.mantle_attached else 0.0
        self._y = [power * self._per_watt[0], power * self._per_watt[1], self._y[2]]

    def settled_at(self, power_fraction: float, tolerance_c: float) -> bool:
        """Are mantle, flask and contents all within ``tolerance_c`` of their steady state?"""
        if self._dirty:
            self._prepare()
        power = power_fraction * self.mantle_power_w if self.mantle_attached else 0.0
        return all(abs(y - power * w) <= tolerance_c
                   for y, w in zip(self._y, self._per_watt, strict=True))

    def _modes(self, y, y_star):
        """Modal coordinates of the deviation from the steady state ``y_star``."""
        inv = self._inv
        d0, d1, d2 = y[0] - y_star[0], y[1] - y_star[1], y[2] - y_star[2]
        return [inv[k][0] * d0 + inv[k][1] * d1 + inv[k][2] * d2 for k in range(3)]

    def _propagate_modes(self, modes, y_star, h):
        lam, vec = self._lam, self._vec
        z0 = modes[0] * math.exp(lam[0] * h)
        z1 = modes[1] * math.exp(lam[1] * h)
        z2 = modes[2] * math.exp(lam[2] * h)
        return [y_star[i] + vec[i][0] * z0 + vec[i][1] * z1 + vec[i][2] * z2 for i in range(3)]

    def advance(self, dt_s: float, power_fraction: float) -> tuple[float, float]:
        """Advance ``dt_s`` at constant heater power; return contents T at mid-step and end.

        The mid-step temperature lets the chemistry integrate temperature-dependent
        rates to second order or better inside a sub-step.
        """
        if self._dirty:
            self._prepare()
        power = power_fraction * self.mantle_power_w if self.mantle_attached else 0.0
        y_star = [power * w for w in self._per_watt]
        modes = self._modes(self._y, y_star)
        mid = self._propagate_modes(modes, y_star, 0.5 * dt_s)
        end = self._propagate_modes(modes, y_star, dt_s)
        cap = self.boiling_point_c - self.ambient_c
        self.boiling = end[2] >= cap - 1e-9
        if self.boiling:
            # reflux: the contents stay at the boiling point, the excess heat leaves as vapour
            end[2] = cap
            mid[2] = min(mid[2], cap)
        self._last_step = (modes, y_star, dt_s, cap, self._y[2], end[2])
        self._y = end
        return self.ambient_c + mid[2], self.ambient_c + end[2]

    def contents_within_last_step(self, fractions) -> list[float]:
        """Contents temperature at ``fractions`` (0..1) of the last :meth:`advance` (exact
        solution, capped at the boiling point) — for integrators with more than three
        stages in a step."""
        modes, y_star, dt_s, cap, start, end = self._last_step
        lam, vec = self._lam, self._vec
        v0, v1, v2 = vec[2]
        out = []
        for f in fractions:
            if f == 0.0 or f == 1.0:          # exactly what the step started and ended at
                out.append(self.ambient_c + (start if f == 0.0 else end))
                continue
            h = f * dt_s
            t = (y_star[2] + v0 * (modes[0] * math.exp(lam[0] * h))
                 + v1 * (modes[1] * math.exp(lam[1] * h)) + v2 * (modes[2] * math.exp(lam[2] * h)))
            out.append(self.ambient_c + min(t, cap))
        return out

    def time_constant_s(self) -> float:
        """Slowest relaxation time of the thermal system (s)."""
        if self._dirty:
            self._prepare()
        return self._slowest_s

    def heating_rate_c_s(self) -> float:
        """Current dT_c/dt of the contents (°C/s)."""
        g_mf, g_fa, g_fc = self._conductances()
        y = self._y
        return (g_fc * (y[1] - y[2]) - self.g_contents_air_w_k * y[2]) / self.c_contents_j_k
