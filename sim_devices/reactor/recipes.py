"""What the chemist charges by hand: one recipe per SCIENCE.md procedure.

``model.charge("A1_cds_core")`` empties nothing and adds the recipe's solvents,
precursors and (for recipes that start from purified particles) nanocrystal
populations to the flask at room temperature; pumps, the mantle and the light
then do the rest.  Every option has the published default; pass an option to
change it (``model.charge("C_cdte_msc", solvent="toluene", top_mmol=5)``).
Unknown options raise ``TypeError`` naming the known ones.

Recipes and their options
-------------------------
``empty``
    Nothing but ``solvent`` (ODE) ``volume_ml`` (0 mL).
``A1_cds_core``
    0.2 mmol Cd myristate (``cd_mmol``) + 0.1 mmol S (``s_mmol``) in 10 mL ODE
    (``volume_ml``), 25 mL flask.  Heat to 240 °C; E1 passes 403 nm after
    tens of minutes.
``A2_doping``
    Purified A1 cores (``cores_nmol`` 100, ``core_radius_nm`` 1.75) in 6 mL
    ODE + Mn(S₂CNEt₂)₂ made from 0.02 mmol Mn(OAc)₂ (``mn_mmol``) in 4 mL OAm.
    At 220 °C the cores take up ≈ 10 Mn each and ripen to r ≈ 2.0 nm.
    ``mn_in_flask=False`` leaves the Mn to a pump line (species ``"Mn"``).
``A2_shell``
    Cores for SILAR in 6 mL ODE + 2 mL OAm: ``doped=True`` (default) 60 nmol
    Mn-doped cores, r 2.0 nm, 10 Mn/dot; ``doped=False`` 100 nmol undoped r 1.75
    nm ("2 mL of 50 nmol/mL"); ``interface=True`` a 5.7 nm core doped at its
    surface (the interface-doped control: ZnS shell only).  Cd and S (0.04 M
    in ODE) come from pump lines.
``A3_photocatalysis``, ``A4_cascade``, ``B_co2``
    See :mod:`.photocatalysis` (options ``photocatalyst``, ``loading_mol_pct``,
    ``taea``, ``atmosphere``, ``solvent``, ``composition`` ...).
``C_cdte_msc``
    See :mod:`.msc` (``solvent``, ``top_mmol``, ``oam_mmol``, ``cd_te_ratio``).
``D_clusters``
    See :mod:`.clusters` (``metal`` Cd/Zn/CdZn, ``amine`` diamine/monoamine,
    ``se_injected``).
``E_cdse_core``
    0.6 mmol Cd stearate + 0.6 mmol SeO₂ + 0.6 mmol hexadecanediol in 15 mL
    ODE, 50 mL flask.  20 °C/min to 230 °C, 15 min, remove the mantle → 3.2 nm.
``E_shell``
    100 nmol CdSe cores (``core_diameter_nm`` 3.2) in 6 mL ODE + 2 mL OAm; S
    (0.1 M in ODE) and Cd / Zn (0.1 M in OAm) from pump lines.
``E_exchange``
    100 nmol CdSe cores (``core_diameter_nm`` 3.1: E1 = 2.24 eV) in 8 mL ODE +
    100 equiv OAm per Cd (``oam_equiv``) + DDT (``ddt_equiv`` 1.0 per Cd).  Hg
    (0.1 M Hg(OAc)₂ in OAm) and Ag (0.02 M AgNO₃ in OAm) come from pump lines
    or :meth:`~.model.ReactorModel.inject`.

Every recipe accepts ``temperature_c`` (start the contents pre-heated; tests and
the fidelity report use it) and ``flask_ml``.
"""

from __future__ import annotations

from .materials import SEMICONDUCTORS
from .nanocrystals import NUCLEUS_SIGMA_NM, Population

#: mol/L of the neat liquid ligands as sold, to convert between mL and mmol: OAm is
#: technical grade (70 %; SCIENCE.md C: 17.6 mL = 37.4 mmol), TOP 97 % (10 mL = 21.2
#: mmol), oleic acid 90 %
NEAT_MOL_L = {"OAm": 37.4 / 17.6, "TOP": 21.2 / 10.0, "oleic_acid": 0.9 * 0.895 / 282.5 * 1000}


