"""The control plane when the agent goes away: the proxy keeps serving its last table with no
failed request, shows the watch backing off, reconnects within its backoff bound and resyncs by
diff; a kill -9 of the agent during a burst of creates loses nothing the proxy then sees; a proxy
started while the agent is down serves the baseline and becomes ready after its sync timeout.

Backoff (WorkloadWatch): the first retry 1 s after the stream is lost, then doubling up to 30 s,
each ±10 % jitter; a successful SYNCED resets it.
"""

from __future__ import annotations

import signal
import socket
import threading
import time

import pytest

from harness import controlplane as cp
from harness import devmesh as dmconf
from harness import net
from harness.checks import assert_routed, new_id
from harness.client import get
from test_control_plane_support import agent, mesh  # noqa: F401  (fixtures)


def pending_backoff_bound(dm) -> float:
    """The longest the watch can still wait before its next attempt, from the reconnect count:
    after n failures in a row the pending delay is 1 s << (n - 1), at most 30 s, plus 10 % jitter
    and half a second of slack (the timer tick, a busy box). The count is cumulative, so when
    earlier streams were lost too it over-estimates, which only loosens the bound."""
    n = int(dm.metrics().value("devmesh_agent_reconnects_total"))
    return min(30.0, float(1 << max(0, n - 1))) * 1.1 + 0.5


def test_agent_outage_keeps_the_last_table_with_zero_failed_requests_and_resyncs(mesh):
    """F10: the agent is stopped for a while under a steady client loop: every request is answered
    (the keyed ones by the sandbox, from the last table), /routes shows the watch backing off and
    why, /ready stays 200; after the agent is back on the same port the watch resyncs within the
    pending backoff and new changes flow again."""
    m = mesh(2)
    sandbox, later = m.sandboxes
    key = cp.create_sandbox(m.agent, cp.sandbox_to("steady", sandbox.address))
    m.probe.wait_routed(cp.baggage(key), sandbox.name, timeout=5, allowed=[m.baseline.name])
    version = cp.table_version(m.dm)
    traffic = cp.TrafficLoop(m.dm.port, lambda n: key if n % 2 else None).start()
    try:
        net.wait_until(lambda: traffic.count() > 50, 5, "traffic flowing before the outage")
        m.agent.stop()
        cp.wait_watch_state(m.dm, "backing_off", 5)
        watch = cp.agent_state(m.dm)["watches"][0]
        assert watch["last_problem"] and watch["rules"] == 1 and watch["synced_once"] is True, watch
        assert cp.ready(m.dm)[0] == 200, "a proxy that synced once stays ready while the agent is away"
        metrics = m.dm.metrics()
        assert metrics.value("devmesh_agent_watch_state", workload=cp.WORKLOAD) == 3
        # Let the watch fail to reconnect at least once (it retries 1 s after the loss).
        net.wait_until(lambda: m.dm.metrics().value("devmesh_agent_reconnects_total") >= 2, 5,
                       "a failed reconnect attempt while the agent is down")
        during = traffic.count()
        assert cp.table_version(m.dm) == version, "the table changed while the agent was away"

        m.agent.restart()
        bound = pending_backoff_bound(m.dm)
        back = time.monotonic()
        cp.wait_watch_state(m.dm, "synced", bound + 1)
        took = time.monotonic() - back
        assert took <= bound, f"resynced {took:.2f}s after the agent returned; the backoff allows {bound:.2f}s"
        assert traffic.count() > during, "no traffic during the outage"

        # The new stream carries changes.
        later_key = cp.create_sandbox(m.agent, cp.sandbox_to("after", later.address))
        m.probe.wait_routed(cp.baggage(later_key), later.name, timeout=5, allowed=[m.baseline.name])
    finally:
        answers = traffic.stop()
    failures = [a for a in answers if a.upstream is None]
    assert not failures, f"{len(failures)} of {len(answers)} requests failed: {failures[:3]}"
    misrouted = [a for a in answers if a.upstream != (sandbox.name if a.key else m.baseline.name)]
    assert not misrouted, f"{len(misrouted)} requests misrouted: {misrouted[:3]}"
    print(f"\noutage: {len(answers)} requests, 0 failed; resynced {took * 1000:.0f} ms after the agent "
          f"returned (bound {bound:.2f} s)")


