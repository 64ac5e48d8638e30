"""Drive every device to its safe state, whatever state the others are in.

Each device class exposes ``safe()``: LED output off, heater off (stirring kept
or stopped as the controller allows), pumps stopped.  :func:`make_all_safe`
calls them in ``safe_order`` (light, then heat, then liquids, then the rest) and
never stops at the first failure: an unresponsive spectrometer must not keep
the heater on.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def make_all_safe(devices: dict) -> dict:
    """Call ``safe()`` on every device; return ``{name: "safe" | "error text"}``."""
    report = {}
    ordered = sorted(devices.items(), key=lambda kv: getattr(kv[1], "safe_order", 50))
    for name, dev in ordered:
        safe = getattr(dev, "safe", None)
        if safe is None:
            report[name] = "safe"
            continue
        try:
            safe()
            report[name] = "safe"
        except Exception as exc:  # keep going: the next device may be the heater
            log.error("could not make %s safe: %s", name, exc)
            report[name] = f"{type(exc).__name__}: {exc}"
    return report
