"""Notifications: a log line for every run end and safety event; e-mail and webhook when
configured (real smtplib/urllib deliveries to local test servers); failures never raise."""

from __future__ import annotations

import json
import socket
import socketserver
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import bluesky.plan_stubs as bps
import bluesky.plans as bp
import bluesky.preprocessors as bpp
import pytest
from bluesky import RunEngine
from ophyd.sim import det

from photoreactor.queue.notify import NotificationConfigError, Notifier


def failing_plan():
    def body():
        yield from bps.trigger_and_read([det])
        raise RuntimeError("E1 never reached 403 nm")

    return (yield from bpp.run_wrapper(body(), md={"plan_name": "grow_until"}))


def run_with(notifier):
    RE = RunEngine({})
    RE.subscribe(notifier)
    RE(bp.count([det], 3, md={"sample": "CdS-17"}))
    with pytest.raises(RuntimeError):
        RE(failing_plan())


def test_log_file_gets_every_run_end_and_event(tmp_path):
    n = Notifier({}, tmp_path, reactor="rig-1")
    run_with(n)
    n.event("suspended", "light guard: interlock open")
    lines = (tmp_path / "notifications.log").read_text().splitlines()
    assert "[rig-1] SUCCESS   count finished" in lines[0]
    assert "[rig-1] FAIL      grow_until FAILED: E1 never reached 403 nm" in lines[1]
    assert "SUSPENDED light guard: interlock open" in lines[2]
    assert [r["kind"] for r in n.sent] == ["success", "fail", "suspended"]
    assert n.sent[0]["body"].count("CdS-17") == 1 and "events:      3" in n.sent[0]["body"]


class _Hook(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((dict(self.headers), json.loads(body)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook():
    _Hook.received = []
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hooks/reactor", _Hook.received
    server.shutdown()


def test_webhook_posts_json_with_a_text_field(tmp_path, webhook, monkeypatch):
    url, received = webhook
    monkeypatch.setenv("HOOK_TOKEN", "s3cret")
    n = Notifier({"webhook": {"url": url, "headers_env": {"Authorization": "HOOK_TOKEN"}},
                  "events": ["fail", "aborted"]}, tmp_path, reactor="rig-1")
    run_with(n)
    n.event("aborted", "temperature guard: still abnormal after 1800 s")
    assert n.flush(10)
    kinds = [payload["kind"] for _, payload in received]
    assert kinds == ["fail", "aborted"]                 # success not selected: log file only
    headers, payload = received[0]
    assert headers["Authorization"] == "s3cret"
    assert payload["text"] == "[rig-1] grow_until FAILED: E1 never reached 403 nm"
    assert payload["plan"] == "grow_until" and len(payload["uid"]) == 36
    assert "SUCCESS" in (tmp_path / "notifications.log").read_text()


class _SMTP(socketserver.StreamRequestHandler):
    """Just enough SMTP for smtplib.send_message (no extensions)."""

    messages: list = []

    def reply(self, text):
        self.wfile.write(text.encode() + b"\r\n")

    def handle(self):
        self.reply("220 test ESMTP")
        envelope = {"rcpt": []}
        while True:
            line = self.rfile.readline().decode().strip()
            verb = line[:4].upper()
            if verb in ("EHLO", "HELO"):
                self.reply("250 test")
            elif verb == "MAIL":
                envelope["from"] = line
                self.reply("250 ok")
            elif verb == "RCPT":
                envelope["rcpt"].append(line)
                self.reply("250 ok")
            elif verb == "DATA":
                self.reply("354 go ahead")
                data = []
                while (row := self.rfile.readline()) not in (b".\r\n", b""):
                    data.append(row.decode())
                envelope["data"] = "".join(data)
                self.messages.append(envelope)
                self.reply("250 queued")
            elif verb == "QUIT" or not line:
                self.reply("221 bye")
                return
            else:
                self.reply("250 ok")


@pytest.fixture
def smtp_server():
    _SMTP.messages = []
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SMTP)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], _SMTP.messages
    server.shutdown()
    server.server_close()


def test_email_is_sent_through_smtp(tmp_path, smtp_server):
    port, messages = smtp_server
    n = Notifier({"email": {"host": "127.0.0.1", "port": port, "from": "reactor1@lab.example",
                            "to": "chemist@lab.example"}}, tmp_path, reactor="rig-1")
    run_with(n)
    assert n.flush(10)
    assert len(messages) == 2 and not n.failures
    failed = messages[1]["data"]
    assert "Subject: [rig-1] grow_until FAILED: E1 never reached 403 nm" in failed
    assert "chemist@lab.example" in messages[1]["rcpt"][0]
    assert "photoreactor report" in failed


def test_undeliverable_notices_are_logged_never_raised(tmp_path):
    with socket.socket() as s:                      # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    n = Notifier({"webhook": {"url": f"http://127.0.0.1:{dead}/x"}}, tmp_path, reactor="rig-1")
    run_with(n)                                     # no exception reaches the RunEngine
    assert n.flush(20)
    assert len(n.failures) == 2
    assert (tmp_path / "notifications.log").read_text().count("UNDELIVERED") == 2


@pytest.mark.parametrize("cfg, match", [
    ({"email": {"host": "h", "from": "a@b", "to": "c@d", "password": "x"}}, "password_env"),
    ({"email": {"host": "h", "to": "c@d"}}, "missing"),
    ({"webhook": {"url": "ftp://x"}}, "http"),
    ({"events": ["failure"]}, "unknown"),
    ({"sms": {}}, "unknown key"),
])
def test_bad_configuration_is_refused(tmp_path, cfg, match):
    with pytest.raises(NotificationConfigError, match=match):
        Notifier(cfg, tmp_path)
