"""Builders: profile entry → shared serial port → driver → Ophyd pump device.

Profile keys (validated by :mod:`photoreactor.config` before any port opens):

``NE1000Pump``
    required ``port``, ``address`` (0-99), ``syringe_diameter_mm``,
    ``syringe_volume_ml``, ``reagent`` (``{name, species, concentration_mol_l,
    solvent, volume_ml}``); optional ``baudrate`` (19200; every pump on one port
    must agree), ``max_rate_ml_min``, ``rate_ml_min`` (programmed at start-up),
    ``timeout_s`` (0.5), ``retries`` (2), ``poll_s`` (1.0), ``model`` (``NE-1000``;
    informational, the simulator reports it).
``C3000Pump``
    required ``port``, ``address`` (0-14, the address switch), ``syringe_volume_ml``,
    ``reagent``; optional ``baudrate`` (9600), ``max_rate_ml_min``, ``rate_ml_min``,
    ``flask_port`` (``"O"``), ``reservoir_port`` (``"I"``), ``stroke_mm`` (30),
    ``timeout_s``, ``retries``, ``poll_s``.
"""

from __future__ import annotations

from photoreactor.devices.common.transport import open_serial
from photoreactor.devices.registry import device_class

from .base import PumpReagent
from .device import C3000Pump, NE1000Pump
from .newera import NE1000Driver

_COMMON_OPTIONAL = {"baudrate", "max_rate_ml_min", "rate_ml_min", "timeout_s", "retries", "poll_s"}


def _reagent(name: str, config: dict) -> PumpReagent:
    try:
        return PumpReagent.from_config(config["reagent"])
    except (ValueError, TypeError) as exc:
        raise ValueError(f"device {name!r}: {exc}") from None


def _open_port(config: dict, default_baudrate: int):
    """The entry's serial port (shared with the other pumps on its wire), 8N1."""
    return open_serial(config["port"], baudrate=int(config.get("baudrate", default_baudrate)),
                       bytesize=8, parity="N", stopbits=1)


def _common_settings(name: str, config: dict) -> tuple[dict, dict]:
    """The keys every pump family reads alike: ``(driver settings, device settings)``."""
    link = {"timeout_s": float(config.get("timeout_s", 0.5)),
            "retries": int(config.get("retries", 2))}
    device = {"syringe_volume_ml": float(config["syringe_volume_ml"]),
              "reagent": _reagent(name, config),
              "max_rate_ml_min": config.get("max_rate_ml_min"),
              "poll_s": float(config.get("poll_s", 1.0))}
    return link, device


@device_class("NE1000Pump",
              required={"port", "address", "syringe_diameter_mm", "syringe_volume_ml", "reagent"},
              optional=_COMMON_OPTIONAL | {"model"}, safe_order=30)
def build_ne1000(name: str, config: dict, clock) -> NE1000Pump:
    """New Era NE-1000/NE-500 syringe pump on an RS-232 daisy chain."""
    link, settings = _common_settings(name, config)
    driver = NE1000Driver(_open_port(config, 19200), int(config["address"]), name=name, **link)
    pump = NE1000Pump(driver, clock, name=name, **settings)
    pump.connect(diameter_mm=float(config["syringe_diameter_mm"]),
                 rate_ml_min=config.get("rate_ml_min"))
    return pump


@device_class("C3000Pump", required={"port", "address", "syringe_volume_ml", "reagent"},
              optional=_COMMON_OPTIONAL | {"flask_port", "reservoir_port", "stroke_mm"},
              safe_order=30)
def build_c3000(name: str, config: dict, clock) -> C3000Pump:
    """Tricontinent C3000 syringe pump (DT protocol) with a distribution valve."""
    from .c3000 import C3000Driver

    link, settings = _common_settings(name, config)
    driver = C3000Driver(_open_port(config, 9600), int(config["address"]), name=name,
                         syringe_volume_ml=settings["syringe_volume_ml"],
                         flask_port=str(config.get("flask_port", "O")),
                         reservoir_port=str(config.get("reservoir_port", "I")),
                         stroke_mm=float(config.get("stroke_mm", 30.0)), **link)
    pump = C3000Pump(driver, clock, name=name, **settings)
    pump.connect(rate_ml_min=config.get("rate_ml_min"))
    return pump
