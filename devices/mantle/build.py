"""Profile entries → transport → driver → device, for the mantle classes.

Profile keys (``*`` required)::

    mantle:
      class: IkaMantle            # or EurothermMantle
      port: sim://mantle        * # /dev/ttyUSB0, COM3, socket://host:port ...
      max_temperature_c: 300    * # hard limit: set() refuses anything above
      min_temperature_c: 0        # lowest setpoint accepted
      tolerance_c: 1.0            # set() done when within ± this ...
      settle_s: 30                # ... for this long
      ramp_rate_c_min: 0          # 0 = as fast as the mantle heats
      poll_s: 5                   # device-clock period of readings during a move
      stale_s: 300                # no change / no rise for this long while heating = fault
      stale_gap_c: 5              # ... but only when this far below the setpoint
      sensor_range_c: [-50, 600]  # readings outside are sensor faults
      overtemp_margin_c: 15       # alarm above max_temperature_c + this
      timeout_rate_c_min: 2       # slowest expected heating/cooling, for move deadlines
      timeout_s: 0.5              # serial read timeout per reply
      retries: 2                  # extra attempts for queries (never for commands)
      # IkaMantle only
      probe: 1                    # 1 external PT1000 (medium), 2 plate
      max_stir_rpm: 1500
      ramp_step_s: 10             # host-side ramp step period
      # EurothermMantle only
      address: 1                  # Modbus slave address
      baudrate: 9600
      parity: N                   # N, E or O, as configured on the controller
      stopbits: 1
      model: "3216"               # register map: 3216 or 2416
      resolution: float           # float (IEEE region) or scaled (plain registers)
      decimals: 1                 # decimal places of scaled registers

On a Eurotherm, ``ramp_rate_c_min`` is written to the controller (register 35)
when the device is built; on an IKA the device ramps itself and nothing is sent.
"""

from __future__ import annotations

from photoreactor.devices.common.transport import open_serial
from photoreactor.devices.registry import device_class

from .device import EurothermMantle, IkaMantle
from .eurotherm import SERIAL_DEFAULTS, EurothermDriver
from .ika import SERIAL_SETTINGS, IkaNamurDriver

COMMON_OPTIONAL = {
    "min_temperature_c", "tolerance_c", "settle_s", "ramp_rate_c_min", "poll_s", "stale_s",
    "stale_gap_c", "sensor_range_c", "overtemp_margin_c", "timeout_rate_c_min", "timeout_s",
    "retries",
}
_DEVICE_KEYS = {
    "min_temperature_c": "min_temperature_c", "tolerance_c": "tolerance_c",
    "settle_s": "settle_s", "poll_s": "poll_s", "stale_s": "stale_s",
    "stale_gap_c": "stale_gap_c", "overtemp_margin_c": "overtemp_margin_c",
    "timeout_rate_c_min": "timeout_rate_c_min",
}


def _device_kwargs(config: dict) -> dict:
    kwargs = {dst: float(config[src]) for src, dst in _DEVICE_KEYS.items() if src in config}
    if "sensor_range_c" in config:
        lo, hi = config["sensor_range_c"]
        kwargs["sensor_range_c"] = (float(lo), float(hi))
    kwargs["max_temperature_c"] = float(config["max_temperature_c"])
    return kwargs


@device_class("IkaMantle", required={"port", "max_temperature_c"},
              optional=COMMON_OPTIONAL | {"probe", "max_stir_rpm", "ramp_step_s"}, safe_order=20)
def build_ika_mantle(name: str, config: dict, clock) -> IkaMantle:
    """IKA hotplate/controller (NAMUR, 9600 7E1) with a probe in the flask."""
    port = open_serial(config["port"], **SERIAL_SETTINGS)
    driver = IkaNamurDriver(port, name=name, probe=int(config.get("probe", 1)),
                            timeout_s=float(config.get("timeout_s", 0.5)),
                            retries=int(config.get("retries", 2)))
    extra = {}
    if "ramp_step_s" in config:
        extra["ramp_step_s"] = float(config["ramp_step_s"])
    return IkaMantle(driver, clock=clock, name=name,
                     ramp_rate_c_min=float(config.get("ramp_rate_c_min", 0.0)),
                     max_stir_rpm=float(config.get("max_stir_rpm", 1500.0)),
                     **_device_kwargs(config), **extra)


@device_class("EurothermMantle", required={"port", "max_temperature_c"},
              optional=COMMON_OPTIONAL | {"address", "baudrate", "parity", "stopbits", "model",
                                          "resolution", "decimals"}, safe_order=20)
def build_eurotherm_mantle(name: str, config: dict, clock) -> EurothermMantle:
    """Eurotherm 3216/2416 (Modbus RTU) driving a mantle, thermocouple in the flask."""
    settings = dict(SERIAL_DEFAULTS)
    for key in ("baudrate", "stopbits"):
        if key in config:
            settings[key] = int(config[key])
    if "parity" in config:
        settings["parity"] = str(config["parity"]).upper()[:1]
    port = open_serial(config["port"], **settings)
    driver = EurothermDriver(port, int(config.get("address", 1)), name=name,
                             model=str(config.get("model", "3216")),
                             resolution=str(config.get("resolution", "float")),
                             decimals=int(config.get("decimals", 1)),
                             timeout_s=float(config.get("timeout_s", 0.5)),
                             retries=int(config.get("retries", 2)))
    device = EurothermMantle(driver, clock=clock, name=name, **_device_kwargs(config))
    if "ramp_rate_c_min" in config:
        device.ramp_rate.put(float(config["ramp_rate_c_min"]))
    return device
