"""Helpers for the opt-in hardware tests (``pytest --hardware PROFILE``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


def devices_in(profile, *classes: str) -> Iterator[tuple[str, dict, object]]:
    """Build each device of ``classes`` in the profile on the wall clock, one at a time.

    Yields ``(name, config, device)``; skips the test when the profile has none.
    """
    from photoreactor.devices.common.timing import WallClock
    from photoreactor.devices.registry import load_all

    entries = {n: c for n, c in profile.devices.items() if c.get("class") in classes}
    if not entries:
        pytest.skip(f"profile has no {' / '.join(classes)}")
    registry = load_all()
    clock = WallClock()
    for name, cfg in entries.items():
        yield name, cfg, registry[cfg["class"]].build(name, cfg, clock)
