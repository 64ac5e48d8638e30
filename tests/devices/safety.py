"""Assertions on the one behaviour every device shares under a fault: ``safe()`` is bounded."""

from __future__ import annotations

import time

import pytest


def assert_safe_fails_fast(device, exc: type[Exception], *, within_s: float = 3.0) -> None:
    """``device.safe()`` on a faulted instrument raises ``exc`` within ``within_s`` wall seconds.

    A silent or unplugged instrument must not hang a session's shutdown: the
    error comes after one bounded read timeout, not after retries piling up.
    """
    t0 = time.monotonic()
    with pytest.raises(exc):
        device.safe()
    assert time.monotonic() - t0 < within_s