def _check(name: str, opts: dict, defaults: dict) -> dict:
    unknown = set(opts) - set(defaults) - {"temperature_c", "flask_ml"}
    if unknown:
        raise TypeError(f"recipe {name!r} has no option(s) {sorted(unknown)}; "
                        f"it takes {sorted(set(defaults) | {'temperature_c', 'flask_ml'})}")
    out = dict(defaults)
    out.update(opts)
    return out


def add_neat(model, ligand: str, volume_ml: float) -> None:
    """A neat liquid ligand: counts as solvent volume and as species."""
    model.liquid.add_solvent(ligand, volume_ml)
    model.liquid.add_species(ligand, NEAT_MOL_L[ligand] * volume_ml * 1e-3)


def cores(label: str, material: str, n_nmol: float, radius_nm: float,
          sigma_rel: float = 0.06, mn_per_dot: float = 0.0) -> Population:
    """A population of bare cores of ``radius_nm`` (purified, charged by hand)."""
    n = n_nmol * 1e-9
    units = SEMICONDUCTORS[material].units_in_sphere(radius_nm) * n
    pop = Population(label=label, core=material, n_mol=n, core_units_mol=units,
                     sigma_nm=max(sigma_rel * radius_nm, NUCLEUS_SIGMA_NM * 0.5),
                     mn_mol=mn_per_dot * n)
    if mn_per_dot > 0:
        pop.cds_shell_at_doping_nm = 0.0
    return pop


def _empty(model, o):
    o = _check("empty", o, {"solvent": "ODE", "volume_ml": 0.0})
    model.liquid.add_solvent(o["solvent"], o["volume_ml"])
    return o


def _a1(model, o):
    o = _check("A1_cds_core", o, {"cd_mmol": 0.2, "s_mmol": 0.1, "volume_ml": 10.0})
    model.use_flask(o.get("flask_ml", 25.0))
    model.liquid.add_solvent("ODE", o["volume_ml"])
    model.liquid.add_species("Cd", o["cd_mmol"] * 1e-3)
    model.liquid.add_species("S", o["s_mmol"] * 1e-3)
    model.liquid.add_species("myristate", 2 * o["cd_mmol"] * 1e-3)
    return o


def _a2_doping(model, o):
    o = _check("A2_doping", o, {"cores_nmol": 100.0, "core_radius_nm": 1.75, "mn_mmol": 0.02,
                                "ode_ml": 6.0, "oam_ml": 4.0, "mn_in_flask": True})
    model.use_flask(o.get("flask_ml", 25.0))
    model.liquid.add_solvent("ODE", o["ode_ml"])
    add_neat(model, "OAm", o["oam_ml"])
    model.nanocrystals.add_population(cores("cores", "CdS", o["cores_nmol"],
                                            o["core_radius_nm"]))
    if o["mn_in_flask"]:
        model.liquid.add_species("Mn", o["mn_mmol"] * 1e-3)
        model.liquid.add_species("DDTC", 0.44e-3 * o["mn_mmol"] / 0.02)
    return o


def _a2_shell(model, o):
    o = _check("A2_shell", o, {"doped": True, "interface": False, "cores_nmol": None,
                               "core_radius_nm": None, "mn_per_dot": None,
                               "ode_ml": 6.0, "oam_ml": 2.0})
    if o["interface"]:
        n, r, mn = 60.0, 2.85, 10.0
    elif o["doped"]:
        n, r, mn = 60.0, 2.0, 10.0
    else:
        n, r, mn = 100.0, 1.75, 0.0
    o["cores_nmol"] = n if o["cores_nmol"] is None else o["cores_nmol"]
    o["core_radius_nm"] = r if o["core_radius_nm"] is None else o["core_radius_nm"]
    o["mn_per_dot"] = mn if o["mn_per_dot"] is None else o["mn_per_dot"]
    model.use_flask(o.get("flask_ml", 25.0))
    model.liquid.add_solvent("ODE", o["ode_ml"])
    add_neat(model, "OAm", o["oam_ml"])
    pop = cores("cores", "CdS", o["cores_nmol"], o["core_radius_nm"],
                mn_per_dot=o["mn_per_dot"])
    model.nanocrystals.add_population(pop)
    return o


