"""The agent's HTTP API over real sockets: REST status codes and error bodies, and the Routes
API's HTTP twin (routes-api.md §5) checked against Python protobuf classes generated from our
proto/routes.proto."""

from __future__ import annotations

import socket

import pytest

from google.protobuf import json_format

from test_agent_support import agent, routes_pb2, sandbox_body  # noqa: F401  (fixtures)


def test_grpc_get_and_watch_with_a_grpcio_client(agent, routes_pb2):
    """The gRPC port serves routes.Routes to a client generated from our .proto: Get returns the
    rules, Watch sends the current rules as ADD, exactly one SYNCED, then every change in order;
    GetClusterServices is UNIMPLEMENTED."""
    import grpc
    a = agent()
    assert a.http_port and a.grpc_port and a.http_port != a.grpc_port
    assert a.request("POST", "/api/v1/sandboxes", sandbox_body("feature-x"))[0] == 201
    channel = grpc.insecure_channel(f"127.0.0.1:{a.grpc_port}")
    stub = routes_pb2.grpc_stubs.RoutesStub(channel)
    workload = routes_pb2.BaselineWorkload(kind="Deployment", namespace="hotrod", name="route")
    request = routes_pb2.WorkloadRoutingRulesRequest(baseline_workload=workload)

    rules = stub.GetWorkloadRoutingRules(request, timeout=5).routingRules
    assert [r.destination_sandbox.name for r in rules] == ["feature-x"]
    twin = a.request("GET", "/api/v1/workloads/routing-rules?baselineName=route")[2]["routingRules"]
    assert [r["routingKey"] for r in twin] == [r.routing_key for r in rules], "the HTTP twin disagrees"

    stream = stub.WatchWorkloadRoutingRules(request, timeout=10)
    seen = []
    for op in stream:
        seen.append((routes_pb2.WatchOp.Name(op.op), op.route.destination_sandbox.name))
        if seen[-1][0] == "SYNCED":
            # Changes after SYNCED arrive as deltas, in order.
            assert a.request("POST", "/api/v1/sandboxes", sandbox_body("feature-y"))[0] == 201
            assert a.request("DELETE", "/api/v1/sandboxes/feature-x")[0] == 204
        if len(seen) == 4:
            break
    stream.cancel()
    assert seen == [("ADD", "feature-x"), ("SYNCED", ""), ("ADD", "feature-y"), ("REMOVE", "feature-x")], seen

    with pytest.raises(grpc.RpcError) as failure:
        stub.GetClusterServices(routes_pb2.GetClusterServicesRequest(), timeout=5)
    assert failure.value.code() == grpc.StatusCode.UNIMPLEMENTED
    channel.close()


