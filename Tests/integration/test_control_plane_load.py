"""Route churn under load: while wrk and a Python keep-alive loop send requests through the
proxy, a script creates and deletes sandboxes through the agent at about 100 changes per second.
No request may fail, and every keyed request lands on its own sandbox while the sandbox exists,
or on the baseline before its create and after its delete; never anywhere else.

The quick case (3 s) runs by default; the 30 s case the issue asks for is marked slow.
"""

from __future__ import annotations

import re
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pytest

from harness import controlplane as cp
from harness import net
from test_control_plane_support import agent  # noqa: F401  (fixture)

RATE = 100             # changes per second
LIVE = 20              # sandboxes alive at any time once the window is full
SLACK = 0.5            # seconds a change may take to reach the data path (measured: milliseconds)
STABLE_KEY = "stable-key"
NEVER_KEY = "never-created"

WRK_SCRIPT = """
wrk.method = "GET"
wrk.path = "/name"
wrk.headers["baggage"] = "sd-routing-key=%(key)s"
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) good = 0; bad = 0 end
function response(status, headers, body)
  if status == 200 and headers["x-upstream"] == "%(upstream)s" then good = good + 1 else bad = bad + 1 end
end
function done(summary, latency, requests)
  local g, b = 0, 0
  for _, t in ipairs(threads) do g = g + t:get("good"); b = b + t:get("bad") end
  io.write(string.format("devmesh-check good=%%d bad=%%d\\n", g, b))
end
"""


@dataclass
class Change:
    name: str
    key: str
    upstream: str
    create_start: float
    create_end: float
    delete_start: Optional[float] = None
    delete_end: Optional[float] = None


class Churn:
    """Creates and deletes sandboxes at RATE changes per second (a fixed schedule, not as fast as
    possible): creates until LIVE exist, then alternately deletes the oldest and creates one."""

    def __init__(self, agent, sandboxes, seconds: float):
        self.agent = agent
        self.sandboxes = sandboxes
        self.seconds = seconds
        self.changes: list[Change] = []
        self.live: tuple[str, ...] = ()        # keys, read by the traffic threads
        self.gone: tuple[str, ...] = ()        # recently deleted keys
        self.errors: list[str] = []
        self.done = 0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> "Churn":
        self._thread.start()
        return self

    def _run(self) -> None:
        alive: list[Change] = []
        start = time.monotonic()
        n = 0
        while True:
            due = start + n / RATE
            now = time.monotonic()
            if due - start >= self.seconds:
                break
            if due > now:
                time.sleep(due - now)
            try:
                if len(alive) >= LIVE:
                    change = alive.pop(0)
                    change.delete_start = time.monotonic()
                    cp.delete_sandbox(self.agent, change.name)
                    change.delete_end = time.monotonic()
                    self.gone = (*self.gone[-LIVE:], change.key)
                else:
                    upstream = self.sandboxes[n % len(self.sandboxes)]
                    name = f"churn-{n}"
                    t0 = time.monotonic()
                    key = cp.create_sandbox(self.agent, cp.sandbox_to(name, upstream.address))
                    change = Change(name, key, upstream.name, t0, time.monotonic())
                    self.changes.append(change)
                    alive.append(change)
                self.live = tuple(c.key for c in alive)
            except AssertionError as e:
                self.errors.append(str(e))
            n += 1
            self.done = n
        self.elapsed = time.monotonic() - start

    def join(self) -> None:
        self._thread.join(self.seconds + 30)
        assert not self._thread.is_alive(), "the churn did not finish"


