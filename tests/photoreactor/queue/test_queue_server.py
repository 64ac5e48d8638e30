"""The queue server end to end: Redis, an RE Manager on the simulated profile, the catalog.

Three experiments are queued — one now, one scheduled two (virtual) hours later, one
that meets an open thermocouple — and each must end as expected with its run in the
catalog.  Then a fourth is killed mid-run together with the whole manager (and Redis is
restarted from its append-only file).  The manager is restarted as the lab's service
does it (``photoreactor queue manager``): it reopens the environment by itself, the rest
of the queue is intact and *stopped*, the interrupted item is reported (and notified, as
is the restart), its run is in the catalog as interrupted, and the new worker made every
device safe before anything else.

Redis comes from Debian's ``redis-server``; the fixture installs it with apt-get on a
fresh machine and skips (saying why) only if that is impossible.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from photoreactor.config import PROFILES_DIR

pytestmark = pytest.mark.slow

#: wall-clock limits (s) for the slow steps; generous for a loaded CI machine
OPEN_S = 240.0
PLAN_S = 180.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_redis_server() -> str:
    """Path of redis-server, installing Debian's package if needed (skip only if impossible)."""
    exe = shutil.which("redis-server")
    if exe:
        return exe
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        pytest.skip("redis-server is not installed and cannot be installed here (needs root "
                    "and apt-get): sudo apt-get install -y redis-server")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in ([apt, "install", "-y", "--no-install-recommends", "redis-server"],
                [apt, "update"],
                [apt, "install", "-y", "--no-install-recommends", "redis-server"]):
        subprocess.run(cmd, env=env, capture_output=True, timeout=900)
        exe = shutil.which("redis-server")
        if exe:
            return exe
    pytest.skip("redis-server could not be installed with apt-get (no network or no "
                "package): install it to run the queue-server test")