def test_resync_by_diff_after_the_rules_changed_while_the_proxy_was_away(mesh, agent):
    """While the proxy cannot reach the agent, the agent's rules change (a second agent process on
    the same data directory, on another port the proxy does not know, deletes one sandbox, moves
    another and creates a third). Meanwhile the proxy keeps the old routes. When the agent is
    back on its port, the proxy's fresh ADDs + SYNCED replace its rules: the deleted key goes back
    to the baseline, the moved one follows, the new one routes, and an unchanged one never
    stopped working."""
    m = mesh(2)
    old, new = m.sandboxes
    keys = {name: cp.create_sandbox(m.agent, cp.sandbox_to(name, old.address))
            for name in ("removed", "moved", "unchanged")}
    for key in keys.values():
        m.probe.wait_routed(cp.baggage(key), old.name, timeout=5, allowed=[m.baseline.name])
    m.agent.stop()
    cp.wait_watch_state(m.dm, "backing_off", 5)

    side = agent(m.agent.data)  # same directory, kernel-chosen ports
    assert side.grpc_port != m.agent.grpc_port
    cp.delete_sandbox(side, "removed")
    status, _, body = side.request("PUT", "/api/v1/sandboxes/moved", cp.sandbox_to("moved", new.address))
    assert status == 200 and body["routingKey"] == keys["moved"], body
    added = cp.create_sandbox(side, cp.sandbox_to("added", new.address))
    side.stop()

    # Stale but correct: the proxy still serves what it last knew.
    assert m.probe.ask(cp.baggage(keys["removed"])) == old.name
    assert m.probe.ask(cp.baggage(keys["moved"])) == old.name
    assert m.probe.ask(cp.baggage(added)) == m.baseline.name

    m.agent.restart()
    cp.wait_watch_state(m.dm, "synced", pending_backoff_bound(m.dm) + 1)
    for key, want in ((keys["removed"], m.baseline), (keys["moved"], new), (added, new), (keys["unchanged"], old)):
        tid = new_id()
        assert_routed(get(m.dm.port, "/", [*cp.baggage(key), ("x-test-id", tid)]), tid, want,
                      [u for u in (m.baseline, old, new) if u is not want])
    assert set(cp.routed_keys(m.dm)) == {keys["moved"], keys["unchanged"], added}
    assert cp.agent_state(m.dm)["watches"][0]["rules"] == 3


def test_kill_9_during_a_burst_of_creates_the_proxy_sees_every_acknowledged_sandbox(mesh):
    """Writers create sandboxes as fast as the agent answers; the agent is SIGKILLed mid-burst and
    restarted on the same directory and ports. After the proxy resyncs, every acknowledged
    sandbox's key reaches the sandbox through the proxy, and the proxy holds exactly the rules the
    agent recovered (acknowledged ones, plus at most the creates in flight at the kill)."""
    m = mesh(1)
    sandbox = m.sandboxes[0]
    acknowledged: dict[str, str] = {}
    lock = threading.Lock()
    stop = threading.Event()

    def writer(worker: int) -> None:
        n = 0
        while not stop.is_set():
            name = f"w{worker}-{n}"
            n += 1
            try:
                status, _, body = m.agent.request("POST", "/api/v1/sandboxes", cp.sandbox_to(name, sandbox.address),
                                                  timeout=5)
            except OSError:
                return  # the agent died under us: never acknowledged
            if status == 201:
                with lock:
                    acknowledged[name] = body["routingKey"]

    threads = [threading.Thread(target=writer, args=(w,), daemon=True) for w in range(3)]
    for t in threads:
        t.start()
    try:
        net.wait_until(lambda: len(acknowledged) >= 60, 20, "60 acknowledged creates")
    finally:
        m.agent.kill()
        stop.set()
        for t in threads:
            t.join(10)
    cp.wait_watch_state(m.dm, "backing_off", 5)
    m.agent.restart()
    stored = {s["name"]: s["routingKey"] for s in m.agent.request("GET", "/api/v1/sandboxes")[2]["sandboxes"]}
    lost = {name for name, key in acknowledged.items() if stored.get(name) != key}
    assert not lost, f"acknowledged but lost: {sorted(lost)[:5]}"
    cp.wait_watch_state(m.dm, "synced", pending_backoff_bound(m.dm) + 1)
    assert set(cp.routed_keys(m.dm)) == set(stored.values())
    for name, key in sorted(acknowledged.items()):
        assert m.probe.ask(cp.baggage(key)) == sandbox.name, f"{name} ({key}) not routed after the restart"
    print(f"\nkill -9: {len(acknowledged)} acknowledged, {len(stored)} recovered, all routed by the proxy")


