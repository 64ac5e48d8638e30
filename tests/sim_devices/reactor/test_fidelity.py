"""Every published number the reactor model claims (SCIENCE.md A–E), recomputed.

Table-driven: :func:`fidelity_table` runs the model through each procedure; every
claimed row must be within its tolerance.  Rows the model does not claim must say why.
"""

from __future__ import annotations

from functools import cache

import pytest

from photoreactor.sim_devices.reactor.fidelity import SECTIONS, fidelity_table, print_fidelity


@cache
def _rows(section: str) -> tuple:
    return tuple(fidelity_table([section]))


@pytest.mark.parametrize("section", list(SECTIONS))
def test_every_claimed_row_of_the_section_passes(section):
    rows = _rows(section)
    assert rows, f"section {section} produced no rows"
    failing = [r for r in rows if r["claimed"] and not r["pass"]]
    assert not failing, "\n".join(
        f"{r['section']} {r['quantity']}: published {r['published']}, model {r['model']}, "
        f"tolerance {r['tolerance']}" for r in failing)
    for r in rows:
        assert r["basis"] in {"calibration", "prediction", "check"}, r
        if not r["claimed"]:
            assert r["note"], f"unclaimed row without a reason: {r['quantity']}"


def test_every_row_of_the_zones_table_is_covered():
    rows = [r for r in _rows("C") if r["section"] == "C zones"]
    conditions = {r["quantity"] for r in rows}
    expected = {"solvent: ODE (standard)", "solvent: toluene", "solvent: octane",
                "TOP (toluene, OAm 50 mmol): 0 mmol", "TOP (toluene, OAm 50 mmol): 5 mmol",
                "TOP (toluene, OAm 50 mmol): more (40 vs 21.2 mmol)", "OAm (toluene): 0 mmol",
                "OAm (toluene): 6 mmol", "OAm (toluene): > 12.6 mmol",
                "OAm (toluene): 25.1 → 50 mmol", "Cd:Te (toluene): 0.6:1",
                "Cd:Te (toluene): 1.2:1", "Cd:Te (toluene): 2.4:1", "Cd:Te (toluene): 4.8:1",
                "temperature: 50 °C", "temperature: 150 °C (ODE)"}
    assert conditions == expected


def test_table1_has_every_row_with_yield_and_ton():
    rows = _rows("A3")
    yields = [r for r in rows if r["quantity"].startswith("yield:")]
    tons = [r for r in rows if r["quantity"].startswith("TON:")]
    assert len(yields) == len(tons) == 13


def test_print_fidelity_reports_the_summary(capsys):
    assert print_fidelity(["A4"]) is True
    out = capsys.readouterr().out
    assert "3/3 claimed rows pass" in out and "A4" in out
