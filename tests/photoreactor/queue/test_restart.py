"""What a (re)started manager does by itself: reopen the environment, never restart a
cut-off queue unless the profile says so (and the devices are safe), and say what it did.

The RE Manager is replaced by a small fake client here; the end-to-end case (a manager
killed mid-run and restarted with ``photoreactor queue manager``) is in
``test_queue_server.py``."""

from __future__ import annotations

import json

import pytest
import yaml

from photoreactor.config import PROFILES_DIR, load_profile
from photoreactor.queue.manager import QueueConfigError, queue_settings
from photoreactor.queue.notify import Notifier
from photoreactor.queue.restart import (
    RestartPolicy,
    after_start,
    cut_off_item,
    marker_left,
    restart_policy,
)


class FakeRM:
    """The few ``REManagerAPI`` calls the helper makes."""

    def __init__(self, history=(), queued=2, env_open=False, opens=True, safe=None):
        self.history = list(history)
        self.queued = queued
        self.env = env_open
        self.opens = opens
        self.safe = {"mantle": "safe", "led": "safe"} if safe is None else safe
        self.calls = []
        self._answered = 0

    def status(self):
        self._answered += 1
        if self._answered == 1:
            raise TimeoutError("not up yet")        # the helper must wait for it
        return {"manager_state": "idle", "worker_environment_exists": self.env,
                "items_in_queue": self.queued}

    def history_get(self):
        return {"items": self.history}

    def environment_open(self):
        self.calls.append("environment_open")
        self.env = self.opens

    def wait_for_idle(self, timeout):
        self.calls.append("wait_for_idle")

    def function_execute(self, item, run_in_background):
        self.calls.append(item.to_dict()["name"])
        return {"task_uid": "t1"}

    def wait_for_completed_task(self, uid, timeout):
        pass

    def task_result(self, uid):
        return {"result": {"success": True, "return_value": {"safe_at_start": self.safe}}}

    def queue_start(self):
        self.calls.append("queue_start")


CUT = {"name": "photocatalysis", "item_uid": "abcdef12-3456",
       "result": {"exit_status": "unknown", "msg": "RE Manager was restarted"}}
DONE = {"name": "grow_until", "item_uid": "11111111", "result": {"exit_status": "completed"}}


@pytest.fixture
def notifier(tmp_path):
    n = Notifier({}, tmp_path)
    yield n
    n.close()


def notes(tmp_path) -> str:
    return (tmp_path / "notifications.log").read_text()


def test_a_crash_reopens_the_environment_and_leaves_the_queue_stopped(tmp_path, notifier):
    RM = FakeRM(history=[DONE, CUT])
    report = after_start(RM, RestartPolicy(), notifier, connect_timeout_s=5)
    assert RM.calls == ["environment_open", "wait_for_idle"]          # no queue_start
    assert report["environment"] == "reopened"
    assert report["cut_off"] == {"name": "photocatalysis", "item_uid": "abcdef12-3456"}
    assert report["queue"].startswith("left stopped")
    log = notes(tmp_path)
    assert "RESTARTED queue server restarted after a crash: photocatalysis was cut off; " \
           "environment reopened; queue left stopped" in log
    (record,) = notifier.sent
    assert "queue item abcdef12-3456" in record["body"] and "2 item(s) waiting" in record["body"]


def test_the_queue_restarts_only_when_the_profile_says_so_and_every_device_is_safe(
        tmp_path, notifier):
    allow = RestartPolicy(restart_queue_after_crash=True)
    RM = FakeRM(history=[CUT])
    assert after_start(RM, allow, notifier, connect_timeout_s=5)["queue"].startswith("started")
    assert RM.calls[-2:] == ["safety_report", "queue_start"]
    RM = FakeRM(history=[CUT], safe={"mantle": "safe", "led": "TimeoutError: no answer"})
    report = after_start(RM, allow, notifier, connect_timeout_s=5)
    assert "queue_start" not in RM.calls and report["queue"].startswith("left stopped")
    assert "led" in report["queue"]


def test_an_idle_restart_only_reopens(tmp_path, notifier):
    RM = FakeRM(history=[DONE])
    report = after_start(RM, RestartPolicy(restart_queue_after_crash=True), notifier,
                         connect_timeout_s=5)
    assert RM.calls == ["environment_open", "wait_for_idle"]
    assert report["cut_off"] is None and report["queue"] == "stopped"
    assert "RESTARTED queue server started: environment reopened; queue stopped" in notes(tmp_path)


def test_an_open_environment_is_left_alone_and_a_failed_open_is_reported(tmp_path, notifier):
    RM = FakeRM(history=[CUT], env_open=True)
    assert after_start(RM, RestartPolicy(), notifier, connect_timeout_s=5)["environment"] == \
        "already open"
    assert RM.calls == []
    RM = FakeRM(history=[CUT], opens=False)
    report = after_start(RM, RestartPolicy(restart_queue_after_crash=True), notifier,
                         connect_timeout_s=5)
    assert report["environment"] == "FAILED to open"
    assert "queue_start" not in RM.calls
    assert "environment FAILED to open" in notes(tmp_path)
    assert "may not have been made safe" in notifier.sent[-1]["body"]


def test_the_run_marker_counts_as_a_cut_off_queue(tmp_path, notifier):
    from photoreactor.queue.interrupted import MARKER

    assert marker_left(tmp_path) is None
    (tmp_path / MARKER).write_text(json.dumps({"run_uid": "r1", "plan_name": "grow_until"}))
    marker = marker_left(tmp_path)
    assert marker["plan_name"] == "grow_until" and (tmp_path / MARKER).exists()   # not moved
    RM = FakeRM(history=[DONE])
    report = after_start(RM, RestartPolicy(), notifier, marker=marker, connect_timeout_s=5)
    assert report["cut_off"]["name"] == "grow_until" and "queue_start" not in RM.calls
    assert cut_off_item([CUT, DONE]) is None and cut_off_item([]) is None


def test_policy_defaults_and_checks(tmp_path):
    assert restart_policy(load_profile("sim")) == RestartPolicy(True, False, 600.0)
    assert restart_policy(load_profile("lab-example")).reopen_environment
    raw = yaml.safe_load((PROFILES_DIR / "sim" / "profile.yaml").read_text())
    raw["safety"] = {"unattended": False}
    assert not restart_policy(load_profile(raw)).reopen_environment
    raw["queue"] = {"reopen_environment_on_start": True, "restart_queue_after_crash": True}
    assert restart_policy(load_profile(raw)) == RestartPolicy(True, True, 600.0)
    raw["queue"] = {"restart_queue_after_crash": "yes"}
    with pytest.raises(QueueConfigError, match="true or false"):
        restart_policy(load_profile(raw))
    # the keys are part of the queue section
    prof = tmp_path / "p"
    (prof / "startup").mkdir(parents=True)
    (prof / "startup" / "00-session.py").write_text("")
    raw["queue"] = {"reopen_environment_on_start": False, "reopen_timeout_s": 900}
    (prof / "profile.yaml").write_text(yaml.safe_dump(raw))
    queue_settings(prof)
