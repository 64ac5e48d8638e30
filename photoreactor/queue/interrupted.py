"""Tell the chemist, at the next start, about a queue item a dead manager left behind.

When the RE Manager (or its worker) is killed mid-run, the queue server records the
item in its history with exit status ``unknown`` at its next start, and the session's
catalog closes the run as interrupted — but nobody is told.  Here:

* during unattended operation a small marker file (``<data dir>/queue-running.json``:
  run uid, plan, sample, start time) exists exactly while a run is open; it is written
  at the start document and removed at the stop document (two small file operations
  per run, never per event);
* a session that finds the marker at start-up knows the previous one died mid-run.  A
  background thread then looks the item up in the RE Manager's history (best effort:
  the manager answers while the environment opens), waits until the interrupted run is
  in the catalog (the ingester recovers it from its journal at start-up), and sends one
  ``interrupted`` notification: which plan and queue item, when it started, that the
  devices were made safe at this start, and that its data up to time T (the last
  document written before the crash) are in the catalog.  The marker is moved aside at
  start-up and removed once the notice is sent, so it is sent once (and again at the
  following start if this session dies before sending it).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path

from .notify import _fmt

log = logging.getLogger(__name__)

MARKER = "queue-running.json"
#: the marker of a dead session, moved aside until its notice is sent
PENDING = "queue-running.interrupted.json"
#: how long the notice waits for the interrupted run to reach the catalog
CATALOG_WAIT_S = 120.0
#: beyond CATALOG_WAIT_S, how long the catalog read may take before the notice goes
#: out without the run's details
LOOKUP_GRACE_S = 20.0


class RunMarker:
    """RunEngine callback: the marker file exists while a run is open."""

    def __init__(self, data_dir: Path):
        self.path = Path(data_dir) / MARKER
        self.uid: str | None = None

    def __call__(self, name: str, doc: dict) -> None:
        if name == "start":
            self.uid = doc["uid"]
            state = {"run_uid": doc["uid"], "plan_name": doc.get("plan_name", ""),
                     "sample": doc.get("sample", ""), "time": doc.get("time"),
                     "wall_time": time.time(), "pid": os.getpid()}
            tmp = self.path.with_suffix(".tmp")
            try:
                tmp.write_text(json.dumps(state))
                os.replace(tmp, self.path)
            except OSError as exc:
                log.error("cannot write the run marker %s: %s", self.path, exc)
        elif name == "stop" and doc.get("run_start") == self.uid:
            self.uid = None
            self.path.unlink(missing_ok=True)


def left_behind(data_dir: Path) -> dict | None:
    """The marker a session that died mid-run left in ``data_dir``, if any (moved aside to
    ``PENDING``, so this session's own marker cannot be mistaken for it)."""
    marker, pending = Path(data_dir) / MARKER, Path(data_dir) / PENDING
    if marker.exists() and not pending.exists():
        os.replace(marker, pending)
    else:
        marker.unlink(missing_ok=True)   # an older notice is still pending: that one wins
    try:
        return json.loads(pending.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("unreadable run marker in %s: %s", data_dir, exc)
        return {"run_uid": "", "plan_name": "", "time": None}


def history_item(history: list[dict], marker: dict) -> dict | None:
    """The history item of the interrupted run: the latest with exit status ``unknown``
    (what the manager records after a restart) of the marker's plan."""
    candidates = [item for item in history
                  if (item.get("result") or {}).get("exit_status") == "unknown"
                  and (not marker.get("plan_name") or item.get("name") == marker["plan_name"])]
    if not candidates:
        return None
    return max(candidates, key=lambda i: (i.get("result") or {}).get("time_start") or 0.0)


def manager_history(profile, timeout_s: float = 5.0) -> list[dict]:
    """The RE Manager's history for ``profile`` ([] when there is no manager to ask)."""
    from .manager import client, queue_settings

    RM = client(queue_settings(profile), timeout_s=timeout_s)
    try:
        return list(RM.history_get()["items"])
    finally:
        RM.close()


def interrupted_run_in_catalog(catalog, run_uid: str, timeout_s: float) -> dict | None:
    """The stop document the catalog holds for ``run_uid`` once it is ingested (None if
    it is not there within ``timeout_s``)."""
    from photoreactor.storage.catalog import make_client
    from photoreactor.storage.journal import SUFFIX

    journal = Path(catalog.journal_dir) / f"{run_uid}{SUFFIX}"
    deadline = time.monotonic() + timeout_s
    while journal.exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    if journal.exists():
        return None
    # an embedded catalog: a client of this process's one in-process Tiled app, which the
    # session may be starting at this moment on another thread (make_client serialises that)
    client, context = make_client(catalog.config, catalog.data_dir)
    try:
        return dict(client[run_uid].metadata.get("stop") or {})
    except KeyError:
        return None
    finally:
        try:
            context.close()
        except Exception:  # noqa: BLE001
            pass


def notice(marker: dict, item: dict | None, stop: dict | None, safe_report: dict,
           journal_dir: Path) -> tuple[str, str]:
    """Subject and body of the ``interrupted`` notification."""
    plan = marker.get("plan_name") or (item or {}).get("name") or "plan"
    item_uid = (item or {}).get("item_uid", "")
    subject = (f"{plan} INTERRUPTED: the queue server stopped mid-run"
               + (f" (queue item {item_uid[:8]})" if item_uid else ""))
    unsafe = {k: v for k, v in (safe_report or {}).items() if v != "safe"}
    if safe_report and not unsafe:
        safe = "all devices were made safe when the queue server started again"
    elif unsafe:
        safe = f"NOT every device could be made safe at the restart: {unsafe}"
    else:
        safe = "the devices were made safe at the restart (no report)"
    if stop:
        n = sum((stop.get("num_events") or {}).values())
        data = (f"its data up to {_fmt(stop.get('time'))} ({n} events) are in the catalog, "
                f"the run closed as {stop.get('exit_status', 'abort')} / interrupted")
    else:
        data = (f"its data are safe in its journal ({journal_dir}) and reach the catalog "
                f"when the ingester has replayed it")
    body = "\n".join(line for line in [
        f"plan:        {plan}",
        f"queue item:  {item_uid}" if item_uid else "queue item:  (not found in the history)",
        f"run uid:     {marker.get('run_uid', '')}",
        f"sample:      {marker['sample']}" if marker.get("sample") else None,
        f"started:     {_fmt(marker.get('time'))}",
        f"last data:   {_fmt(stop.get('time'))}" if stop else None,
        f"restarted:   {_fmt(time.time())}",
        "",
        f"The queue server (or its worker) died while this plan ran; {safe}; {data}.",
        "The item is in the queue history with exit status 'unknown' and was not repeated.",
    ] if line is not None)
    return subject, body


def report_interrupted(session, notifier, *, history=None, wait_s: float = CATALOG_WAIT_S,
                       background: bool = True) -> threading.Thread | None:
    """If the previous session died mid-run, notify it (once).  ``history``: a callable
    returning the manager's history items (default: ask the profile's RE Manager)."""
    catalog = session.catalog
    marker = left_behind(catalog.data_dir)
    if marker is None:
        return None

    def work():
        item = None
        try:
            items = history() if history is not None else manager_history(session.profile)
            item = history_item(items, marker)
        except Exception as exc:  # noqa: BLE001 - no manager (IPython) or it did not answer
            log.info("interrupted run %s: queue history not available: %s",
                     marker.get("run_uid"), exc)
        stop = None
        if marker.get("run_uid"):
            # the catalog detail is looked up on its own thread and waited for a bounded
            # time: a catalog that hangs must not swallow the notice itself
            found: dict = {}

            def lookup():
                try:
                    found["stop"] = interrupted_run_in_catalog(catalog, marker["run_uid"], wait_s)
                except Exception as exc:  # noqa: BLE001 - the notice matters more than detail
                    log.warning("interrupted run %s: catalog not readable: %s",
                                marker["run_uid"], exc)

            reader = threading.Thread(target=lookup, name="interrupted-lookup", daemon=True)
            reader.start()
            reader.join(wait_s + LOOKUP_GRACE_S)
            if reader.is_alive():
                log.warning("interrupted run %s: the catalog did not answer within %.0f s; "
                            "notifying without its details", marker["run_uid"],
                            wait_s + LOOKUP_GRACE_S)
            stop = found.get("stop")
        subject, body = notice(marker, item, stop, getattr(session, "safe_report", {}),
                               catalog.journal_dir)
        notifier.notify("interrupted", subject, body, uid=marker.get("run_uid", ""),
                        item_uid=(item or {}).get("item_uid", ""))
        (Path(catalog.data_dir) / PENDING).unlink(missing_ok=True)

    if not background:
        work()
        return None
    t = threading.Thread(target=work, name="interrupted-notice", daemon=True)
    t.start()
    return t
