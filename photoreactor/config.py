"""Profiles: one YAML file that says what this reactor is made of.

A profile names each device (class, port or VISA resource, limits, calibration),
the catalog, the clock and — for simulated profiles — the simulated world.  It is
validated completely before anything is opened, with errors a chemist can act
on: the file, the device, the key, and what would be accepted.

Layout::

    name: sim                      # shown in run metadata
    reactor_id: sim-reactor-1
    operator: null                 # default: $USER
    clock: {kind: virtual, speed: 1000}     # or {kind: wall}
    catalog: {kind: embedded, path: null}   # or {kind: tiled, uri: ..., api_key: ...}
    simulation: {seed: 1, world: reactor, serial_timeout_s: 0.2, scenario: {...}}
    devices:
      mantle: {class: IkaMantle, port: sim://mantle, max_temperature_c: 300}
      ...

A profile is named by its directory under ``profiles/`` (``sim`` →
``profiles/sim/profile.yaml``) or given as a path to a YAML file or directory.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

TOP_KEYS = {"name", "reactor_id", "operator", "clock", "catalog", "simulation", "devices",
            "notifications", "queue", "description", "solvent", "safety"}
CLOCK_KINDS = {"virtual", "wall"}
CATALOG_KINDS = {"embedded", "tiled"}

#: where the shipped profiles are: the top-level ``profiles/`` folder, installed as
#: the ``photoreactor.profiles`` package (so a wheel install has them too)
PROFILES_DIR = Path(__import__("photoreactor.profiles", fromlist=["_"]).__file__).resolve().parent


class ProfileError(ValueError):
    """A profile that cannot be used, with where and why."""


@dataclass
class Profile:
    name: str
    path: Path | None
    reactor_id: str
    operator: str
    clock: dict
    catalog: dict
    simulation: dict
    devices: dict[str, dict]
    notifications: dict = field(default_factory=dict)
    queue: dict = field(default_factory=dict)
    safety: dict = field(default_factory=dict)
    raw: dict = field(default_factory=dict)

    @property
    def simulated(self) -> bool:
        return self.clock.get("kind") == "virtual" or bool(self.simulation)

    def data_dir(self, override: str | os.PathLike | None = None) -> Path:
        """Where the embedded catalog lives: ``override`` > ``$PHOTOREACTOR_DATA`` >
        the profile's ``catalog.path`` > ``~/.local/share/photoreactor/<profile>``."""
        if override:
            return Path(override).expanduser().resolve()
        if os.environ.get("PHOTOREACTOR_DATA"):
            return Path(os.environ["PHOTOREACTOR_DATA"]).expanduser().resolve()
        if self.catalog.get("path"):
            p = Path(self.catalog["path"]).expanduser()
            if not p.is_absolute() and self.path is not None:
                p = self.path.parent / p
            return p.resolve()
        base = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
        return (base / "photoreactor" / self.name).resolve()


def resolve_profile_path(profile: str | os.PathLike) -> Path:
    p = Path(profile).expanduser()
    if p.is_dir():
        p = p / "profile.yaml"
    if p.is_file():
        return p.resolve()
    named = PROFILES_DIR / str(profile) / "profile.yaml"
    if named.is_file():
        return named
    known = sorted(d.name for d in PROFILES_DIR.iterdir() if (d / "profile.yaml").is_file()) \
        if PROFILES_DIR.is_dir() else []
    raise ProfileError(f"profile {str(profile)!r} not found: not a file, and not one of {known}")


def load_profile(profile: str | os.PathLike | dict) -> Profile:
    """Read and validate a profile (name, path, or an already-parsed dict)."""
    if isinstance(profile, dict):
        raw, path = profile, None
    else:
        path = resolve_profile_path(profile)
        try:
            raw = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ProfileError(f"{path}: not valid YAML: {exc}") from None
    where = str(path) if path else "profile"
    if not isinstance(raw, dict):
        raise ProfileError(f"{where}: expected a mapping at the top level")
    unknown = set(raw) - TOP_KEYS
    if unknown:
        raise ProfileError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(TOP_KEYS)}")
    clock = dict(raw.get("clock") or {"kind": "wall"})
    if clock.get("kind") not in CLOCK_KINDS:
        raise ProfileError(f"{where}: clock.kind must be one of {sorted(CLOCK_KINDS)}, "
                           f"not {clock.get('kind')!r}")
    if clock["kind"] == "virtual" and not float(clock.get("speed", 1000)) > 0:
        raise ProfileError(f"{where}: clock.speed must be positive, not {clock.get('speed')!r}")
    catalog = dict(raw.get("catalog") or {"kind": "embedded"})
    if catalog.get("kind") not in CATALOG_KINDS:
        raise ProfileError(f"{where}: catalog.kind must be one of {sorted(CATALOG_KINDS)}, "
                           f"not {catalog.get('kind')!r}")
    if catalog["kind"] == "tiled" and not catalog.get("uri"):
        raise ProfileError(f"{where}: catalog.kind 'tiled' needs catalog.uri "
                           f"(e.g. http://catalog.lab:8000)")
    devices = raw.get("devices") or {}
    if path is not None:
        devices = _merge_calibrations(path.parent / CALIBRATIONS_FILE, devices)
    if not isinstance(devices, dict):
        raise ProfileError(f"{where}: 'devices' must map device names to their settings")
    _validate_devices(where, devices)
    return Profile(
        name=str(raw.get("name") or (path.parent.name if path else "profile")),
        path=path,
        reactor_id=str(raw.get("reactor_id") or "reactor-1"),
        operator=str(raw.get("operator") or _default_operator()),
        clock=clock,
        catalog=catalog,
        simulation=dict(raw.get("simulation") or {}),
        devices={k: dict(v) for k, v in devices.items()},
        notifications=dict(raw.get("notifications") or {}),
        queue=dict(raw.get("queue") or {}),
        safety=dict(raw.get("safety") or {}),
        raw=raw,
    )


