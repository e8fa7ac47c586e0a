"""The proxy against a Routes API server that misbehaves: a fake `routes.Routes` on grpcio
(classes generated from proto/routes.proto) scripts every op. Malformed ops are rejected one by
one without touching the table (version and routes unchanged) and counted in
`devmesh_agent_ops_total{result="rejected"}`; good ops still apply; a non-ADD before SYNCED
restarts the watch; a server that never sends SYNCED keeps /ready at 503 until the sync
timeout; an update the proxy cannot build (a host that does not resolve) is refused whole.
"""

from __future__ import annotations

import time

from harness import controlplane as cp
from harness import devmesh as dmconf
from harness import net
from harness.checks import assert_routed, new_id
from harness.client import get
from test_control_plane_support import fake_routes, routes_pb2  # noqa: F401  (fixtures)


def rejected(dm) -> int:
    return int(dm.metrics().value("devmesh_agent_ops_total", result="rejected"))


def test_malformed_ops_are_rejected_one_by_one_and_leave_the_table_untouched(devmesh, upstream, fake_routes):
    """F11: malformed watch ops are rejected one by one and counted; the table in force is untouched."""
    baseline, good, spare = upstream("baseline"), upstream("good"), upstream("spare")
    server = fake_routes(lambda index, request: [])
    dm = devmesh(*cp.proxy_flags(server.port, baseline.address))
    call = server.wait_calls(1)
    call.send(server.op("ADD", server.rule("k1", good.address)), server.op("SYNCED"))
    probe = cp.Probe(dm.port)
    probe.wait_routed(cp.baggage("k1"), good.name, timeout=5, allowed=[baseline.name])
    version = cp.table_version(dm)
    routes = cp.routed_keys(dm)

    unknown_op = server.op("ADD", server.rule("k-op7", spare.address))
    unknown_op.op = 7  # proto3 enums are open: an op number this client does not know
    cases = [
        ("an ADD for another workload", server.op("ADD", server.rule("k2", spare.address,
                                                                   workload=("Deployment", "hotrod", "driver"))),
         "another workload"),
        ("an ADD for another namespace", server.op("ADD", server.rule("k2", spare.address,
                                                                    workload=("Deployment", "other", "route"))),
         "another workload"),
        ("a key outside the alphabet", server.op("ADD", server.rule("a+b", spare.address)), "outside"),
        ("an empty key", server.op("ADD", server.rule("", spare.address)), "outside"),
        ("a destination with port 0", server.op("ADD", server.rule("k3", "127.0.0.1:0")), "invalid destination"),
        ("a destination port above 65535", server.op("ADD", server.rule("k3", "127.0.0.1:70000")),
         "invalid destination"),
        ("a destination without a host", server.op("ADD", server.rule("k3", ":8083")), "invalid destination"),
        ("an ADD without a route", server.op("ADD"), "without a route"),
        ("a REPLACE of k1 to port 0", server.op("REPLACE", server.rule("k1", "127.0.0.1:0")), "invalid destination"),
        ("a REMOVE of a rule not in force", server.op("REMOVE", server.rule("nope", spare.address)), "not in force"),
        ("a message that does not decode", b"\x0a\xff\xff", "undecodable"),
        ("an unknown op", unknown_op, "unknown op"),
    ]
    for n, (what, op, problem) in enumerate(cases, start=1):
        call.send(op)
        net.wait_until(lambda: rejected(dm) == n, 5, f"{what} counted as rejected")
        state = cp.agent_state(dm)
        assert problem in state["watches"][0]["last_problem"], (what, state)
        assert state["watches"][0]["state"] == "synced", (what, state)
        assert cp.table_version(dm) == version, f"{what}: the table was rebuilt"
        assert cp.routed_keys(dm) == routes, f"{what}: the routes changed"
        assert probe.ask(cp.baggage("k1")) == good.name, what

    # A repeated SYNCED changes nothing and is not an error (at most one per stream is sent).
    call.send(server.op("SYNCED"))
    # Good ops after all that still apply, each one a new table.
    call.send(server.op("ADD", server.rule("k4", spare.address)))
    probe.wait_routed(cp.baggage("k4"), spare.name, timeout=5, allowed=[baseline.name])
    call.send(server.op("REPLACE", server.rule("k1", spare.address)))
    probe.wait_routed(cp.baggage("k1"), spare.name, timeout=5, allowed=[good.name])
    call.send(server.op("REMOVE", server.rule("k4")))
    probe.wait_routed(cp.baggage("k4"), baseline.name, timeout=5, allowed=[spare.name])
    probe.close()
    metrics = dm.metrics()
    assert metrics.value("devmesh_agent_ops_total", result="rejected") == len(cases)
    assert metrics.value("devmesh_agent_ops_total", result="applied") == 3
    assert metrics.value("devmesh_agent_table_updates_total", result="refused") == 0
    assert metrics.value("devmesh_agent_reconnects_total") == 0, "a bad op must not end the watch"
    assert cp.table_version(dm) > version
    assert server.calls[0].active and len(server.calls) == 1


