"""The write-ahead journal: exact arrays, torn tails, liveness locks, fsync policy."""

import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from photoreactor.storage.journal import (
    MAGIC,
    RECORD,
    JournalReader,
    JournalWriter,
    StorageError,
    encode,
    read_journal,
    writer_alive,
)

DTYPES = ["<f8", ">f8", "<f4", "<u2", "<i8", "|b1", "<c16", "<u1"]


def _docs(uid="run-1", n=3, dtype="<f8", shape=(2048,)):
    rng = np.random.default_rng(7)
    yield "start", {"uid": uid, "time": 1.0, "plan_name": "count"}
    yield "descriptor", {"uid": "d1", "run_start": uid, "name": "primary", "time": 1.0,
                         "data_keys": {"spectrum": {"dtype": "array", "shape": list(shape),
                                                    "source": "sim", "units": "counts"}}}
    for i in range(n):
        arr = (rng.random(shape) * 1000).astype(dtype)
        yield "event", {"uid": f"e{i}", "descriptor": "d1", "seq_num": i + 1, "time": 2.0 + i,
                        "data": {"spectrum": arr, "t": float(i) / 3}, "timestamps": {"spectrum": 2.0 + i},
                        "filled": {}}
    yield "stop", {"uid": "s", "run_start": uid, "time": 9.0, "exit_status": "success"}


@pytest.mark.parametrize("dtype", DTYPES)
def test_arrays_come_back_bit_identical(tmp_path, dtype):
    w = JournalWriter(tmp_path)
    sent = list(_docs(dtype=dtype, shape=(4, 16)))
    for name, doc in sent:
        w(name, doc)
    w.close()
    got = list(read_journal(tmp_path / "run-1.journal"))
    assert [n for n, _ in got] == [n for n, _ in sent]
    for (_, a), (_, b) in zip(sent, got, strict=True):
        if "data" in a:
            x, y = a["data"]["spectrum"], b["data"]["spectrum"]
            assert y.dtype == x.dtype and y.shape == x.shape
            assert x.tobytes() == y.tobytes()
            assert b["data"]["t"] == a["data"]["t"]


def test_special_floats_and_numpy_scalars_survive():
    arr = np.array([np.nan, np.inf, -np.inf, -0.0, 5e-324, 1.7976931348623157e308])
    rec = encode("event", {"data": {"a": arr, "n": np.int64(2**62), "b": np.bool_(True)}})
    (name, doc), = _decode_all(rec)
    assert doc["data"]["a"].tobytes() == arr.tobytes()
    assert doc["data"]["n"] == 2**62 and doc["data"]["b"] is True


def _decode_all(records: bytes):
    from photoreactor.storage.journal import decode_body

    out, pos = [], 0
    while pos < len(records):
        _, length, _ = RECORD.unpack_from(records, pos)
        out.append(decode_body(records[pos + RECORD.size: pos + RECORD.size + length]))
        pos += RECORD.size + length
    return out


def test_a_record_cut_anywhere_is_dropped_and_everything_before_is_kept(tmp_path):
    """Power loss mid-write leaves a partial record: the reader stops cleanly before it."""
    full = tmp_path / "full.journal"
    w = JournalWriter(tmp_path)
    for name, doc in _docs(uid="full", n=2, shape=(8,)):
        w(name, doc)
    w.close()
    data = full.read_bytes()
    last = data.rfind(b"PRJR")
    for cut in range(last, len(data)):
        p = tmp_path / "cut.journal"
        p.write_bytes(data[:cut])
        names = [n for n, _ in read_journal(p)]
        assert names == ["start", "descriptor", "event", "event"]
        r = JournalReader(p)
        r.read_new()
        assert r.truncated_tail_bytes == cut - last and r.corrupt is None
        r.close()


def test_corrupted_bytes_stop_the_reader_and_are_reported(tmp_path):
    w = JournalWriter(tmp_path)
    for name, doc in _docs(uid="c", n=3, shape=(8,)):
        w(name, doc)
    w.close()
    p = tmp_path / "c.journal"
    data = bytearray(p.read_bytes())
    third = data.find(b"PRJR", data.find(b"PRJR", len(MAGIC) + 1) + 1)
    data[third + RECORD.size + 3] ^= 0xFF  # flip a bit inside the third record's body
    p.write_bytes(bytes(data))
    r = JournalReader(p)
    assert [n for n, _ in r.read_new()] == ["start", "descriptor"]
    assert r.corrupt == third
    r.close()