def start_wrk(port: int, key: str, upstream: str, seconds: float, tmp: Path) -> subprocess.Popen[str]:
    script = tmp / "check.lua"
    script.write_text(WRK_SCRIPT % {"key": key, "upstream": upstream})
    return subprocess.Popen(["wrk", "-t1", "-c2", f"-d{seconds:g}s", "--latency", "-s", str(script),
                             f"http://127.0.0.1:{port}/name"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def wrk_result(proc: subprocess.Popen[str]) -> dict[str, int]:
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    m = re.search(r"devmesh-check good=(\d+) bad=(\d+)", out)
    assert m, out
    result = {"good": int(m.group(1)), "bad": int(m.group(2)), "non2xx": 0, "socket_errors": 0}
    if (n := re.search(r"Non-2xx or 3xx responses: (\d+)", out)):
        result["non2xx"] = int(n.group(1))
    if (e := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)):
        result["socket_errors"] = sum(int(x) for x in e.groups())
    result["output"] = out  # type: ignore[assignment]
    return result


@pytest.mark.parametrize("seconds", [3, pytest.param(30, marks=pytest.mark.slow)], ids=["3s", "30s"])
def test_route_churn_under_load_fails_no_request(agent, nginx_upstream, devmesh, tmp_path, seconds):
    """F12: sandboxes created and deleted at a fixed rate through the agent while clients load the proxy: no
    request fails, and keyed requests follow the routes in force."""
    a = agent()
    baseline, stable = nginx_upstream("baseline"), nginx_upstream("stable")
    sandboxes = [nginx_upstream(f"sb{i}") for i in range(4)]
    dm = devmesh(*cp.proxy_flags(a.grpc_port, baseline.address))
    cp.wait_watch_state(dm, "synced", 10)
    cp.create_sandbox(a, cp.sandbox_to("stable", stable.address, key=STABLE_KEY))
    probe = cp.Probe(dm.port, path="/name")
    probe.wait_routed(cp.baggage(STABLE_KEY), "stable", timeout=5, allowed=["baseline"])
    probe.close()

    churn = Churn(a, sandboxes, seconds)

    def pick(n: int) -> Optional[str]:
        kind = n % 5
        if kind == 0 and churn.live:
            return churn.live[(n * 7919) % len(churn.live)]
        if kind == 1 and churn.gone:
            return churn.gone[(n * 104729) % len(churn.gone)]
        if kind == 2:
            return STABLE_KEY
        if kind == 3:
            return NEVER_KEY
        return None

    wrk = start_wrk(dm.port, STABLE_KEY, "stable", seconds + 1, tmp_path)
    traffic = cp.TrafficLoop(dm.port, pick, threads=2, path="/name").start()
    try:
        churn.start()
        churn.join()
    finally:
        answers = traffic.stop()
        wrk_out = wrk_result(wrk)

    assert not churn.errors, churn.errors[:3]
    rate = churn.done / churn.elapsed
    # The schedule is fixed; a busy 2-core box can make the agent's fsyncs lag behind it.
    assert rate >= 0.8 * RATE, f"only {rate:.0f} changes/s: the churn did not reach its rate"
    failures = [x for x in answers if x.upstream is None]
    assert not failures, f"{len(failures)} of {len(answers)} requests failed: {failures[:3]}"
    assert wrk_out["bad"] == 0 and wrk_out["non2xx"] == 0 and wrk_out["socket_errors"] == 0, wrk_out["output"]

    by_key = {c.key: c for c in churn.changes}
    wrong = []
    for x in answers:
        if x.key is None or x.key == NEVER_KEY:
            ok = x.upstream == "baseline"
        elif x.key == STABLE_KEY:
            ok = x.upstream == "stable"
        else:
            c = by_key[x.key]
            if x.upstream == c.upstream:
                # Only while the rule existed: sent after the create began, before the delete
                # was answered (plus the time the change takes to arrive).
                ok = x.sent >= c.create_start and (c.delete_end is None or x.sent <= c.delete_end + SLACK)
            elif x.upstream == "baseline":
                ok = x.sent <= c.create_end + SLACK or (c.delete_start is not None and x.received >= c.delete_start)
            else:
                ok = False
        if not ok:
            wrong.append(x)
    assert not wrong, f"{len(wrong)} misrouted, e.g. {wrong[:3]}"
    keyed_churn = sum(1 for x in answers if x.key not in (None, NEVER_KEY, STABLE_KEY))
    assert keyed_churn > 0 and any(x.upstream.startswith("sb") for x in answers), "no request hit a churned sandbox"

    # The proxy ends with exactly the agent's rules.
    want = {STABLE_KEY, *churn.live}
    net.wait_until(lambda: set(cp.routed_keys(dm)) == want, 5, "the proxy's routes equal to the agent's")
    metrics = dm.metrics()
    assert metrics.value("devmesh_agent_ops_total", result="applied") == churn.done + 1
    assert metrics.value("devmesh_agent_ops_total", result="rejected") == 0
    assert metrics.value("devmesh_agent_table_updates_total", result="refused") == 0
    assert metrics.value("devmesh_agent_reconnects_total") == 0
    print(f"\nchurn {seconds} s: {churn.done} changes at {rate:.0f}/s; python loop {len(answers)} requests "
          f"({keyed_churn} with churned keys), wrk {wrk_out['good']} requests; 0 failed, 0 misrouted; "
          f"{metrics.value('devmesh_agent_table_updates_total', result='applied'):.0f} tables built")
