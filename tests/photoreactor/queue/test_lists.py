"""The queue server's files: the checked-in plan list matches the code, the permissions let
chemists queue every experiment (and not the bare stubs), commands and items are built right."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from photoreactor.config import PROFILES_DIR, load_profile
from photoreactor.plans import EXPERIMENTS
from photoreactor.queue.manager import (
    QueueConfigError,
    allowed_for,
    check_existing,
    describe_device_class,
    device_classes,
    manager_command,
    queue_settings,
    scheduled_items,
)

SIM = queue_settings("sim")
LAB = queue_settings("lab-example")


@pytest.mark.slow
def test_checked_in_plan_list_matches_the_code():
    """A renamed or re-parametrised plan must be regenerated (photoreactor queue lists)."""
    assert check_existing(SIM) == []


def test_chemists_may_queue_every_experiment_and_scheduling_but_not_bare_stubs():
    plans, devices = allowed_for(SIM, "primary")
    assert set(EXPERIMENTS) | {"wait_until", "heater_off", "light_off", "cool_to"} <= plans
    assert not plans & {"dose", "heat_to", "set_irradiance", "light_programme", "hold"}
    listing = yaml.safe_load(SIM.existing_file.read_text())
    assert set(listing["existing_devices"]) == devices          # every device of the profile
    expert, _ = allowed_for(SIM, "expert")
    assert expert == set(listing["existing_plans"])


@pytest.mark.slow
def test_checked_in_lab_plan_list_matches_the_code():
    """The lab list is generated without instruments: plans from the (identical) startup,
    devices from their classes (photoreactor queue lists --profile lab-example)."""
    assert not LAB.simulated
    assert check_existing(LAB) == []


def test_lab_permissions_allow_the_same_plans_and_every_lab_device():
    lab_plans, lab_devices = allowed_for(LAB, "primary")
    sim_plans, _ = allowed_for(SIM, "primary")
    assert lab_plans == sim_plans
    listing = yaml.safe_load(LAB.existing_file.read_text())
    assert set(listing["existing_devices"]) == lab_devices == set(device_classes("lab-example"))
    assert listing["existing_plans"] == yaml.safe_load(SIM.existing_file.read_text())[
        "existing_plans"]


def test_device_classes_are_described_as_the_queue_server_describes_built_devices(clock):
    """What lets the lab list be generated without the instruments: for one built
    (emulated) device of every registered class, the queue server's own description of
    the object equals the description derived from its class."""
    from bluesky_queueserver.manager.profile_ops import existing_plans_and_devices_from_nspace

    from photoreactor.devices.registry import load_all
    from photoreactor.session import build_devices
    from photoreactor.sim_devices.bench import build_bench

    from .conftest import TIMEOUT_S, rig_profile

    raw = rig_profile()
    raw["devices"].update({
        "mantle_e": {"class": "EurothermMantle", "port": "sim://tc", "address": 1,
                     "max_temperature_c": 300, "timeout_s": TIMEOUT_S},
        "led_uv": {"class": "DC4100Led", "port": "sim://leds", "channel": 0,
                   "wavelength_nm": 405, "timeout_s": TIMEOUT_S},
        "pump_zn": {"class": "C3000Pump", "port": "sim://dt", "address": 0,
                    "syringe_volume_ml": 5.0, "timeout_s": 0.1,
                    "reagent": {"name": "Zn", "species": "Zn", "concentration_mol_l": 0.1,
                                "volume_ml": 2.5}},
        "power_meter": {"class": "PM100Meter", "visa_backend": "@emulator",
                        "resource": "USB0::0x1313::0x8078::P0000001::INSTR"},
        "spectrometer": {"class": "OceanSpectrometer", "backend": "emulator",
                         "serial_number": "SIM-LISTS1", "model": "FLAME-S"},
    })
    prof = load_profile(raw)
    build_bench(prof, clock)
    devices = build_devices(prof, clock)
    try:
        assert {cfg["class"] for cfg in prof.devices.values()} == set(load_all())
        _, described, _, _ = existing_plans_and_devices_from_nspace(nspace=devices)
        for name, dev in devices.items():
            assert describe_device_class(type(dev)) == described[name], name
    finally:
        from photoreactor.devices.common.transport import close_all_serial

        for dev in devices.values():
            dev.destroy()
        close_all_serial()


def test_manager_command_uses_the_profiles_files_and_never_rewrites_them():
    cmd = manager_command(SIM)
    args = dict(zip(cmd[1::2], cmd[2::2], strict=False))
    assert Path(args["--startup-dir"]) == PROFILES_DIR / "sim" / "startup"
    assert Path(args["--existing-plans-devices"]).is_file()
    assert Path(args["--user-group-permissions"]).is_file()
    assert args["--update-existing-plans-devices"] == "NEVER"
    assert args["--zmq-control-addr"] == "tcp://*:60615"
    assert args["--redis-name-prefix"] == "photoreactor_sim"


def test_scheduled_items_pair_a_wait_with_each_night():
    items = scheduled_items("grow_until", {"target_e1_nm": 395.0}, at="22:00", nights=3)
    assert [(i.to_dict()["name"], i.to_dict().get("args")) for i in items] == \
        [("wait_until", ["22:00"]), ("grow_until", None)] * 3
    assert [i.to_dict()["name"] for i in scheduled_items("grow_until", {})] == ["grow_until"]
    with pytest.raises(QueueConfigError, match="--at"):
        scheduled_items("grow_until", {}, nights=2)
    with pytest.raises(Exception, match="HH:MM"):
        scheduled_items("grow_until", {}, at="10pm")


def test_device_parameters_are_filled_by_name_and_missing_ones_named():
    from photoreactor.cli import UsageError
    from photoreactor.queue.cli import _device_kwargs, _parse_params

    params = _parse_params(["target_e1_nm=395", "at=22:30"])
    assert params == {"target_e1_nm": 395, "at": "22:30"}     # not YAML's 1350
    kwargs = _device_kwargs(SIM, "grow_until", {"target_e1_nm": 395})
    assert kwargs["mantle"] == "mantle" and kwargs["spectrometer"] == "spectrometer"
    with pytest.raises(UsageError, match="unknown plan"):
        _device_kwargs(SIM, "grow_untill", {})
    with pytest.raises(UsageError, match="needs parameter 'at'"):
        _device_kwargs(SIM, "wait_until", {})


def test_bad_queue_section_is_refused(tmp_path):
    prof = tmp_path / "p"
    (prof / "startup").mkdir(parents=True)
    raw = yaml.safe_load((PROFILES_DIR / "sim" / "profile.yaml").read_text())
    raw["queue"] = {"redis": "localhost:6379", "port": 1}
    (prof / "profile.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(QueueConfigError, match="unknown key"):
        queue_settings(prof)
    del raw["queue"]["port"]
    (prof / "profile.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(QueueConfigError, match="00-session.py"):
        queue_settings(prof)
