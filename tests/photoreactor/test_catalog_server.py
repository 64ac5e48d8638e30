"""Lab-scale storage: two reactors write to one Tiled catalog on a real PostgreSQL.

The slow test starts its own PostgreSQL cluster and Tiled server through
:class:`photoreactor.catalog_server.CatalogServer` (loopback only), runs a short
plan on two simulated reactors at once — two processes, as two queue servers
would — and reads both runs back from a fresh client.  Without PostgreSQL it
installs it (root with apt) or skips saying what is missing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np
import pytest

from photoreactor.catalog_server import (
    CATALOG_DB,
    TABLES_DB,
    CatalogServer,
    CatalogServerError,
    PostgresNotFound,
    find_postgres_bindir,
    free_port,
    install_postgres,
    split_credentials,
)

# -- fast checks (no server) ---------------------------------------------------------------


def test_credentials_leave_the_uri():
    clean, user, password = split_credentials("postgresql://alice:s%40cret@db.lab:5433/cat")
    assert (clean, user, password) == ("postgresql://db.lab:5433/cat", "alice", "s@cret")
    assert split_credentials("postgres://db/cat") == ("postgresql://db/cat", None, None)
    with pytest.raises(CatalogServerError, match="names no database"):
        split_credentials("postgresql://alice@db.lab:5433")
    with pytest.raises(CatalogServerError, match="postgresql://"):
        split_credentials("sqlite:///catalog.db")


def test_external_database_settings_keep_no_password(tmp_path):
    server = CatalogServer(tmp_path / "state", database="postgresql://tiled:pw@db.lab/cat",
                           port=8123)
    assert not server.managed
    assert server.settings["database"] == "postgresql://db.lab/cat"
    assert server.settings["tables_database"] == "postgresql://db.lab/cat"
    assert server.settings["db_user"] == "tiled"
    with pytest.raises(CatalogServerError, match="same credentials"):
        CatalogServer(tmp_path / "other", database="postgresql://a:x@db/cat",
                      tables_database="postgresql://b:y@db/tables")


def test_api_key_from_the_environment_must_suit_tiled(tmp_path, monkeypatch):
    server = CatalogServer(tmp_path / "state")
    monkeypatch.setenv("TILED_SINGLE_USER_API_KEY", "not-a-valid_key")
    with pytest.raises(CatalogServerError, match="letters and digits"):
        _ = server.api_key
    monkeypatch.setenv("TILED_SINGLE_USER_API_KEY", "abc123")
    assert server.catalog_config()["api_key"] == "abc123"
    assert server.new_api_key is None  # a key from the environment is never printed


def test_no_api_key_says_how_to_get_one(tmp_path, monkeypatch):
    monkeypatch.delenv("TILED_SINGLE_USER_API_KEY", raising=False)
    with pytest.raises(CatalogServerError, match="catalog-server start"):
        _ = CatalogServer(tmp_path / "state").api_key


def test_pg_bindir_override_must_hold_the_server(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on PATH
    monkeypatch.setenv("PG_BINDIR", str(tmp_path))
    import photoreactor.catalog_server as cs

    monkeypatch.setattr(cs, "_glob", lambda pattern: [])
    assert find_postgres_bindir() is None  # an empty directory is not a PostgreSQL
    for exe in ("initdb", "pg_ctl", "postgres", "psql"):
        (tmp_path / exe).write_text("#!/bin/sh\n")
        (tmp_path / exe).chmod(0o755)
    assert find_postgres_bindir() == tmp_path
    (tmp_path / "postgres").unlink()
    with pytest.raises(PostgresNotFound, match="apt-get install postgresql"):
        cs.require_postgres()


def test_root_without_a_postgres_account_is_told_what_to_do(tmp_path, monkeypatch):
    import pwd

    import photoreactor.catalog_server as cs

    def no_such_user(name):
        raise KeyError(name)

    monkeypatch.setattr(cs.os, "geteuid", lambda: 0)
    monkeypatch.setattr(cs, "_current_user", lambda: "root")
    monkeypatch.setattr(pwd, "getpwnam", no_such_user)
    with pytest.raises(CatalogServerError, match="no 'postgres' account"):
        cs.PostgresCluster(tmp_path / "pg", 5999, bindir=tmp_path)


def test_cli_has_the_catalog_server_command(tmp_path, capsys):
    from photoreactor.cli import build_parser, main

    args = build_parser().parse_args(["catalog-server", "start", "--read", "/srv/spool",
                                      "--read", "/srv/spool2", "--port", "8001"])
    assert (args.action, args.read, args.port) == ("start", ["/srv/spool", "/srv/spool2"], 8001)
    # nothing set up there: status says so and fails
    assert main(["catalog-server", "status", "--dir", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "tiled_healthy  False" in out and "postgres       stopped" in out


# -- the real thing ---------------------------------------------------------------------------

REACTOR = textwrap.dedent("""
    import json, sys
    import numpy as np
    import yaml
    import bluesky.plan_stubs as bps
    import bluesky.preprocessors as bpp
    from ophyd.sim import det, motor
    from photoreactor import open_session
    from photoreactor.config import resolve_profile_path
    from photoreactor.plans.stubs import take_dark_and_reference

    reactor_id, catalog, out = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
    raw = yaml.safe_load(resolve_profile_path("sim").read_text())
    raw["reactor_id"] = reactor_id
    raw["catalog"] = catalog
    session = open_session(raw, live=False, progress=False)
    sp = session.spectrometer
    emitted = []
    session.RE.subscribe(lambda name, doc: emitted.append(doc["data"]) if name == "event"
                         and doc["descriptor"] in primary else None)
    primary = set()
    session.RE.subscribe(lambda name, doc: primary.add(doc["uid"]) if name == "descriptor"
                         and doc["name"] == "primary" else None)
    motor.set(0.3 if reactor_id.endswith("A") else -0.7)

    @bpp.run_decorator(md={"sample": "CdSe-" + reactor_id, "plan_name": "lab_storage_check"})
    def plan():
        yield from take_dark_and_reference(sp)
        yield from bps.mv(sp.mode, "absorbance")
        for _ in range(3):
            yield from bps.trigger_and_read([sp, det])

    result = session.RE(plan())
    session.close()  # waits until the ingester has put the run into the catalog
    arrays = {k: np.stack([e[k] for e in emitted]) for k in emitted[0]
              if np.ndim(emitted[0][k]) > 0}
    np.savez(out, det=np.array([e["det"] for e in emitted]), **arrays)
    print(json.dumps({"uid": result.run_start_uids[0], "exit_status": result.exit_status,
                      "arrays": sorted(arrays)}))