class Redis:
    """A private redis-server with the queue persisted in an append-only file."""

    def __init__(self, directory: Path):
        from photoreactor.queue.manager import redis_command

        ensure_redis_server()
        self.port = free_port()
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.cmd = redis_command(self.port, self.dir)
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(self.cmd, stdout=open(self.dir / "redis.log", "ab"),
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start: {(self.dir / 'redis.log').read_text()}")

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()          # SIGTERM: Redis flushes its append-only file
            self.proc.wait(30)
        self.proc = None


class Manager:
    """``start-re-manager`` for a profile, in its own process group (killable as a whole)."""

    def __init__(self, settings, data_dir: Path, log: Path, *, cli: bool = False):
        from photoreactor.queue.manager import manager_command

        if cli:    # as the systemd unit does: reopens the environment once the manager is up
            self.cmd = [str(Path(sys.executable).parent / "photoreactor"), "queue", "manager",
                        "--profile", str(settings.startup_dir.parent), "--verbose"]
        else:
            self.cmd = manager_command(settings, verbose=True)
        self.env = dict(os.environ, PHOTOREACTOR_DATA=str(data_dir))
        self.log = log
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(self.cmd, env=self.env, stdout=open(self.log, "ab"),
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def kill(self):
        """SIGKILL to the manager, its worker and the worker's children: a crash."""
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(30)
            self.proc = None

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()
        self.proc = None


@pytest.fixture
def rig(tmp_path):
    """A copy of the simulated profile on private ports, Redis, and a manager factory."""
    from photoreactor.queue.manager import queue_settings

    prof_dir = tmp_path / "sim"
    shutil.copytree(PROFILES_DIR / "sim", prof_dir,
                    ignore=shutil.ignore_patterns("__pycache__", "calibrations.yaml"))
    raw = yaml.safe_load((prof_dir / "profile.yaml").read_text())
    raw["queue"] = {"redis": "localhost:0", "redis_prefix": f"test_{os.getpid()}",
                    "control": f"tcp://localhost:{free_port()}",
                    "info": f"tcp://localhost:{free_port()}"}
    raw["safety"] = {"suspenders": {"temperature": {"max_suspend_s": 600}}}
    raw["notifications"] = {"log_file": str(tmp_path / "notifications.log")}
    redis = Redis(tmp_path / "redis")
    raw["queue"]["redis"] = f"localhost:{redis.port}"
    (prof_dir / "profile.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    settings = queue_settings(prof_dir)
    redis.start()
    managers = []

    def manager(cli: bool = False):
        m = Manager(settings, tmp_path / "data", tmp_path / "manager.log", cli=cli)
        m.start()
        managers.append(m)
        return m

    yield settings, redis, manager, tmp_path
    for m in managers:
        m.stop()
    redis.stop()


def connect(settings, log: Path):
    from photoreactor.queue.manager import client

    RM = client(settings)
    deadline = time.monotonic() + 60
    while True:
        try:
            RM.status()
            return RM
        except Exception:
            if time.monotonic() > deadline:
                raise AssertionError(f"RE Manager did not answer:\n{log.read_text()[-3000:]}") \
                    from None
            time.sleep(0.2)


def open_environment(RM, log: Path):
    RM.environment_open()
    RM.wait_for_idle(timeout=OPEN_S)
    if not RM.status()["worker_environment_exists"]:
        raise AssertionError(f"environment did not open:\n{log.read_text()[-4000:]}")


def call(RM, name, *args):
    """Run a function of the worker's namespace and return its value."""
    from bluesky_queueserver_api import BFunc

    task = RM.function_execute(BFunc(name, *args), run_in_background=True)["task_uid"]
    RM.wait_for_completed_task(task, timeout=60)
    result = RM.task_result(task)["result"]
    assert result["success"], result
    return result["return_value"]


def wait_for(predicate, what: str, timeout_s: float):
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def history(RM) -> dict:
    return {item["item_uid"]: item for item in RM.history_get()["items"]}


def test_queue_runs_schedules_survives_a_crash_and_restarts_safe(rig):
    from bluesky_queueserver_api import BPlan

    from photoreactor.storage import open_catalog

    settings, redis, manager, tmp = rig
    log = tmp / "manager.log"
    first = manager()
    RM = connect(settings, log)
    open_environment(RM, log)

    # the worker's session made everything safe and runs on the simulated clock
    report = call(RM, "safety_report")
    assert report["clock"] == "virtual"
    assert set(report["safe_at_start"].values()) == {"safe"}
    assert report["unattended"]["watchdogs"]["mantle"] > 0

    # 1: now; 2: two virtual hours later; 3: meets an open thermocouple
    at = datetime.fromtimestamp(report["clock_time"] + 2 * 3600.0).strftime("%H:%M")
    target = report["clock_time"] + 2 * 3600.0
    grow = {"mantle": "mantle", "spectrometer": "spectrometer", "target_e1_nm": 392.0,
            "max_time_s": 3600.0}
    items = [BPlan("grow_until", **grow), BPlan("wait_until", at), BPlan("grow_until", **grow),
             BPlan("grow_until", **{**grow, "target_e1_nm": 400.0, "max_time_s": 3 * 3600.0})]
    uids = [RM.item_add(item)["item"]["item_uid"] for item in items]
    RM.queue_start()

    # inject the fault once the third experiment runs
    wait_for(lambda: RM.status()["running_item_uid"] == uids[3], "the third experiment",
             3 * PLAN_S)
    call(RM, "sim_inject_fault", "mantle", "open_thermocouple")
    wait_for(lambda: uids[3] in history(RM), "the faulty experiment to end", PLAN_S)
    RM.wait_for_idle(timeout=60)     # a failed item stops the queue (qserver default)

    done = history(RM)
    assert [done[u]["result"]["exit_status"] for u in uids] == \
        ["completed", "completed", "completed", "failed"]
    run_uids = [done[u]["result"]["run_uids"] for u in uids]
    assert [len(r) for r in run_uids] == [1, 0, 1, 1]
    assert done[uids[3]]["result"]["msg"].startswith("Plan failed")
    after_fault = call(RM, "safety_report")
    assert after_fault["devices"]["mantle"]["heater_on"] == 0
    call(RM, "sim_clear_fault", "mantle")

    # a long experiment, killed mid-run with the whole manager; two items stay queued
    long_run = BPlan("photocatalysis", led="led", sampler="sampler",
                     spectrometer="spectrometer", sample_every_s=3600.0)      # 55 h
    tail = [RM.item_add(BPlan("grow_until", **grow))["item"]["item_uid"],
            RM.item_add(BPlan("wait_until", "06:00"))["item"]["item_uid"]]
    killed_uid = RM.item_add(long_run, pos="front")["item"]["item_uid"]
    RM.queue_start()
    wait_for(lambda: RM.status()["running_item_uid"] == killed_uid, "the long experiment",
             PLAN_S)
    time.sleep(2.0)                  # let it record a few events (and fsync them)
    # qserver puts a failed item back at the front of the queue (and stops the queue), so
    # the failed experiment waits there too, before the two added after it
    waiting = [item["item_uid"] for item in RM.queue_get()["items"]]
    assert waiting[-2:] == tail and len(waiting) == 3, RM.queue_get()["items"]
    RM.close()
    first.kill()
    redis.stop()                     # Redis too: the queue must come back from its file
    redis.start()

    manager(cli=True)                # photoreactor queue manager: reopens by itself
    RM = connect(settings, log)
    queue = RM.queue_get()
    assert [item["item_uid"] for item in queue["items"]] == waiting
    interrupted = history(RM)[killed_uid]["result"]
    assert interrupted["exit_status"] == "unknown"
    assert "restart" in interrupted["msg"]

    # nobody opens the environment: the manager's helper does, and leaves the queue stopped
    notes_file = tmp / "notifications.log"
    wait_for(lambda: "RESTARTED" in notes_file.read_text(), "the restart notice", OPEN_S)
    # the worker sends the interrupted-run notice from the background once the killed run
    # has been recovered into the catalog: wait for it before closing that worker
    wait_for(lambda: "INTERRUPTED photocatalysis" in notes_file.read_text(),
             "the interrupted-run notice", OPEN_S)
    status = RM.status()
    assert status["worker_environment_exists"], log.read_text()[-4000:]
    assert status["manager_state"] == "idle" and status["running_item_uid"] is None
    assert [item["item_uid"] for item in RM.queue_get()["items"]] == waiting
    assert killed_uid not in [item["item_uid"] for item in RM.queue_get()["items"]]
    assert ("RESTARTED queue server restarted after a crash: photocatalysis was cut off; "
            "environment reopened; queue left stopped") in notes_file.read_text()
    report = call(RM, "safety_report")
    assert set(report["safe_at_start"].values()) == {"safe"}
    assert report["devices"]["mantle"]["heater_on"] == 0
    assert report["devices"]["led"]["output"] == 0
    RM.environment_close()
    RM.wait_for_idle(timeout=120)
    RM.close()

    # every run is in the catalog; the interrupted one is closed as such
    cat = open_catalog({"kind": "embedded"}, tmp / "data", write=False)
    try:
        runs = {uid: (start, stop) for uid, start, stop in cat.runs()}
        for uid in [r[0] for r in run_uids if r]:
            assert uid in runs
        statuses = [runs[r[0]][1].get("exit_status") for r in run_uids if r]
        assert statuses == ["success", "success", "fail"]
        # the scheduled experiment measured only after the scheduled time (device clock)
        ts = cat.client[run_uids[2][0]]["primary"]["ts_mantle_temperature"].read()
        assert float(min(ts)) >= target - 60.0
        ts0 = cat.client[run_uids[0][0]]["primary"]["ts_mantle_temperature"].read()
        assert float(max(ts0)) < target
        (killed_run,) = [uid for uid, (start, _) in runs.items()
                         if start.get("plan_name") == "photocatalysis"]
        stop = runs[killed_run][1]
        assert stop.get("exit_status") == "abort" and "interrupted" in stop.get("reason", "")
        # what it recorded before the crash is readable
        streams = list(cat.client[killed_run])
        assert streams and cat.client[killed_run][streams[0]]["time"].read().size >= 1
    finally:
        cat.close()
    notes = Path(tmp / "notifications.log").read_text()
    assert notes.count("SUCCESS   grow_until finished") == 2
    assert "FAIL      grow_until FAILED" in notes
    # the restarted worker said which item the crash interrupted (sent once the run was
    # recovered into the catalog)
    assert (f"INTERRUPTED photocatalysis INTERRUPTED: the queue server stopped mid-run "
            f"(queue item {killed_uid[:8]})") in notes