def test_a_non_add_before_synced_restarts_the_watch(devmesh, upstream, fake_routes):
    """routes-api.md §3: nothing but ADD may come before SYNCED. A REMOVE there breaks the
    protocol: the proxy counts it, drops that stream's collected ADDs and watches again (after
    its 1 s backoff); the second stream's rules are the ones in force. A bad ADD during the sync
    is dropped alone."""
    baseline, sandbox = upstream("baseline"), upstream("sandbox")

    def script(index: int, request) -> list:
        if index == 0:
            return [server.op("ADD", server.rule("first-stream-only", sandbox.address)),
                    server.op("REMOVE", server.rule("first-stream-only", sandbox.address))]
        return [server.op("ADD", server.rule("kept", sandbox.address)),
                server.op("ADD", server.rule("bad", "127.0.0.1:0")),
                server.op("SYNCED")]

    server = fake_routes(script)
    dm = devmesh(*cp.proxy_flags(server.port, baseline.address))
    server.wait_calls(1)
    net.wait_until(lambda: rejected(dm) == 1, 5, "the REMOVE before SYNCED rejected")
    assert "before SYNCED" in cp.agent_state(dm)["watches"][0]["last_problem"]
    assert cp.ready(dm)[0] == 503
    second = server.wait_calls(2, timeout=5)
    assert second.request.baseline_workload.name == cp.NAME
    cp.wait_watch_state(dm, "synced", 5)
    probe = cp.Probe(dm.port)
    try:
        assert probe.ask(cp.baggage("kept")) == sandbox.name
        assert probe.ask(cp.baggage("first-stream-only")) == baseline.name
        assert probe.ask(cp.baggage("bad")) == baseline.name
    finally:
        probe.close()
    metrics = dm.metrics()
    assert metrics.value("devmesh_agent_ops_total", result="rejected") == 2
    assert metrics.value("devmesh_agent_reconnects_total") == 1
    assert metrics.value("devmesh_agent_rules", workload=cp.WORKLOAD) == 1
    assert cp.ready(dm)[0] == 200


def test_a_server_that_never_sends_synced_keeps_the_proxy_unready_until_the_sync_timeout(
        devmesh, upstream, fake_routes):
    """ADDs without a SYNCED are never put in force; /ready is 503 until `agent.sync_timeout`
    (1.5 s here), then 200 saying the proxy serves the baseline only."""
    baseline, sandbox = upstream("baseline"), upstream("sandbox")
    server = fake_routes(lambda index, request: [server.op("ADD", server.rule("pending", sandbox.address))])
    service = {**dmconf.service("route", [baseline.address]), "workload": cp.WORKLOAD,
               "workload_port": cp.WORKLOAD_PORT}
    started = time.monotonic()
    dm = devmesh(config=cp.agent_config([service], server.port, sync_timeout="1500ms"))
    server.wait_calls(1)
    net.wait_until(lambda: cp.watch_state(dm) == "syncing", 5, "the watch syncing")
    status, note = cp.ready(dm)
    assert status == 503 and "waiting" in note, (status, note)
    net.wait_until(lambda: cp.ready(dm)[0] == 200, 5, "ready after the sync timeout")
    assert time.monotonic() - started >= 1.5, "ready before the sync timeout"
    assert "serving the baseline only" in cp.ready(dm)[1]
    tid = new_id()
    assert_routed(get(dm.port, "/", [*cp.baggage("pending"), ("x-test-id", tid)]), tid, baseline, [sandbox])
    assert cp.watch_state(dm) == "syncing"
    assert dm.metrics().value("devmesh_agent_synced") == 0
    assert cp.routed_keys(dm) == {}


def test_an_update_that_cannot_be_built_is_refused_whole(devmesh, upstream, fake_routes):
    """F11: a rule whose host does not resolve passes the op checks but cannot be built into a table:
    the update is refused (counted, logged), the table in force keeps serving, and the rule is not
    kept for later; the next good op builds a table without it."""
    baseline, sandbox, spare = upstream("baseline"), upstream("sandbox"), upstream("spare")
    server = fake_routes(lambda index, request: [server.op("ADD", server.rule("k1", sandbox.address)),
                                                 server.op("SYNCED")])
    dm = devmesh(*cp.proxy_flags(server.port, baseline.address))
    call = server.wait_calls(1)
    probe = cp.Probe(dm.port)
    try:
        probe.wait_routed(cp.baggage("k1"), sandbox.name, timeout=5, allowed=[baseline.name])
        version = cp.table_version(dm)
        call.send(server.op("REPLACE", server.rule("k1", "no-such-host.invalid:8083")))
        net.wait_until(lambda: dm.metrics().value("devmesh_agent_table_updates_total", result="refused") == 1, 5,
                       "the update refused")
        assert cp.table_version(dm) == version
        assert probe.ask(cp.baggage("k1")) == sandbox.name
        dm.wait_stderr("route update from the agent refused")
        call.send(server.op("ADD", server.rule("k2", spare.address)))
        probe.wait_routed(cp.baggage("k2"), spare.name, timeout=5, allowed=[baseline.name])
        assert probe.ask(cp.baggage("k1")) == sandbox.name
        assert cp.routed_keys(dm) == {"k1": [sandbox.address], "k2": [spare.address]}
    finally:
        probe.close()
