"""The control-plane cases of the fault matrix (notes/reliability.md §5) that the control-plane
files do not cover: F11 with an oversized push and with duplicate pushes, against a scripted
Routes API server (harness/controlplane.py). F10, F11's malformed ops and F12 are in
test_control_plane_faults.py, test_control_plane_bad_ops.py and test_control_plane_load.py.

Each test keeps a keyed client probing the proxy throughout: a push the proxy refuses must not
cost a request, and the routes in force must not move.
"""

from __future__ import annotations

from harness import controlplane as cp
from harness import net
from test_control_plane_support import fake_routes, routes_pb2  # noqa: F401  (fixtures)

# Over the 4 MiB a gRPC message may have (GRPCMessageFraming.defaultMaxMessageBytes, grpc's default too).
OVERSIZED = 5 * 1024 * 1024


def synced_proxy(devmesh, upstream, fake_routes, rules):  # noqa: F811
    """A proxy whose fake Routes server answers every watch call with `rules(server)` and SYNCED,
    once the proxy routes k1 to the `good` upstream."""
    baseline, good = upstream("baseline"), upstream("good")
    holder = {}
    server = fake_routes(lambda index, request: [*rules(holder["server"], good), holder["server"].op("SYNCED")])
    holder["server"] = server
    dm = devmesh(*cp.proxy_flags(server.port, baseline.address))
    probe = cp.Probe(dm.port)
    probe.wait_routed(cp.baggage("k1"), good.name, timeout=5, allowed=[baseline.name])
    return server, dm, probe, baseline, good


def test_f11_an_oversized_push_is_refused_and_the_table_stays(devmesh, upstream, fake_routes):  # noqa: F811
    """F11 (huge push): after SYNCED the server sends one op of 5 MiB, more than a gRPC message
    may carry. The proxy refuses it whole: the watch ends, is counted as a reconnect and comes
    back after its back-off; meanwhile the table in force does not move (same version) and keyed
    requests keep reaching the sandbox; after the resync the routes are the same and the
    oversized rule never appears."""
    server, dm, probe, baseline, good = synced_proxy(
        devmesh, upstream, fake_routes, lambda s, good: [s.op("ADD", s.rule("k1", good.address))])
    call = server.wait_calls(1)
    version, routes = cp.table_version(dm), cp.routed_keys(dm)
    call.send(server.op("ADD", server.rule("k2", good.address, sandbox="s" * OVERSIZED)))
    net.wait_until(lambda: cp.metrics_value(dm, "devmesh_agent_reconnects_total") >= 1, 5,
                   "the oversized push to end the watch")
    assert cp.table_version(dm) == version, "the table was rebuilt for a push that was refused"
    problem = cp.agent_state(dm)["watches"][0]["last_problem"]
    assert "exceeds the limit" in problem, problem  # grpc-status 8, RESOURCE_EXHAUSTED
    for _ in range(20):
        assert probe.ask(cp.baggage("k1")) == good.name
    server.wait_calls(2, timeout=5)
    cp.wait_watch_state(dm, "synced", 5)  # the resync replaces the rules whole: a new table, same routes
    assert cp.routed_keys(dm) == routes, "the routes moved"
    assert "k2" not in str(cp.routes_doc(dm))
    assert probe.ask(cp.baggage("k2")) == baseline.name
    probe.close()


def test_f11_duplicate_pushes_change_nothing(devmesh, upstream, fake_routes):  # noqa: F811
    """F11 (duplicate push): the same ADD twice in the initial sync, then again after SYNCED,
    then a second SYNCED: the routes are the same as after one of each, every keyed request is
    answered by the sandbox, and nothing is counted as rejected."""
    server, dm, probe, baseline, good = synced_proxy(
        devmesh, upstream, fake_routes,
        lambda s, good: [s.op("ADD", s.rule("k1", good.address)), s.op("ADD", s.rule("k1", good.address))])
    call = server.wait_calls(1)
    routes = cp.routed_keys(dm)
    assert cp.metrics_value(dm, "devmesh_agent_rules") == 1
    for _ in range(3):
        call.send(server.op("ADD", server.rule("k1", good.address)))
    call.send(server.op("SYNCED"))
    net.wait_until(lambda: cp.metrics_value(dm, "devmesh_agent_ops_total", result="applied") >= 3, 5,
                   "the repeated ADDs to be handled")
    for _ in range(20):
        assert probe.ask(cp.baggage("k1")) == good.name
    assert cp.routed_keys(dm) == routes
    assert cp.metrics_value(dm, "devmesh_agent_rules") == 1
    assert cp.metrics_value(dm, "devmesh_agent_ops_total", result="rejected") == 0
    assert cp.metrics_value(dm, "devmesh_agent_reconnects_total") == 0
    probe.close()