def test_a_proxy_started_while_the_agent_is_down(agent, upstream, devmesh):
    """F10 (absent at start): the proxy starts with its agent unreachable: it serves the baseline (keyed
    requests too), /ready is 503 until the sync timeout (1 s here), then 200 saying it serves the baseline
    only; once the agent starts on that port the routes arrive and /ready says synced."""
    a = agent()
    sandbox, baseline = upstream("sandbox"), upstream("baseline")
    key = cp.create_sandbox(a, cp.sandbox_to("waiting", sandbox.address))
    a.stop()
    service = {**dmconf.service("route", [baseline.address]), "workload": cp.WORKLOAD,
               "workload_port": cp.WORKLOAD_PORT}
    started = time.monotonic()
    dm = devmesh(config=cp.agent_config([service], a.grpc_port, sync_timeout="1s"))
    status, note = cp.ready(dm)
    assert status == 503 and "waiting" in note, (status, note)
    tid = new_id()
    assert_routed(get(dm.port, "/", [*cp.baggage(key), ("x-test-id", tid)]), tid, baseline, [sandbox])
    net.wait_until(lambda: cp.ready(dm)[0] == 200, 5, "ready after the sync timeout")
    elapsed = time.monotonic() - started
    assert elapsed >= 1.0, f"ready {elapsed:.2f}s after the start, before the 1 s sync timeout"
    status, note = cp.ready(dm)
    assert "serving the baseline only" in note, note
    assert dm.metrics().value("devmesh_agent_synced") == 0
    assert cp.watch_state(dm) in ("backing_off", "connecting")

    a.restart()
    probe = cp.Probe(dm.port)
    try:
        probe.wait_routed(cp.baggage(key), sandbox.name, timeout=pending_backoff_bound(dm) + 1,
                          allowed=[baseline.name])
    finally:
        probe.close()
    assert cp.ready(dm) == (200, "ready (routes synced from the agent)")
    assert dm.metrics().value("devmesh_agent_synced") == 1


class AcceptRecorder:
    """A listener that accepts and closes at once, recording when each connection arrived: what a
    proxy's watch sees of an agent that is up but failing."""

    def __init__(self) -> None:
        self.sock, self.port = cp.refused_listener()
        self.times: list[float] = []
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.times.append(time.monotonic())
            conn.close()

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self._thread.join(5)


def test_reconnects_back_off_doubling_with_jitter(devmesh, upstream):
    """F10 (back-off): two proxies whose agent accepts and drops every connection: each retries 1 s, 2 s, 4 s
    after the previous attempt (±10 % jitter, plus a timer tick), and the two do not retry in step."""
    baseline = upstream("baseline")
    recorders = [AcceptRecorder(), AcceptRecorder()]
    try:
        for r in recorders:
            devmesh(*cp.proxy_flags(r.port, baseline.address))
        for r in recorders:
            net.wait_until(lambda: len(r.times) >= 4, 12, "4 connection attempts", interval=0.05)
    finally:
        for r in recorders:
            r.close()
    ratios = []
    for r in recorders:
        gaps = [b - a for a, b in zip(r.times, r.times[1:4])]
        for gap, base in zip(gaps, (1.0, 2.0, 4.0)):
            assert 0.9 * base - 0.02 <= gap <= 1.1 * base + 0.15, f"gaps {gaps}: expected about 1, 2, 4 s ±10 %"
            ratios.append(gap / base)
    # With ±10 % jitter the six gaps spread; without it they would agree to a tick (1 %).
    assert max(ratios) - min(ratios) > 0.02, f"no jitter visible: {ratios}"
    print("\nbackoff gaps / expected: " + ", ".join(f"{x:.3f}" for x in ratios))


