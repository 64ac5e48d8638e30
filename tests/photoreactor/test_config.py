"""Profile validation: actionable errors before anything is opened."""

import pytest

from photoreactor.config import ProfileError, load_profile


def base(**devices):
    return {"name": "t", "clock": {"kind": "virtual", "speed": 1000},
            "catalog": {"kind": "embedded"}, "devices": devices}


def test_shipped_profiles_validate():
    for name in ("sim", "lab-example"):
        prof = load_profile(name)
        assert prof.devices, f"profile {name} defines no devices"


def test_sim_profile_is_simulated_and_lab_is_not():
    assert load_profile("sim").simulated
    assert not load_profile("lab-example").simulated


def test_unknown_top_level_key():
    raw = base()
    raw["devcies"] = {}
    with pytest.raises(ProfileError, match="unknown key.*devcies"):
        load_profile(raw)


def test_unknown_device_class_lists_known_ones():
    with pytest.raises(ProfileError, match="unknown class 'Frobnicator'.*known classes"):
        load_profile(base(mantle={"class": "Frobnicator"}))


def test_device_without_class():
    with pytest.raises(ProfileError, match="needs a 'class'"):
        load_profile(base(mantle={"port": "/dev/ttyUSB0"}))


def test_device_names_are_snake_case():
    with pytest.raises(ProfileError, match="snake_case"):
        load_profile(base(**{"Mantle": {"class": "IkaMantle"}}))


def test_bad_clock_kind():
    raw = base()
    raw["clock"] = {"kind": "sundial"}
    with pytest.raises(ProfileError, match="clock.kind"):
        load_profile(raw)


def test_remote_catalog_needs_uri():
    raw = base()
    raw["catalog"] = {"kind": "tiled"}
    with pytest.raises(ProfileError, match="catalog.uri"):
        load_profile(raw)


def test_missing_profile_names_the_known_ones():
    with pytest.raises(ProfileError, match="not found.*sim"):
        load_profile("no-such-profile")


def test_missing_port_and_unknown_key_and_inverted_limit():
    from photoreactor.devices.registry import load_all

    classes = load_all()
    name, spec = next((n, s) for n, s in sorted(classes.items()) if s.required)
    with pytest.raises(ProfileError, match="missing"):
        load_profile(base(thing={"class": name}))
    cfg = {"class": name, **{k: "x" for k in spec.required}, "colour": "red"}
    with pytest.raises(ProfileError, match="unknown key.*colour"):
        load_profile(base(thing=cfg))
    cfg = {"class": name, **{k: "x" for k in spec.required}}
    cfg.update({"min_temperature_c": 300, "max_temperature_c": 20}
               if {"min_temperature_c", "max_temperature_c"} <= spec.optional else {})
    if "min_temperature_c" in cfg:
        with pytest.raises(ProfileError, match="limit inverted"):
            load_profile(base(thing=cfg))


def test_inverted_limit_anywhere_in_an_entry():
    from photoreactor.config import _check_limits

    with pytest.raises(ProfileError, match="limit inverted: calibration.min_current_a"):
        _check_limits("dev", {"calibration": {"min_current_a": 1.0, "max_current_a": 0.5}})
