"""The main job: SCIENCE.md A end to end on the simulated reactor.

``photoreactor demo`` (README command one) runs, in virtual time:

1. **A1** CdS core growth at 240 °C, stopped when E1 reaches 403 nm;
2. **A2** SILAR CdS shell at 240 °C until E1 reaches 460 nm (doses computed from
   the measured size), then a ZnS shell (≈ 1 ML at 220 °C) and a 5 min anneal at
   280 °C;
3. **A4** the intensity-switched cascade: 1 mW/cm² (C–Br), then B₂pin₂ and
   150 mW/cm² (C–Cl), with the photon dose of each stage recorded.

Between steps the simulated chemist's hands recharge the flask (the published
procedure purifies and re-disperses the particles between steps), which is the
only thing here that knows the reactor is simulated.  Every step is its own run
in the catalog; figures for each go to the output directory.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

from bluesky.callbacks import LiveTable


def _live_table():
    return LiveTable(["e1_nm", "diameter_nm", "mantle_temperature"], default_prec=2,
                     extra_pad=1)


def run_demo(session, out_dir: Path) -> bool:
    """Run the A1 → A2 → A4 sequence on ``session`` (simulated); return True on success."""
    from photoreactor.analysis.report import summarize_run, write_report
    from photoreactor.plans import grow_until, intensity_cascade, silar_shell

    if session.bench is None:
        raise RuntimeError("the demo runs on a simulated profile (e.g. --profile sim)")
    s, world = session, session.world
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    steps = [
        ("A1 CdS cores to E1 = 403 nm", "A1_cds_core",
         # heater off at the target; the next step starts from purified cores (recharged)
         lambda: grow_until(s.mantle, s.spectrometer, target_e1_nm=403.0, temperature_c=240.0,
                            cool_to_c=None)),
        ("A2 SILAR CdS shell to E1 = 460 nm", "A2_shell",
         lambda: silar_shell(s.mantle, s.spectrometer, s.pump_cd, s.pump_s, target_e1_nm=460.0,
                             temperature_c=240.0, particles_mol=60e-9)),
        ("A2 ZnS shell (1 ML, 220 °C) and anneal (280 °C, 5 min)", None,
         lambda: silar_shell(s.mantle, s.spectrometer, s.pump_zn, s.pump_s, shell_material="ZnS",
                             target_e1_nm=None, monolayers=1.0, ml_per_cycle=0.5,
                             temperature_c=220.0, anneal_c=280.0, anneal_s=300.0,
                             particles_mol=60e-9)),
        ("A4 intensity-switched cascade (1 → 150 mW/cm²)", "A4_cascade",
         lambda: intensity_cascade(s.led, pumps=[s.pump_b2pin2], sampler=s.sampler,
                                   sample_every_s=6 * 3600.0)),
    ]
    ok = True
    summaries = []
    t_wall = time.perf_counter()
    for title, recipe, make_plan in steps:
        print(f"\n=== {title}")
        if recipe is not None:
            world.charge(recipe)
        v0 = session.clock.time()
        w0 = time.perf_counter()
        token = session.RE.subscribe(_live_table())
        try:
            result = session.RE(make_plan())
        finally:
            session.RE.unsubscribe(token)
        uid = result.run_start_uids[-1]
        run = session.catalog.client[uid]
        summary = summarize_run(run)
        summaries.append((title, summary))
        virtual_h = (session.clock.time() - v0) / 3600
        summary["virtual_h"] = virtual_h
        print(f"--- {result.exit_status} in {virtual_h:.2f} h virtual "
              f"({time.perf_counter() - w0:.1f} s wall); run {uid[:8]}")
        if recipe == "A4_cascade":
            summary["simulated_gc"] = _cascade_products(world.state())
            print(f"    simulated GC of the vial: {summary['simulated_gc']}")
        paths = write_report(run, out_dir / f"{len(summaries)}_{summary.get('plan', 'run')}")
        print(f"    {len(paths)} figures/tables in {paths[0].parent if paths else out_dir}")
        if result.exit_status != "success":
            ok = False
            break
    _print_table(summaries)
    print(f"\nDemo {'finished' if ok else 'FAILED'} in {time.perf_counter() - t_wall:.1f} s wall; "
          f"catalog: {session.catalog.location}; figures: {out_dir}")
    return ok


def _cascade_products(state: dict) -> str:
    pc = state.get("photocatalysis", {})
    keys = [("stage2_product_pct", "coupled at C–Br and borylated at C–Cl"),
            ("stage1_product_pct", "coupled only"), ("c_cl_first_pct", "C–Cl reacted first")]
    return ", ".join(f"{label} {pc[k]:.0f} %" for k, label in keys if k in pc) or "n/a"


def _print_table(summaries) -> None:
    print("\nstep                                                   exit     virtual h   E1 nm   "
          "size nm  doses (mL)                  photon dose")
    for title, s in summaries:
        per_reagent: dict[str, float] = {}
        for k, v in (s.get("dosed_ml") or {}).items():
            if isinstance(v, float) and math.isfinite(v):
                per_reagent[k] = per_reagent.get(k, 0.0) + v
        doses = ", ".join(f"{k} {v:.2f}" for k, v in per_reagent.items()) or "-"
        pd = s.get("photon_dose", math.nan)
        pd_text = f"{pd:.4g} {s.get('photon_dose_units', '')}" if math.isfinite(pd) else "-"
        print(f"{title[:54]:54s} {s.get('exit_status', ''):8s} {s.get('virtual_h', math.nan):9.2f} "
              f"{_fmt(s.get('final_e1_nm', math.nan)):>7s} {_fmt(s.get('final_diameter_nm', math.nan)):>8s}  "
              f"{doses[:27]:27s} {pd_text}")


def _fmt(v):
    if isinstance(v, float):
        return "nan" if math.isnan(v) else f"{v:.4g}"
    if isinstance(v, dict):
        return ", ".join(f"{k} {_fmt(x)}" for k, x in v.items())
    return str(v)
