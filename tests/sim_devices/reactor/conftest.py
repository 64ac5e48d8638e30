"""Fixtures for the reactor-model tests: a clock that only moves when told to."""

from __future__ import annotations

import pytest

from .frozen_clock import FrozenClock


@pytest.fixture
def frozen():
    return FrozenClock()


@pytest.fixture
def make(frozen):
    """``make(recipe, **options) -> model`` on the frozen clock, stirred."""
    from photoreactor.sim_devices.reactor import ReactorModel

    def _make(recipe=None, **options):
        model = ReactorModel(frozen)
        if recipe is not None:
            model.charge(recipe, **options)
        model.set_stirring(600)
        return model

    return _make
