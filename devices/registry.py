"""Device classes a profile may name, and how each is built from its entry.

A builder is registered with :func:`device_class`; it declares the keys its
profile entry requires and accepts, so a typo in a profile is reported before
any port is opened.  Builders live next to their devices (``devices/<class>/``)
and are discovered by importing every sub-package of :mod:`photoreactor.devices`.

Builder signature: ``build(name: str, config: dict, clock: Clock) -> ophyd.Device``.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field

#: keys every device entry may carry, whatever its class
COMMON_KEYS = {"class", "description", "emulator"}


@dataclass(frozen=True)
class DeviceClass:
    name: str
    build: Callable
    required: frozenset[str]
    optional: frozenset[str]
    doc: str = ""
    safe_order: int = 50  # lower is made safe first (light before heat before pumps)
    extra: dict = field(default_factory=dict)


_registry: dict[str, DeviceClass] = {}


def device_class(name: str, *, required=(), optional=(), safe_order: int = 50):
    """Decorator registering ``build`` as the builder for profile class ``name``."""

    def deco(build):
        if name in _registry and _registry[name].build is not build:
            raise ValueError(f"device class {name!r} registered twice")
        _registry[name] = DeviceClass(name, build, frozenset(required), frozenset(optional),
                                      (build.__doc__ or "").strip().splitlines()[0] if build.__doc__ else "",
                                      safe_order)
        return build

    return deco


def load_all() -> dict[str, DeviceClass]:
    """Import every device sub-package (registering its builders) and return the registry."""
    import photoreactor.devices as pkg

    for info in pkgutil.iter_modules(pkg.__path__):
        if info.ispkg and info.name != "common":
            importlib.import_module(f"{pkg.__name__}.{info.name}")
    return dict(_registry)