def test_a_growing_journal_is_read_incrementally(tmp_path):
    w = JournalWriter(tmp_path)
    docs = list(_docs(uid="g", n=5, shape=(8,)))
    w(*docs[0])
    r = JournalReader(tmp_path / "g.journal")
    seen = [n for n, _ in r.read_new()]
    for name, doc in docs[1:]:
        w(name, doc)
        seen += [n for n, _ in r.read_new()]
    assert seen == [n for n, _ in docs]
    r.close()
    w.close()


def test_writer_lock_tells_a_live_run_from_a_finished_one(tmp_path):
    w = JournalWriter(tmp_path)
    docs = list(_docs(uid="live", n=1, shape=(4,)))
    for name, doc in docs[:-1]:
        w(name, doc)
    assert writer_alive(tmp_path / "live.journal")
    w(*docs[-1])
    assert not writer_alive(tmp_path / "live.journal")
    assert w.stopped == ["live"]


def test_lock_is_released_when_the_writing_process_is_killed(tmp_path):
    code = textwrap.dedent(f"""
        import sys, time
        from photoreactor.storage.journal import JournalWriter
        w = JournalWriter({str(tmp_path)!r})
        w("start", {{"uid": "k", "time": 0}})
        print("ready", flush=True)
        time.sleep(60)
    """)
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "ready"
        assert writer_alive(tmp_path / "k.journal")
        p.kill()
        p.wait()
        assert not writer_alive(tmp_path / "k.journal")
        assert [n for n, _ in read_journal(tmp_path / "k.journal")] == ["start"]
    finally:
        if p.poll() is None:
            p.kill()


def test_flusher_fsyncs_on_time_and_stop_fsyncs_at_once(tmp_path, monkeypatch):
    synced = []
    real = os.fsync

    def spy(fd):
        synced.append((time.monotonic(), fd))
        return real(fd)

    monkeypatch.setattr(os, "fsync", spy)
    w = JournalWriter(tmp_path, fsync_interval_s=0.05)
    docs = list(_docs(uid="f", n=1, shape=(4,)))
    for name, doc in docs[:-1]:
        w(name, doc)
    n0 = len(synced)
    deadline = time.monotonic() + 5
    while len(synced) == n0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(synced) > n0, "the flusher thread never fsynced the open journal"
    w.fsync_interval_s = 30.0   # from now on only a wake-up can make the flusher run soon
    time.sleep(0.2)
    n1 = len(synced)
    t_stop = time.monotonic()
    w(*docs[-1])
    assert not writer_alive(tmp_path / "f.journal"), "the lock must drop with the stop document"
    deadline = time.monotonic() + 10
    while len(synced) == n1 and time.monotonic() < deadline:
        time.sleep(0.001)
    assert len(synced) > n1, "the stop document was never fsynced"
    assert synced[-1][0] - t_stop < 5.0, "the stop document must wake the flusher"
    w.close()


def test_duplicate_run_uid_is_refused(tmp_path):
    w = JournalWriter(tmp_path)
    w("start", {"uid": "dup", "time": 0})
    w("stop", {"uid": "s", "run_start": "dup", "time": 1, "exit_status": "success"})
    with pytest.raises(StorageError, match="already exists"):
        w("start", {"uid": "dup", "time": 2})


def test_documents_of_interleaved_runs_go_to_their_own_journals(tmp_path):
    w = JournalWriter(tmp_path)
    a = list(_docs(uid="A", n=2, shape=(4,)))
    b = [(n, {**d, "uid": "B" + d["uid"]} if n != "start" else {**d, "uid": "B"}) for n, d in
         _docs(uid="B", n=2, shape=(4,))]
    for name, doc in b:
        if "descriptor" in doc:
            doc["descriptor"] = "Bd1"
        if name == "descriptor":
            doc["run_start"] = "B"
        if name == "stop":
            doc["run_start"] = "B"
    for x, y in zip(a, b, strict=True):
        w(*x)
        w(*y)
    assert [n for n, _ in read_journal(tmp_path / "A.journal")] == [n for n, _ in a]
    assert [d["uid"] for _, d in read_journal(tmp_path / "B.journal")] == [d["uid"] for _, d in b]