""")


def _ensure_postgres() -> None:
    if find_postgres_bindir() is not None:
        return
    try:
        install_postgres()  # root with apt (CI); otherwise raises saying what to install
    except PostgresNotFound as exc:
        pytest.skip(f"needs a PostgreSQL server: {exc}")


@pytest.fixture(scope="module")
def lab_server():
    """PostgreSQL + Tiled from a throwaway directory, on free loopback ports."""
    _ensure_postgres()
    # not under pytest's basetemp: /tmp/pytest-of-<user> is 0700, and when we are root the
    # cluster runs as the 'postgres' account, which must traverse to its directory
    base = Path(tempfile.mkdtemp(prefix="photoreactor-catalog-"))
    os.chmod(base, 0o711)
    spool = base / "spool"
    spool.mkdir()
    server = CatalogServer(base / "state", port=free_port(), pg_port=free_port(),
                           readable=[spool])
    try:
        server.start(timeout_s=120)
        yield server, spool
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


def _run_reactors(server, spool, ids):
    """Both reactors at once, each in its own process like a queue server."""
    procs = {}
    for i, rid in enumerate(ids):
        catalog = {"kind": "tiled", "uri": server.uri, "path": str(spool / rid)}
        env = dict(os.environ, PYTHONHASHSEED="0")
        env.pop("TILED_SINGLE_USER_API_KEY", None)
        if i == 0:
            catalog["api_key"] = server.api_key       # key in the profile ...
            env.pop("TILED_API_KEY", None)
        else:
            env["TILED_API_KEY"] = server.api_key     # ... or in the environment
        out = spool.parent / f"{rid}.npz"
        procs[rid] = (subprocess.Popen(
            [sys.executable, "-c", REACTOR, rid, json.dumps(catalog), str(out)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env), out)
    results = {}
    for rid, (proc, out) in procs.items():
        stdout, stderr = proc.communicate(timeout=240)
        assert proc.returncode == 0, f"reactor {rid} failed:\n{stderr[-3000:]}"
        results[rid] = json.loads(stdout.strip().splitlines()[-1])
        results[rid]["sent"] = dict(np.load(out))
    return results


def _check_run(client, rid, result, spool, keys=None):
    """The run of ``rid`` found by searching, with every array in ``keys`` bit-identical."""
    from tiled.queries import Key

    found = client.search(Key("start.reactor_id") == rid)
    assert list(found) == [result["uid"]], f"search by reactor_id {rid} found {list(found)}"
    run = found[result["uid"]]
    assert run.metadata["start"]["sample"] == f"CdSe-{rid}"
    assert run.metadata["stop"]["exit_status"] == "success"
    assert {"primary", "dark", "reference"} <= set(run)
    primary = run["primary"]
    sent = result["sent"]
    assert result["arrays"], "the spectrometer sent no arrays"
    for key in keys or result["arrays"]:
        got = primary[key].read()
        assert got.shape == sent[key].shape, key
        assert got.dtype == sent[key].dtype, key
        assert got.tobytes() == sent[key].tobytes(), f"{rid}: {key} differs"
        # the array node references the HDF5 file this reactor spooled
        ds = primary.base[key].include_data_sources().data_sources()[0]
        assert ds.mimetype == "application/x-hdf5"
        assert all(a.data_uri.startswith((spool / rid).as_uri()) for a in ds.assets)
    table = primary.base["internal"].read()
    assert table["det"].to_numpy().tobytes() == sent["det"].tobytes()
    return primary


@pytest.mark.slow
def test_two_reactors_write_to_one_postgres_catalog(lab_server):
    from tiled.client import from_uri

    server, spool = lab_server
    ids = ("reactor-A", "reactor-B")
    results = _run_reactors(server, spool, ids)
    assert {r["exit_status"] for r in results.values()} == {"success"}
    assert results["reactor-A"]["sent"]["det"].tobytes() != results["reactor-B"]["sent"]["det"].tobytes()

    client = from_uri(server.uri, api_key=server.api_key)  # a fresh reader
    for rid in ids:
        _check_run(client, rid, results[rid], spool)
    assert len(client) == 2

    # the catalog and the tables really are in PostgreSQL
    uids = "', '".join(r["uid"] for r in results.values())
    n_nodes = server.cluster.psql(
        f"SELECT count(*) FROM nodes WHERE parent = 0 AND key IN ('{uids}');",
        database=CATALOG_DB)
    assert n_nodes.strip() == "2"
    n_tables = server.cluster.psql(
        "SELECT count(*) FROM information_schema.tables WHERE table_name LIKE 'table_%';",
        database=TABLES_DB)
    assert int(n_tables) >= 1

    # wrong key: refused; the key is neither on Tiled's command line nor in its log
    import httpx

    with pytest.raises(httpx.HTTPStatusError):
        from_uri(server.uri, api_key="0" * 48)["anything"]
    pid = server.tiled_pid()
    assert server.api_key.encode() not in Path(f"/proc/{pid}/cmdline").read_bytes()
    assert server.api_key not in server.log_path.read_text()

    # restart with the documented commands and the state directory alone: same key, same runs
    from photoreactor.cli import main

    assert main(["catalog-server", "stop", "--dir", str(server.state_dir)]) == 0
    assert not server.healthy() and not server.cluster.running()
    assert main(["catalog-server", "start", "--dir", str(server.state_dir)]) == 0
    again = CatalogServer(server.state_dir)
    assert again.status()["postgres"] == "running" and again.healthy()
    client = from_uri(again.uri, api_key=again.api_key)
    assert sorted(client) == sorted(r["uid"] for r in results.values())
    for rid in ids:
        _check_run(client, rid, results[rid], spool, keys=["spectrometer_absorbance"])
