"""The in-process Tiled app of an embedded catalog: one per catalog per process.

A restarted queue-server worker hung at start-up (~1 run in 5 under load): its session
opened ``catalog.client`` while the interrupted-run notice looked the killed run up on
another thread, each through its own in-process Tiled app.  Both apps share Tiled's one
SQLAlchemy engine for the catalog, each from its own event loop; the engine's first
connection holds an ``asyncio.Lock`` while SQLAlchemy sets the dialect up, and a second
loop waiting on that lock is never woken when the first loop's thread releases it.

``hold_first_connect`` makes that interleaving certain instead of rare: the first
connection's dialect set-up waits (up to ``HOLD_S``) until another event loop waits on the
lock.  Without the fix the second ``make_client`` never returns; with it, it is a client of
the first app and never meets the lock.
"""

from __future__ import annotations

import asyncio
import gc
import os
import threading
import time

import pytest

from photoreactor.storage import StorageError
from photoreactor.storage import catalog as catalog_mod
from photoreactor.storage.catalog import _init_embedded, make_client

#: longest the first connection's set-up waits for a second loop to queue on its lock
HOLD_S = 2.0
#: a make_client that takes longer than this has hung
HUNG_S = 30.0


def _first_connect_lock(connection):
    """SQLAlchemy's first-connect mutex of the engine (an asyncio.Lock for an async engine)."""
    mutex = getattr(connection.engine.pool.dispatch.connect, "_exec_once_mutex", None)
    return getattr(mutex, "mutex", None)


@pytest.fixture
def hold_first_connect(monkeypatch):
    """Patch the aiosqlite dialect's set-up so the first connection of a new engine holds
    SQLAlchemy's first-connect lock until another loop waits on it (or HOLD_S passes);
    ``release`` ends any hold at once, ``block`` makes the set-up wait for ``release``."""
    from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite

    original = SQLiteDialect_aiosqlite.initialize
    state = {"held": threading.Event(), "release": threading.Event(), "block": False,
             "waiters": 0}

    def initialize(self, connection):
        state["held"].set()
        deadline = time.monotonic() + (HUNG_S if state["block"] else HOLD_S)
        while time.monotonic() < deadline and not state["release"].is_set():
            lock = _first_connect_lock(connection)
            waiters = len(getattr(lock, "_waiters", None) or ())
            if waiters and not state["block"]:
                state["waiters"] = waiters
                break
            time.sleep(0.01)
        return original(self, connection)

    monkeypatch.setattr(SQLiteDialect_aiosqlite, "initialize", initialize)
    yield state
    state["release"].set()


def _wake_every_loop() -> None:
    """Wake every running event loop once (what the lost wake-up never did): lets a hung
    start-up finish so a failing test does not leave its threads stuck."""
    for obj in gc.get_objects():
        if isinstance(obj, asyncio.AbstractEventLoop) and obj.is_running():
            obj.call_soon_threadsafe(lambda: None)


def test_two_threads_opening_one_catalog_share_one_app_and_never_hang(tmp_path,
                                                                    hold_first_connect):
    data = tmp_path / "catalog"
    _init_embedded(data)                 # its own engine: set up before the hold is armed
    opened: dict = {}

    def open_client(name):
        opened[name] = make_client({"kind": "embedded"}, data)

    first = threading.Thread(target=open_client, args=("first",), daemon=True)
    first.start()
    assert hold_first_connect["held"].wait(HUNG_S), "the first app never connected"
    second = threading.Thread(target=open_client, args=("second",), daemon=True)
    second.start()                       # while the first holds the first-connect lock
    first.join(HUNG_S)
    second.join(HUNG_S)
    hung = [t.name for t in (first, second) if t.is_alive()]
    if hung:
        _wake_every_loop()
        second.join(HUNG_S)
    try:
        assert not hung, ("a Tiled app's start-up hung on the first-connect lock of an engine "
                          f"shared with another event loop ({hold_first_connect['waiters']} "
                          "waiter(s) on it)")
        (c1, lease1), (c2, lease2) = opened["first"], opened["second"]
        assert lease1.context is lease2.context      # one in-process app for the catalog
        assert len(c1) == len(c2) == 0               # both usable, from this thread too
    finally:
        for _, closer in opened.values():
            closer.close()
    assert catalog_mod._APPS.get(data.resolve()) is None   # the last release stopped it


def test_the_app_stops_when_its_last_client_is_released(tmp_path):
    data = tmp_path / "catalog"
    c1, lease1 = make_client({"kind": "embedded"}, data)
    c2, lease2 = make_client({"kind": "embedded"}, data, writer=True)
    assert lease1.context is lease2.context
    lease1.close()
    lease1.close()                                   # a second close is harmless
    assert len(c2) == 0                              # still served for the other client
    lease2.close()
    assert catalog_mod._APPS.get(data.resolve()) is None
    c3, lease3 = make_client({"kind": "embedded"}, data)   # and a new one starts after
    try:
        assert len(c3) == 0 and lease3.context is not lease1.context
    finally:
        lease3.close()


def test_a_start_up_that_hangs_raises_a_storage_error(tmp_path, hold_first_connect):
    data = tmp_path / "catalog"
    _init_embedded(data)
    hold_first_connect["block"] = True               # the app's start-up never finishes
    t0 = time.monotonic()
    with pytest.raises(StorageError, match="did not start within 1 s"):
        make_client({"kind": "embedded", "start_timeout_s": 1}, data)
    assert time.monotonic() - t0 < HUNG_S
    assert catalog_mod._APPS.get(data.resolve()) is None
    hold_first_connect["release"].set()              # the abandoned start-up may finish now,
    for t in threading.enumerate():                  # and stops the app it started
        if t.name.startswith("tiled-app-start"):
            t.join(HUNG_S)
    client, lease = make_client({"kind": "embedded"}, data)
    try:
        assert len(client) == 0
    finally:
        lease.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_starts_its_own_app(tmp_path):
    """The parent's app (and Tiled's engine for the catalog, whose connection threads the
    child does not have) must not be reused in a forked child: it would wait forever."""
    data = tmp_path / "catalog"
    client, lease = make_client({"kind": "embedded"}, data)
    try:
        assert len(client) == 0
        pid = os.fork()
        if pid == 0:                                 # the child: never returns into pytest
            code = 1
            try:
                child, child_lease = make_client({"kind": "embedded", "start_timeout_s": 20},
                                                 data)
                code = 0 if len(child) == 0 and child_lease.context is not lease.context else 2
                child_lease.close()
            finally:
                os._exit(code)
        deadline = time.monotonic() + 60
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
                pytest.fail("the forked child's make_client hung")
            time.sleep(0.05)
        assert os.waitstatus_to_exitcode(status) == 0
        lease.close()
        lease = None
    finally:
        if lease is not None:
            lease.close()
