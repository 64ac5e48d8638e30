"""Unattended operation: the Bluesky queue server, schedules, watchdogs, guards, notices.

Overnight reactions are a main use: a chemist queues work at 18:00 and reads the
results at 08:00.  Nothing may be lost, and nothing may be left heating or
shining when something goes wrong.  The pieces:

==========================  ==============================================================
:mod:`.manager`             Redis and the RE Manager for a profile (one startup script for
                            IPython and the queue server), the generated lists of plans and
                            devices and the user-group permissions, a thin API client
:mod:`.schedule`            ``wait_until("22:00")``: start an item at a local time / nightly
:mod:`.watchdog`            arm the IKA and New Era watchdogs and keep them fed
:mod:`.suspenders`          guards: temperature off setpoint, LED trip, pump alarm →
                            suspend, resume when clear, abort safe after a time limit
:mod:`.sleep`               resumable ``bps.sleep`` that never starves a watchdog
:mod:`.notify`              log file always; e-mail / webhook when configured
:mod:`.interrupted`         the item a dead manager left behind, notified at the next start
:mod:`.restart`             a (re)started manager reopens its environment by itself; a
                            cut-off queue stays stopped unless the profile says otherwise
:mod:`.unattended`          installs all of the above on a session
==========================  ==============================================================

Running the queue (simulated profile; the lab profile works the same way)::

    photoreactor queue redis --dir ~/.local/share/photoreactor/redis &   # or a system Redis
    photoreactor queue manager --profile sim &      # RE Manager (start-re-manager ...);
                                                    # opens the worker environment by itself
    photoreactor queue open                         # (or by hand: --no-reopen, or after close)
    photoreactor queue add grow_until -p target_e1_nm=395 --at 22:00
    photoreactor queue add photocatalysis -p duration_h=12 --at 22:00 --nights 3
    photoreactor queue list                         # queue, running item, history
    photoreactor queue start                        # run the queue
    photoreactor queue stop                         # stop after the running item
    photoreactor queue pause | resume | abort       # act on the running plan

A failed item is recorded in the history *and* put back at the front of the queue,
and the queue stops (the queue server's rule: someone should look before the reactor
runs again); ``photoreactor queue remove UID`` drops it.  An item that was running
when the manager died is in the history with exit status ``unknown``, and its run is in
the catalog, closed as interrupted; the restarted worker sends an ``interrupted``
notification naming the plan and queue item, when it started, that the devices were made
safe and up to what time its data are in the catalog (:mod:`.interrupted`).  The restarted
manager reopens the environment by itself and leaves the queue stopped, with a
``restarted`` notification (:mod:`.restart`).  ``profiles/lab-example/queue/README.md`` has the
lab set-up (Redis service, systemd unit, profile sections).

Everything ``photoreactor queue`` does is also available from Bluesky's own
``qserver`` command (``qserver queue add plan '{"name": "grow_until", ...}'``,
``qserver queue start`` ...) with the control address of the profile.

Remote access over HTTP (optional; ``pip install bluesky-httpserver``)::

    QSERVER_ZMQ_CONTROL_ADDRESS=tcp://localhost:60615 \\
    QSERVER_ZMQ_INFO_ADDRESS=tcp://localhost:60625 \\
    QSERVER_HTTP_SERVER_SINGLE_USER_API_KEY=<a long random key> \\
    uvicorn --host 0.0.0.0 --port 60610 bluesky_httpserver.server:app

Clients then send ``Authorization: ApiKey <key>`` (e.g.
``bluesky_queueserver_api.http.REManagerAPI(http_server_uri="http://reactor:60610",
api_key=...)``).  Put it behind the lab's TLS reverse proxy; never expose the
ZeroMQ ports.
"""

from __future__ import annotations


def queue_namespace(session) -> dict:
    """Plans and functions the queue adds to a session's namespace.

    ``wait_until`` (plan), ``safety_report`` (function, JSON-safe health summary)
    and, on simulated profiles only, ``sim_inject_fault`` / ``sim_clear_fault``
    for fault drills.
    """
    from .schedule import make_wait_until

    def safety_report() -> dict:
        """What the session did at start-up and how the safety machinery is doing now."""
        out = {"profile": session.profile.name, "reactor_id": session.profile.reactor_id,
               "clock": session.clock.kind, "clock_time": session.clock.time(),
               "safe_at_start": dict(session.safe_report), "devices": {}}
        for name, dev in session.devices.items():
            state = {}
            for attr in ("heater_on", "output", "state"):
                sig = getattr(dev, attr, None)
                if sig is not None and hasattr(sig, "get"):
                    try:
                        value = sig.get()
                        state[attr] = value if isinstance(value, str | int | float) else str(value)
                    except Exception as exc:
                        state[attr] = f"unreadable: {type(exc).__name__}"
            out["devices"][name] = state
        unattended = getattr(session, "unattended", None)
        out["unattended"] = unattended.status() if unattended is not None else None
        return _json_safe(out)

    ns = {"wait_until": make_wait_until(session.clock), "safety_report": safety_report}
    bench = getattr(session, "bench", None)
    if bench is not None:
        def sim_inject_fault(device: str, fault: str) -> str:
            """Simulated profiles only: inject ``fault`` into the emulator of ``device``."""
            bench.emulator(device).inject(fault)
            return f"{device}: {fault} injected"

        def sim_clear_fault(device: str, fault: str | None = None) -> str:
            """Simulated profiles only: clear one fault (or all) of ``device``'s emulator."""
            bench.emulator(device).clear(fault)
            return f"{device}: {fault or 'all faults'} cleared"

        ns.update(sim_inject_fault=sim_inject_fault, sim_clear_fault=sim_clear_fault)
    return ns


def _json_safe(value):
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, str | int | bool) or value is None:
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else str(value)
    return str(value)


__all__ = ["queue_namespace"]