def test_sandbox_lifecycle_and_status_codes(agent):
    a = agent()
    status, headers, body = a.request("POST", "/api/v1/sandboxes", sandbox_body("feature-x"))
    assert status == 201, body
    assert headers["location"] == "/api/v1/sandboxes/feature-x"
    key = body["routingKey"]
    assert len(key) == 13 and key.isalnum() and key == key.lower()
    assert body["routingHeader"] == f"baggage: sd-routing-key={key}"

    assert a.request("GET", "/api/v1/sandboxes/feature-x")[2] == body
    assert [s["name"] for s in a.request("GET", "/api/v1/sandboxes")[2]["sandboxes"]] == ["feature-x"]

    cases = [
        ("duplicate name", "POST", "/api/v1/sandboxes", sandbox_body("feature-x"), 409, "conflict", "name"),
        ("taken routing key", "POST", "/api/v1/sandboxes", sandbox_body("other", key=key), 409, "conflict", "routingKey"),
        ("bad name", "POST", "/api/v1/sandboxes", sandbox_body("Feature_X"), 400, "invalid", "name"),
        ("bad host", "POST", "/api/v1/sandboxes", sandbox_body("y", host="bad_host"), 400, "invalid",
         "forks[0].ports[0].destinations[0].host"),
        ("bad port", "POST", "/api/v1/sandboxes", sandbox_body("y", port=70000), 400, "invalid",
         "forks[0].ports[0].workloadPort"),
        ("unknown field", "POST", "/api/v1/sandboxes", {"name": "y", "forkz": []}, 400, "invalid", "forkz"),
        ("missing", "GET", "/api/v1/sandboxes/nope", None, 404, "not_found", None),
        ("unknown path", "GET", "/api/v1/nothing", None, 404, "not_found", None),
    ]
    for name, method, path, payload, want_status, code, field in cases:
        status, _, err = a.request(method, path, payload)
        assert status == want_status, (name, err)
        assert err["error"]["code"] == code, (name, err)
        assert err["error"].get("field") == field, (name, err)
        assert err["error"]["message"], name

    status, headers, err = a.request("PATCH", "/api/v1/sandboxes/feature-x", {})
    assert status == 405 and headers["allow"] == "GET, PUT, DELETE, HEAD", err
    status, _, err = a.request("POST", "/api/v1/sandboxes", raw=b"name=x",
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 415 and "application/json" in err["error"]["message"]
    status, _, err = a.request("POST", "/api/v1/sandboxes", raw=b"x" * (2 << 20),
                               headers={"Content-Type": "application/json"})
    assert status == 413 and err["error"]["code"] == "too_large"

    assert a.request("DELETE", "/api/v1/sandboxes/feature-x")[0] == 204
    assert a.request("DELETE", "/api/v1/sandboxes/feature-x")[0] == 404
    assert a.request("GET", "/api/v1/sandboxes")[2] == {"sandboxes": []}


def test_http_twin_is_proto3_json_of_our_proto_and_filters(agent, routes_pb2):
    a = agent()
    x = a.request("POST", "/api/v1/sandboxes", sandbox_body("x", workload="route"))[2]
    y = a.request("POST", "/api/v1/sandboxes", {
        "name": "y", "forks": [
            {"forkOf": {"kind": "Deployment", "namespace": "hotrod", "name": "route"},
             "ports": [{"workloadPort": 8083, "destinations": [{"host": "route-y.hotrod.svc", "port": 8083},
                                                               {"host": "route-y2.hotrod.svc", "port": 80}]}]},
            {"forkOf": {"kind": "ArgoRollout", "namespace": "shop", "name": "cart"}, "ports": []}]})[2]

    status, headers, body = a.request("GET", "/api/v1/workloads/routing-rules")
    assert status == 200 and headers["content-type"] == "application/json"
    # Every rule has the required fields of §5, and the document parses as proto3 JSON of
    # GetWorkloadRoutingRulesResponse (unknown fields would be an error here).
    for rule in body["routingRules"]:
        assert {"routingKey", "baseline", "destinationSandbox", "mappings"} <= set(rule)
    message = json_format.ParseDict(body, routes_pb2.GetWorkloadRoutingRulesResponse())
    assert len(message.routingRules) == 3
    by_key = {(r.routing_key, r.baseline.name): r for r in message.routingRules}
    ry = by_key[(y["routingKey"], "route")]
    assert ry.destination_sandbox.name == "y"
    assert [(d.host, d.port) for d in ry.mappings[0].destinations] == [("route-y.hotrod.svc", 8083),
                                                                       ("route-y2.hotrod.svc", 80)]
    cart = by_key[(y["routingKey"], "cart")]
    assert cart.baseline.kind == "ArgoRollout" and list(cart.mappings) == []

    def names(query: str) -> list[tuple[str, str]]:
        rules = a.request("GET", "/api/v1/workloads/routing-rules" + query)[2]["routingRules"]
        return sorted((r["destinationSandbox"]["name"], r["baseline"]["name"]) for r in rules)

    assert names("?baselineKind=Deployment&baselineNamespace=hotrod&baselineName=route") == [("x", "route"), ("y", "route")]
    assert names("?baselineKind=ArgoRollout") == [("y", "cart")]
    assert names("?baselineNamespace=shop") == [("y", "cart")]
    assert names(f"?routingKey={x['routingKey']}") == [("x", "route")]
    assert names("?destinationSandboxName=y") == [("y", "cart"), ("y", "route")]
    assert names("?baselineName=route&destinationSandboxName=x") == [("x", "route")]
    assert names("?enableVirtualWorkloads=true&somethingNew=1") == names("")
    assert names("?routingKey=nope") == []


def test_route_group_routes_its_key_to_matched_sandboxes(agent, routes_pb2):
    a = agent()
    a.request("POST", "/api/v1/sandboxes", sandbox_body("older", workload="route", labels={"team": "payments"}))
    a.request("POST", "/api/v1/sandboxes", sandbox_body("newer", workload="route", labels={"team": "pay"}))
    a.request("POST", "/api/v1/sandboxes", sandbox_body("driver", workload="driver", labels={"team": "search"}))
    status, _, group = a.request("POST", "/api/v1/routegroups", {
        "name": "release", "routingKey": "release-key", "match": {"labels": {"team": "pay*"}, "sandboxes": ["driver"]}})
    assert status == 201, group
    assert group["matchedSandboxes"] == ["older", "newer", "driver"]
    assert [(r["workload"]["name"], r["sandbox"], r["shadowed"]) for r in group["routes"]] == [
        ("route", "older", ["newer"]), ("driver", "driver", [])]
    rules = a.request("GET", "/api/v1/workloads/routing-rules?routingKey=release-key")[2]
    message = json_format.ParseDict(rules, routes_pb2.GetWorkloadRoutingRulesResponse())
    assert sorted((r.baseline.name, r.destination_sandbox.name) for r in message.routingRules) == [
        ("driver", "driver"), ("route", "older")]
    # The winner goes away: the newer sandbox takes the group's route.
    assert a.request("DELETE", "/api/v1/sandboxes/older")[0] == 204
    rules = a.request("GET", "/api/v1/workloads/routing-rules?routingKey=release-key&baselineName=route")[2]
    assert [r["destinationSandbox"]["name"] for r in rules["routingRules"]] == ["newer"]
    assert a.request("DELETE", "/api/v1/routegroups/release")[0] == 204
    assert a.request("GET", "/api/v1/workloads/routing-rules?routingKey=release-key")[2] == {"routingRules": []}


def test_deep_pipelining_is_answered_in_order_and_a_reader_that_stops_is_cut_off(agent):
    """20,000 pipelined requests on one connection, read while they are written: every one is
    answered and the connection ends cleanly (the server answers iteratively, one answer in
    flight; a recursive answer loop once overflowed the stack here). Then a client that writes
    megabytes of requests and reads nothing is disconnected instead of buffered."""
    import threading
    a = agent()
    count = 20_000
    with socket.create_connection(("127.0.0.1", a.http_port), timeout=20) as s:
        requests = b"".join(b"GET /healthz?n=%d HTTP/1.1\r\nhost: a\r\n\r\n" % i for i in range(count - 1))
        requests += b"GET /healthz HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n"
        writer = threading.Thread(target=s.sendall, args=(requests,), daemon=True)
        writer.start()
        received = bytearray()
        while chunk := s.recv(1 << 16):
            received += chunk
        writer.join(10)
    assert received.count(b"HTTP/1.1 200 OK\r\n") == count
    assert received.endswith(b'{"status":"ok"}\n')

    a.request("POST", "/api/v1/sandboxes", sandbox_body("big", host="h" * 60 + ".svc"))
    with socket.create_connection(("127.0.0.1", a.http_port), timeout=20) as s:
        flood = b"GET /api/v1/sandboxes HTTP/1.1\r\nhost: a\r\n\r\n" * 200_000
        try:
            s.sendall(flood)
        except OSError:
            pass  # cut off while still writing: what the agent should do
        closed = False
        try:
            while s.recv(1 << 20):
                pass
            closed = True
        except ConnectionResetError:
            closed = True
        assert closed
    assert a.request("GET", "/healthz")[0] == 200  # and it still serves everyone else
