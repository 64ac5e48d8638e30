"""A stalled host is not a dead host: pausing a simulated unattended session trips nothing.

The session runs in a child process with the mantle heating and every watchdog armed
(IKA 600 s, pumps 255 s: at 1000x, 0.6 and 0.26 wall seconds).  The test stops the child
with SIGSTOP three times for 0.75 s — a loaded CI machine does this to a process — and
checks that no controller tripped.  Before the virtual clock discounted host stalls, a
single such pause switched the heater and all the pumps off (the queue test's first
growth then stalled at E1 367 nm instead of reaching 392 nm).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGSTOP"), reason="needs SIGSTOP")

CHILD = textwrap.dedent("""
    import json, sys, time
    from photoreactor.session import open_session

    s = open_session("sim", sys.argv[1], unattended=True, live=False, progress=False)
    keeper = s.unattended.keeper
    keeper.arm()                             # as at the start of a plan, which then heats
    s.mantle.driver.set_setpoint_c(80.0)
    s.mantle.driver.start_heating()
    print("armed", flush=True)
    sys.stdin.readline()                     # the parent has finished stopping us
    time.sleep(0.3)                          # a few refreshes after the last pause
    s.bench.world.update()
    ika = s.bench.emulator("mantle")
    print(json.dumps({"errors": keeper.errors, "ika_tripped": ika.wd_tripped,
                      "heating": ika.heating, "stalled_s": s.clock.stalled_s,
                      "unprotected": keeper.unprotected}), flush=True)
    s.close()
""")


def test_pausing_the_process_trips_no_watchdog(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert child.stdout.readline().strip() == "armed"
        for _ in range(3):
            time.sleep(0.5)
            os.kill(child.pid, signal.SIGSTOP)
            time.sleep(0.75)
            os.kill(child.pid, signal.SIGCONT)
        child.stdin.write("go\n")
        child.stdin.flush()
        result = json.loads(child.stdout.readline())
    finally:
        child.kill()
        child.wait(30)
    assert result["stalled_s"] > 3 * 0.5          # the pauses happened and were not counted
    assert result["errors"] == {}
    assert not result["ika_tripped"] and result["heating"]
    # of the full simulated profile only the LED works on without a watchdog (the power
    # meter reads irradiance but shines nothing)
    assert result["unprotected"] == ["led"]