#: machine-written calibrations beside a profile (the profile itself stays hand-written)
CALIBRATIONS_FILE = "calibrations.yaml"


def _merge_calibrations(path: Path, devices: dict) -> dict:
    """Overlay ``calibrations.yaml`` ({device: calibration table}) onto the device entries."""
    if not path.is_file() or not isinstance(devices, dict):
        return devices
    stored = yaml.safe_load(path.read_text()) or {}
    merged = {k: dict(v) if isinstance(v, dict) else v for k, v in devices.items()}
    for name, table in stored.items():
        if name in merged and isinstance(merged[name], dict):
            merged[name]["calibration"] = table
    return merged


def save_calibration(profile: Profile, device: str, table: dict) -> Path:
    """Store ``table`` for ``device`` in the profile's ``calibrations.yaml``; return its path.

    Written by ``calibrate_led`` (through the session); read back by
    :func:`load_profile`, which lets it override the table in ``profile.yaml``.
    """
    if profile.path is None:
        raise ProfileError("this profile was not loaded from a file: nowhere to store calibrations")
    path = profile.path.parent / CALIBRATIONS_FILE
    stored = (yaml.safe_load(path.read_text()) or {}) if path.is_file() else {}
    stored[device] = table
    tmp = path.with_suffix(".tmp")
    tmp.write_text("# written by photoreactor calibrate_led; overrides profile.yaml\n"
                   + yaml.safe_dump(stored, sort_keys=True))
    tmp.replace(path)
    return path


def _default_operator() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry in some containers
        return os.environ.get("USER", "unknown")


def _validate_devices(where: str, devices: dict) -> None:
    from photoreactor.devices.registry import COMMON_KEYS, load_all

    classes = load_all()
    for name, cfg in devices.items():
        here = f"{where}: device {name!r}"
        if not str(name).isidentifier() or name != name.lower():
            raise ProfileError(f"{here}: device names must be snake_case identifiers "
                               f"(they become variable names in the session)")
        if not isinstance(cfg, dict) or "class" not in cfg:
            raise ProfileError(f"{here}: needs a 'class' (one of {sorted(classes)})")
        spec = classes.get(cfg["class"])
        if spec is None:
            raise ProfileError(f"{here}: unknown class {cfg['class']!r}; known classes: {sorted(classes)}")
        missing = spec.required - set(cfg)
        if missing:
            raise ProfileError(f"{here} ({cfg['class']}): missing {sorted(missing)}")
        unknown = set(cfg) - spec.required - spec.optional - COMMON_KEYS
        if unknown:
            raise ProfileError(f"{here} ({cfg['class']}): unknown key(s) {sorted(unknown)}; "
                               f"allowed: {sorted(spec.required | spec.optional)}")
        _check_limits(here, cfg)


def _check_limits(here: str, cfg: dict, prefix: str = "") -> None:
    """Every ``min_X`` must be below its ``max_X`` (also inside nested mappings)."""
    for key, value in cfg.items():
        if isinstance(value, dict):
            _check_limits(here, value, prefix=f"{prefix}{key}.")
        if key.startswith("min_") and f"max_{key[4:]}" in cfg:
            lo, hi = value, cfg[f"max_{key[4:]}"]
            try:
                inverted = float(lo) >= float(hi)
            except (TypeError, ValueError):
                raise ProfileError(f"{here}: {prefix}{key} and {prefix}max_{key[4:]} must be numbers") from None
            if inverted:
                raise ProfileError(f"{here}: limit inverted: {prefix}{key} = {lo} is not below "
                                   f"{prefix}max_{key[4:]} = {hi}")
