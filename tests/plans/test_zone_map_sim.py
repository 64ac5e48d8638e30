"""Reaction-zone mapping (SCIENCE.md C) end to end: pumps prepare each condition."""

from __future__ import annotations

import pytest

from photoreactor.plans import reaction_zone_map
from tests.plans.conftest import assert_reactor_safe

# one condition from each zone of SCIENCE.md C's table
CASES = [
    ({"label": "toluene", "solvent": "toluene"}, "MSC only"),
    ({"label": "ODE (standard)"}, "MSC + other species"),
    ({"label": "50 °C", "temperature_c": 50.0}, "no MSC"),
]


@pytest.mark.slow
def test_zone_map_reproduces_the_published_zones(sim):
    s = sim
    s.world.charge("empty", solvent="toluene", volume_ml=2.0)
    from photoreactor.plans import record_blank

    s.RE(record_blank(s.aliquot_spectrometer))
    s.world.charge("empty", solvent="toluene", volume_ml=0.0)
    result = s.RE(reaction_zone_map(
        s.mantle, s.aliquot_spectrometer, s.msc_sampler, s.drain, s.pump_te, s.pump_cd_oleate,
        s.pump_top_neat, s.pump_oam, [s.pump_ode, s.pump_toluene, s.pump_octane],
        conditions=[c for c, _ in CASES]))
    assert result.exit_status == "success"
    assert result.plan_result == {c["label"]: zone for c, zone in CASES}
    runs = [s.catalog.client[u] for u in result.run_start_uids]
    groups = {r.metadata["start"]["group_id"] for r in runs}
    assert len(runs) == len(CASES) and len(groups) == 1
    zone_events = runs[0]["zone"].read()
    assert str(zone_events["zone"].values[0]) == "MSC only"
    assert_reactor_safe(s)