def _e_core(model, o):
    o = _check("E_cdse_core", o, {"cd_mmol": 0.6, "se_mmol": 0.6, "volume_ml": 15.0})
    model.use_flask(o.get("flask_ml", 50.0))
    model.liquid.add_solvent("ODE", o["volume_ml"])
    model.liquid.add_species("Cd", o["cd_mmol"] * 1e-3)
    model.liquid.add_species("Se", o["se_mmol"] * 1e-3)
    model.liquid.add_species("HDD", 0.6e-3)
    return o


def _e_shell(model, o):
    o = _check("E_shell", o, {"cores_nmol": 100.0, "core_diameter_nm": 3.2, "ode_ml": 6.0,
                              "oam_ml": 2.0})
    model.use_flask(o.get("flask_ml", 25.0))
    model.liquid.add_solvent("ODE", o["ode_ml"])
    add_neat(model, "OAm", o["oam_ml"])
    model.nanocrystals.add_population(cores("cores", "CdSe", o["cores_nmol"],
                                            o["core_diameter_nm"] / 2, sigma_rel=0.05))
    return o


def _e_exchange(model, o):
    o = _check("E_exchange", o, {"cores_nmol": 100.0, "core_diameter_nm": 3.1, "ode_ml": 8.0,
                                 "oam_equiv": 100.0, "ddt_equiv": 1.0})
    model.use_flask(o.get("flask_ml", 25.0))
    pop = cores("cores", "CdSe", o["cores_nmol"], o["core_diameter_nm"] / 2, sigma_rel=0.05)
    model.nanocrystals.add_population(pop)
    cd_mol = pop.core_units_mol
    model.liquid.add_solvent("ODE", o["ode_ml"])
    oam_ml = o["oam_equiv"] * cd_mol / (NEAT_MOL_L["OAm"] * 1e-3)
    add_neat(model, "OAm", oam_ml)
    model.liquid.add_species("DDT", o["ddt_equiv"] * cd_mol)
    model.exchange.attach(pop)
    o["cd_umol"] = cd_mol * 1e6
    return o


def charge_recipe(model, name: str, opts: dict) -> dict:
    """Apply recipe ``name`` to ``model`` (called by :meth:`ReactorModel.charge`)."""
    from .clusters import charge_clusters
    from .msc import charge_msc
    from .photocatalysis import charge_a3, charge_a4, charge_b

    table = {"empty": _empty, "A1_cds_core": _a1, "A2_doping": _a2_doping, "A2_shell": _a2_shell,
             "A3_photocatalysis": charge_a3, "A4_cascade": charge_a4, "B_co2": charge_b,
             "C_cdte_msc": charge_msc, "D_clusters": charge_clusters, "E_cdse_core": _e_core,
             "E_shell": _e_shell, "E_exchange": _e_exchange}
    fn = table.get(name)
    if fn is None:
        raise ValueError(f"unknown recipe {name!r}; recipes are {sorted(table)}")
    opts = dict(opts)
    resolved = fn(model, opts)
    if "temperature_c" in opts and opts["temperature_c"] is not None:
        model.heat.set_temperatures(float(opts["temperature_c"]))
    if "flask_ml" in opts:
        resolved["flask_ml"] = opts["flask_ml"]
    return resolved


RECIPES = ("empty", "A1_cds_core", "A2_doping", "A2_shell", "A3_photocatalysis", "A4_cascade",
           "B_co2", "C_cdte_msc", "D_clusters", "E_cdse_core", "E_shell", "E_exchange")

__all__ = ["RECIPES", "charge_recipe", "cores", "add_neat", "NEAT_MOL_L"]