@pytest.mark.parametrize("watch_buffer", [1, None], ids=["cut-off", "catches-up"])
def test_a_proxy_that_stops_reading_loses_no_change(mesh, watch_buffer):
    """A proxy that stops reading its watch (SIGSTOP) while 1,500 sandboxes are created: the
    agent's stream fills (HTTP/2 window, then the stream's buffer), the backlog waits in the
    watch's bounded queue. With `--watch-buffer 1` the agent ends the stream with UNAVAILABLE
    ("fell behind") and the proxy, running again, watches again and resyncs; with the default
    bound (4096) the proxy simply catches up on the same stream. Either way every sandbox routes:
    no change is lost on the way."""
    m = mesh(1, agent_args=("--watch-buffer", str(watch_buffer)) if watch_buffer else ())
    sandbox = m.sandboxes[0]
    m.dm.send_signal(signal.SIGSTOP)
    try:
        keys = [cp.create_sandbox(m.agent, cp.sandbox_to(f"burst-{i}", sandbox.address)) for i in range(1500)]
    finally:
        m.dm.send_signal(signal.SIGCONT)
    if watch_buffer:
        net.wait_until(lambda: m.dm.metrics().value("devmesh_agent_reconnects_total") >= 1, 5,
                       "the watch cut off by the agent")
        assert "fell behind" in cp.agent_state(m.dm)["watches"][0]["last_problem"]
    net.wait_until(lambda: cp.agent_state(m.dm)["watches"][0]["rules"] == len(keys),
                   pending_backoff_bound(m.dm) + 2, "every rule in the proxy")
    cp.wait_watch_state(m.dm, "synced", 1)
    assert m.dm.metrics().value("devmesh_agent_reconnects_total") == (1 if watch_buffer else 0)
    assert set(cp.routed_keys(m.dm)) == set(keys)
    for key in keys[::100] + keys[-3:]:
        assert m.probe.ask(cp.baggage(key)) == sandbox.name, key


def test_keepalive_drops_a_hung_agent_and_keeps_a_quiet_one(agent, upstream, devmesh):
    """Keepalive PINGs every 200 ms, 800 ms to answer. A quiet but live agent keeps its watch (no
    change for 2 s, no reconnect: the PINGs are answered); a stopped one (SIGSTOP: the kernel
    still holds its socket open, so only a PING can tell) loses it within the timeout, while the
    table the proxy has stays in force; running again, the agent gets a new watch and a resync."""
    a = agent()
    sandbox, baseline = upstream("sandbox"), upstream("baseline")
    key = cp.create_sandbox(a, cp.sandbox_to("kept", sandbox.address))
    service = {**dmconf.service("route", [baseline.address]), "workload": cp.WORKLOAD,
               "workload_port": cp.WORKLOAD_PORT}
    dm = devmesh(config=cp.agent_config([service], a.grpc_port, keepalive_interval="200ms",
                                        keepalive_timeout="800ms"))
    cp.wait_watch_state(dm, "synced", 10)
    quiet_until = time.monotonic() + 2.0
    while time.monotonic() < quiet_until:
        assert cp.watch_state(dm) == "synced", "a live agent's watch was dropped"
        time.sleep(0.1)
    assert dm.metrics().value("devmesh_agent_reconnects_total") == 0

    a.proc.send_signal(signal.SIGSTOP)
    stopped = time.monotonic()
    try:
        net.wait_until(lambda: cp.watch_state(dm) != "synced", 5, "the watch noticing the hung agent",
                       interval=0.05)
        noticed = time.monotonic() - stopped
        # The last answered PING may be up to one interval old when the agent stops.
        assert noticed >= 0.6, f"dropped after {noticed:.2f}s, before the 800 ms timeout"
        assert "keepalive" in cp.agent_state(dm)["watches"][0]["last_problem"]
        tid = new_id()
        assert_routed(get(dm.port, "/", [*cp.baggage(key), ("x-test-id", tid)]), tid, sandbox, [baseline])
    finally:
        a.proc.send_signal(signal.SIGCONT)
    cp.wait_watch_state(dm, "synced", pending_backoff_bound(dm) + 3)
    assert dm.metrics().value("devmesh_agent_reconnects_total") >= 1
    print(f"\nhung agent noticed after {noticed:.2f}s")


@pytest.mark.slow
def test_a_hung_agent_is_noticed_like_the_reference_client_does(mesh):
    """The defaults follow the reference client: a PING every 5 s, 15 s to answer
    (routes-api.md §3). An agent that stops answering without closing its connection (SIGSTOP:
    the kernel still holds the socket open) is noticed within about 20 s, and the watch backs
    off and reconnects, instead of staying "synced" forever."""
    m = mesh(1)
    m.agent.proc.send_signal(signal.SIGSTOP)
    try:
        net.wait_until(lambda: cp.watch_state(m.dm) != "synced", 22, "the watch noticing the hung agent",
                       interval=0.5)
    finally:
        m.agent.proc.send_signal(signal.SIGCONT)
    cp.wait_watch_state(m.dm, "synced", pending_backoff_bound(m.dm) + 3)
