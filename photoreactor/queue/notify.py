"""Notifications: tell the chemist at 08:00 (or at 03:00) what happened overnight.

:class:`Notifier` is a RunEngine callback and an event hook.  Every run end
(``success``, ``fail``, ``abort``, with the plan, sample, number of events and
the reason) and every safety event (``suspended``, ``resumed``, ``aborted`` by a
guard, ``watchdog`` problems) is

* always appended to a log file (one line each, local time; default
  ``<data dir>/notifications.log``);
* e-mailed (``smtplib``) when the profile configures ``notifications.email``;
* POSTed as JSON (``urllib``) when it configures ``notifications.webhook``
  (the payload has a ``text`` field, so Slack/Mattermost/Teams-style incoming
  webhooks display it as is).

Profile section::

    notifications:
      log_file: null                     # default <data dir>/notifications.log
      events: [success, fail, abort, suspended, resumed, aborted, watchdog,
               storage, interrupted, restarted]     # the default
      email:
        host: smtp.lab.example.org
        port: 587
        starttls: true
        user: reactor1                   # optional
        password_env: PHOTOREACTOR_SMTP_PASSWORD   # the password never goes in the YAML
        from: reactor1@lab.example.org
        to: [chemist@lab.example.org]
      webhook:
        url: https://chat.lab.example.org/hooks/abc
        headers: {}                      # e.g. {Authorization: "Bearer ..."} via env below
        headers_env: {}                  # {header: ENV_VAR} read at start-up

``events`` filters what is e-mailed and posted (the log file gets everything);
the default sends every run end and every safety event (not ``info``).  On a
simulated profile each log line also gives the session-clock time.

Sending happens on a background thread, so the RunEngine never waits for a mail
server; a failed delivery is logged (and written to the log file) and never
raises into a plan.  :meth:`Notifier.close` waits (bounded) for pending
messages, so the last run's notice is not lost at the end of a session.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import smtplib
import socket
import threading
import urllib.request
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path

log = logging.getLogger(__name__)

RUN_EVENTS = ("success", "fail", "abort")
SAFETY_EVENTS = ("suspended", "resumed", "aborted", "watchdog")
#: the data path: a run the ingester gave up on, a catalog server unreachable for long,
#: a queue item interrupted by a manager that died
STORAGE_EVENTS = ("storage", "interrupted")
#: a (re)started manager reopened its environment (or failed to), left the queue stopped
QUEUE_EVENTS = ("restarted",)
ALL_EVENTS = frozenset(RUN_EVENTS + SAFETY_EVENTS + STORAGE_EVENTS + QUEUE_EVENTS + ("info",))
#: what is e-mailed/posted unless ``events`` says otherwise ("info" — a session started —
#: only goes to the log file)
DEFAULT_EVENTS = frozenset(RUN_EVENTS + SAFETY_EVENTS + STORAGE_EVENTS + QUEUE_EVENTS)
NETWORK_TIMEOUT_S = 15.0


class NotificationConfigError(ValueError):
    """A ``notifications:`` section that cannot work."""


class Notifier:
    """Run-end and safety notifications to a log file, e-mail and a webhook.

    Parameters
    ----------
    config : dict
        The profile's ``notifications`` section (may be empty: log file only).
    log_dir : path
        Where the default log file goes (the session's data directory).
    reactor : str
        Reactor id, used in subjects.
    clock : Clock, optional
        Stamps messages with session-clock time (virtual in a simulation).
    """

    def __init__(self, config: dict | None, log_dir: str | os.PathLike | None, *,
                 reactor: str = "reactor", clock=None):
        cfg = dict(config or {})
        unknown = set(cfg) - {"log_file", "events", "email", "webhook"}
        if unknown:
            raise NotificationConfigError(f"notifications: unknown key(s) {sorted(unknown)}; "
                                          "allowed: log_file, events, email, webhook")
        self.reactor = reactor
        self.clock = clock
        path = cfg.get("log_file")
        if path:
            self.log_file = Path(path).expanduser()
        elif log_dir is not None:
            self.log_file = Path(log_dir) / "notifications.log"
        else:
            self.log_file = None
        events = cfg.get("events")
        self.events = frozenset(events) if events else DEFAULT_EVENTS
        bad = self.events - ALL_EVENTS
        if bad:
            raise NotificationConfigError(f"notifications.events: unknown {sorted(bad)}; "
                                          f"known: {sorted(ALL_EVENTS)}")
        self.email = self._check_email(cfg.get("email"))
        self.webhook = self._check_webhook(cfg.get("webhook"))
        self.sent: list[dict] = []          # delivered notices (for tests and `status`)
        self.failures: list[str] = []
        self._starts: dict[str, dict] = {}
        self._file_lock = threading.Lock()
        self._queue: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------- config checks
    @staticmethod
    def _check_email(cfg):
        if not cfg:
            return None
        cfg = dict(cfg)
        missing = {"host", "from", "to"} - set(cfg)
        if missing:
            raise NotificationConfigError(f"notifications.email: missing {sorted(missing)}")
        if isinstance(cfg["to"], str):
            cfg["to"] = [cfg["to"]]
        if cfg.get("password_env") and cfg["password_env"] not in os.environ:
            log.warning("notifications.email: $%s is not set; sending without login",
                        cfg["password_env"])
        if "password" in cfg:
            raise NotificationConfigError("notifications.email: do not put a password in the "
                                          "profile; name an environment variable in password_env")
        return cfg

    @staticmethod
    def _check_webhook(cfg):
        if not cfg:
            return None
        cfg = dict(cfg)
        if not str(cfg.get("url", "")).startswith(("http://", "https://")):
            raise NotificationConfigError("notifications.webhook.url must be an http(s) URL, "
                                          f"not {cfg.get('url')!r}")
        headers = dict(cfg.get("headers") or {})
        for header, var in (cfg.get("headers_env") or {}).items():
            if var in os.environ:
                headers[header] = os.environ[var]
            else:
                log.warning("notifications.webhook: $%s (for header %s) is not set", var, header)
        cfg["headers"] = headers
        return cfg

    # ------------------------------------------------------------- RunEngine callback
    def __call__(self, name: str, doc: dict) -> None:
        if name == "start":
            self._starts[doc["uid"]] = doc
        elif name == "stop":
            start = self._starts.pop(doc.get("run_start"), {})
            self.run_ended(start, doc)

    def run_ended(self, start: dict, stop: dict) -> None:
        status = stop.get("exit_status", "unknown")
        plan = start.get("plan_name", "plan")
        uid = start.get("uid", stop.get("run_start", ""))
        verb = {"success": "finished", "fail": "FAILED", "abort": "ABORTED"}.get(status, status)
        nevents = sum((stop.get("num_events") or {}).values())
        subject = f"{plan} {verb}" + (f": {stop['reason']}" if stop.get("reason") else "")
        body = "\n".join(line for line in [
            f"plan:        {plan}",
            f"run uid:     {uid}",
            f"sample:      {start.get('sample', '')}" if start.get("sample") else "",
            f"exit status: {status}",
            f"reason:      {stop.get('reason')}" if stop.get("reason") else "",
            f"events:      {nevents}",
            f"started:     {_fmt(start.get('time'))}",
            f"ended:       {_fmt(stop.get('time'))}",
            "",
            f"Read it with: photoreactor report {uid[:8]}",
        ] if line is not None)
        self.notify(status if status in RUN_EVENTS else "fail", subject, body, uid=uid, plan=plan)

    # ------------------------------------------------------------- events
    def event(self, kind: str, message: str) -> None:
        """Hook for guards and the watchdog keeper: ``event("suspended", "...")``."""
        self.notify(kind, message, message)

    def notify(self, kind: str, subject: str, body: str = "", **fields) -> None:
        """Record one notice; queue it for e-mail/webhook if ``kind`` is selected."""
        now = self.clock.time() if self.clock is not None else datetime.now().timestamp()
        record = {"kind": kind, "reactor": self.reactor, "subject": subject, "body": body,
                  "time": now, **fields}
        sim = ""
        if getattr(self.clock, "kind", "wall") == "virtual":
            # a simulated night passes in seconds: say when it happened on the session clock
            sim = f" (session clock {datetime.fromtimestamp(now).isoformat(timespec='seconds')})"
        self._write_log(f"{kind.upper():9s} {subject}{sim}")
        if kind in self.events and (self.email or self.webhook):
            self._ensure_thread()
            self._queue.put(record)
        else:
            self.sent.append(record)

    def _write_log(self, line: str) -> None:
        if self.log_file is None:
            return
        stamp = datetime.now().isoformat(timespec="seconds")
        try:
            with self._file_lock:
                self.log_file.parent.mkdir(parents=True, exist_ok=True)
                with open(self.log_file, "a", encoding="utf-8") as fh:
                    fh.write(f"{stamp} [{self.reactor}] {line}\n")
        except OSError as exc:
            log.error("could not write the notification log %s: %s", self.log_file, exc)

    # ------------------------------------------------------------- delivery
    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._deliver_loop, daemon=True,
                                            name="notifier")
            self._thread.start()

    def _deliver_loop(self) -> None:
        while True:
            record = self._queue.get()
            if record is None:
                self._queue.task_done()
                return
            try:
                if self.email:
                    self._send_email(record)
                if self.webhook:
                    self._post_webhook(record)
                self.sent.append(record)
            except Exception as exc:
                text = f"could not deliver notification {record['subject']!r}: {exc}"
                log.error("%s", text)
                self.failures.append(text)
                self._write_log(f"UNDELIVERED {record['subject']} ({type(exc).__name__}: {exc})")
            finally:
                self._queue.task_done()

    def _send_email(self, record: dict) -> None:
        cfg = self.email
        msg = EmailMessage()
        msg["Subject"] = f"[{self.reactor}] {record['subject']}"
        msg["From"] = cfg["from"]
        msg["To"] = ", ".join(cfg["to"])
        msg.set_content(record["body"] or record["subject"])
        with smtplib.SMTP(cfg["host"], int(cfg.get("port", 25)),
                          timeout=NETWORK_TIMEOUT_S) as smtp:
            if cfg.get("starttls"):
                smtp.starttls()
            if cfg.get("user") and cfg.get("password_env") in os.environ:
                smtp.login(cfg["user"], os.environ[cfg["password_env"]])
            smtp.send_message(msg)

    def _post_webhook(self, record: dict) -> None:
        cfg = self.webhook
        payload = {"text": f"[{self.reactor}] {record['subject']}", **record,
                   "host": socket.gethostname()}
        req = urllib.request.Request(cfg["url"], data=json.dumps(payload).encode(),
                                     method="POST",
                                     headers={"Content-Type": "application/json",
                                              **cfg["headers"]})
        with urllib.request.urlopen(req, timeout=NETWORK_TIMEOUT_S) as resp:
            if resp.status >= 300:
                raise OSError(f"webhook answered HTTP {resp.status}")

    def flush(self, timeout_s: float = 30.0) -> bool:
        """Wait until queued notices were delivered (or failed); False on timeout."""
        if self._thread is None:
            return True
        done = threading.Event()

        def waiter():
            self._queue.join()
            done.set()

        threading.Thread(target=waiter, daemon=True).start()
        return done.wait(timeout_s)

    def close(self, timeout_s: float = 30.0) -> None:
        self.flush(timeout_s)
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=1.0)
            self._thread = None


def _fmt(t) -> str:
    if not t:
        return ""
    return datetime.fromtimestamp(float(t)).isoformat(sep=" ", timespec="seconds")


__all__ = ["Notifier", "NotificationConfigError", "RUN_EVENTS", "SAFETY_EVENTS"]
