"""A queue item killed mid-run is notified at the next start (the queue-server version of
this — a real RE Manager killed with SIGKILL — is in test_queue_server.py)."""

from __future__ import annotations

from types import SimpleNamespace

from photoreactor.queue.interrupted import MARKER, PENDING, RunMarker, report_interrupted
from photoreactor.queue.notify import Notifier
from photoreactor.storage import open_catalog
from tests.photoreactor.storage.conftest import make_run, simulate_death


def test_a_run_killed_mid_way_is_notified_once_at_the_next_start(tmp_path):
    # the first session: a run that dies after 5 events (the kernel drops its journal lock)
    cat = open_catalog({"kind": "embedded"}, tmp_path, ingest=False)
    marker = RunMarker(tmp_path)
    docs = list(make_run(5, stop=False, md={"plan_name": "photocatalysis", "sample": "CdS-9"}))
    uid = docs[0][1]["uid"]
    for name, doc in docs:
        cat.writer(name, doc)
        marker(name, doc)
    assert (tmp_path / MARKER).exists()
    simulate_death(cat.writer, uid)

    # the next start: the catalog recovers the run; the session was made safe
    reader = open_catalog({"kind": "embedded"}, tmp_path, write=False)
    session = SimpleNamespace(catalog=reader, profile=None,
                              safe_report={"mantle": "safe", "led": "safe", "pump_s": "safe"})
    notifier = Notifier({}, tmp_path, reactor="rig-1")
    sent = []
    notify = notifier.notify
    notifier.notify = lambda kind, subject, body="", **f: (sent.append((kind, subject, body, f)),
                                                           notify(kind, subject, body, **f))
    history = [{"item_uid": "0123456789ab-killed", "name": "photocatalysis",
                "result": {"exit_status": "unknown", "time_start": 1.0,
                           "msg": "Plan exit status was lost due to restart of the RE Manager"}},
               {"item_uid": "older", "name": "photocatalysis",
                "result": {"exit_status": "completed", "time_start": 0.5}}]
    report_interrupted(session, notifier, history=lambda: history, wait_s=30, background=False)

    ((kind, subject, body, fields),) = sent
    assert kind == "interrupted"
    assert subject == "photocatalysis INTERRUPTED: the queue server stopped mid-run (queue item 01234567)"
    assert fields == {"uid": uid, "item_uid": "0123456789ab-killed"}
    assert "all devices were made safe" in body
    assert "data up to 2023-11-14" in body and "(5 events) are in the catalog" in body
    assert "CdS-9" in body
    assert "INTERRUPTED photocatalysis INTERRUPTED" in (tmp_path / "notifications.log").read_text()
    assert reader.client[uid].metadata["stop"]["exit_status"] == "abort"

    # once only; and a run that ends normally leaves no marker
    assert not (tmp_path / PENDING).exists() and not (tmp_path / MARKER).exists()
    report_interrupted(session, notifier, history=lambda: history, background=False)
    assert len(sent) == 1
    for name, doc in make_run(2):
        marker(name, doc)
    assert not (tmp_path / MARKER).exists()
    reader.close()
    cat.close()


def test_without_a_manager_or_catalog_entry_the_notice_still_goes_out(tmp_path):
    (tmp_path / "journal").mkdir()
    (tmp_path / MARKER).write_text('{"run_uid": "feedbeef-0000", "plan_name": "grow_until", '
                                   '"time": 1.7e9}')
    session = SimpleNamespace(catalog=SimpleNamespace(data_dir=tmp_path,
                                                      journal_dir=tmp_path / "journal"),
                              profile=None, safe_report={"mantle": "FAILED: no reply"})
    notifier = Notifier({}, tmp_path)

    def no_manager():
        raise TimeoutError("RE Manager did not answer")

    (tmp_path / "journal" / "feedbeef-0000.journal").write_bytes(b"")
    report_interrupted(session, notifier, history=no_manager, wait_s=0.0, background=False)
    line = (tmp_path / "notifications.log").read_text()
    assert "grow_until INTERRUPTED: the queue server stopped mid-run" in line
