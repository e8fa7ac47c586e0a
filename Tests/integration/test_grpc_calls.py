"""gRPC through devmesh with real grpcio peers: routing per call, every call kind, large messages,
many concurrent streams on one connection, deadlines and cancellation.

A grpcio client talks h2c to devmesh (`--upstream-protocol auto`: HTTP/2 in, HTTP/2 out), which
routes each call to the baseline or the sandbox Echo server by the routing key in its metadata.
Each call carries an x-test-id, and every test checks the servers' ledgers: the call reached
exactly the server that answered, once, and the other server never saw it.
"""

from __future__ import annotations

import threading
from typing import Any

import grpc
import pytest

from grpc_support.fixtures import KEY, baggage, grpc_mesh, grpc_servers, h2_upstreams, metadata  # noqa: F401
from harness import net
from harness.checks import new_id

MiB = 1024 * 1024


def accepted_after(dm: Any, requests_before: float, n: int) -> float:
    """devmesh_downstream_connections_accepted_total once the metrics show `n` more requests
    (workers publish their counters every 100 ms: both counters come from the same copy)."""
    metrics = net.wait_until(lambda: (lambda mt: mt if mt.value("devmesh_requests_total") >= requests_before + n
                                      else None)(dm.metrics()), 5, f"{n} requests in /metrics")
    return metrics.value("devmesh_downstream_connections_accepted_total")


def assert_served_by(server: Any, others: list[Any], test_id: str, reply: Any) -> Any:
    """The reply names `server`, which got the call exactly once; no other server saw it."""
    assert reply.server == server.name, f"expected {server.name}, reply came from {reply.server}"
    calls = server.by_test_id(test_id)
    assert len(calls) == 1, f"{server.name} saw {test_id} {len(calls)} times"
    for other in others:
        assert not other.by_test_id(test_id), f"{test_id} also reached {other.name}"
    return calls[0]


# ---- routing ---------------------------------------------------------------------------------

CARRIERS = [
    ("baggage", [("baggage", f"sd-routing-key={KEY}")], "sandbox"),
    ("baggage-among-members", [("baggage", f"user=alice,sd-routing-key={KEY};p=1")], "sandbox"),
    ("tracestate", [("tracestate", f"rojo=00f067aa0ba902b7,sd-routing-key={KEY}")], "sandbox"),
    ("uberctx", [("uberctx-sd-routing-key", KEY)], "sandbox"),
    ("ot-baggage", [("ot-baggage-sd-routing-key", KEY)], "sandbox"),
    ("brave-baggage", [("baggage-sd-routing-key", KEY)], "sandbox"),
    ("no-key", [], "baseline"),
    ("unknown-key", [("baggage", "sd-routing-key=zzzzzzzzzzzzz")], "baseline"),
    ("b3-is-not-a-carrier", [("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1")], "baseline"),
]


@pytest.mark.parametrize("carrier,headers,target", CARRIERS, ids=[c[0] for c in CARRIERS])
def test_grpc_routes_by_carrier_metadata(grpc_mesh: Any, carrier: str, headers: list, target: str) -> None:
    m = grpc_mesh()
    test_id = new_id("carrier")
    reply = m.stub.Unary(m.pb2.EchoRequest(seq=1), metadata=metadata(*headers, test_id=test_id), timeout=10)
    want, other = (m.sandbox, m.baseline) if target == "sandbox" else (m.baseline, m.sandbox)
    call = assert_served_by(want, [other], test_id, reply)
    # Carrier metadata reaches the upstream unchanged (apps propagate the key to the next hop).
    for name, value in headers:
        assert call.metadata.get(name) == value, (name, call.metadata)
    assert reply.metadata.get("x-test-id") == test_id


def test_grpc_per_call_routing_on_one_connection(grpc_mesh: Any) -> None:
    """Alternating keys on ONE channel: every call is routed on its own, and the channel used a
    single downstream connection."""
    m = grpc_mesh()
    accepted_before, requests_before = (m.dm.metrics().value(n) for n in
                                        ("devmesh_downstream_connections_accepted_total", "devmesh_requests_total"))
    ids = []
    for i in range(40):
        test_id = new_id("alt")
        routed = i % 2 == 0
        md = metadata(baggage(), test_id=test_id) if routed else metadata(test_id=test_id)
        reply = m.stub.Unary(m.pb2.EchoRequest(seq=i), metadata=md, timeout=10)
        want, other = (m.sandbox, m.baseline) if routed else (m.baseline, m.sandbox)
        assert_served_by(want, [other], test_id, reply)
        assert reply.seq == i
        ids.append(test_id)
    accepted = accepted_after(m.dm, requests_before, 40) - accepted_before
    assert accepted == 1, f"one channel should be one HTTP/2 connection, devmesh accepted {accepted}"
    assert len(m.sandbox.snapshot()) == 20 and len(m.baseline.snapshot()) == 20


# ---- call kinds ------------------------------------------------------------------------------

def test_grpc_unary_echo(grpc_mesh: Any) -> None:
    m = grpc_mesh()
    test_id = new_id("unary")
    payload = bytes(range(256)) * 40
    reply = m.stub.Unary(m.pb2.EchoRequest(payload=payload, seq=7, echo_payload=True),
                         metadata=metadata(baggage(), test_id=test_id), timeout=10)
    call = assert_served_by(m.sandbox, [m.baseline], test_id, reply)
    assert reply.payload == payload and reply.seq == 7
    assert call.method == "Unary" and call.seqs == [7] and call.bytes_received == len(payload)


def test_grpc_server_streaming(grpc_mesh: Any) -> None:
    m = grpc_mesh()
    test_id = new_id("sstream")
    replies = list(m.stub.ServerStream(m.pb2.EchoRequest(seq=1, reply_count=50, reply_size=1000),
                                       metadata=metadata(baggage(), test_id=test_id), timeout=10))
    assert [r.seq for r in replies] == list(range(50))
    assert all(r.server == "sandbox" and r.payload == b"s" * 1000 for r in replies)
    assert_served_by(m.sandbox, [m.baseline], test_id, replies[0])


def test_grpc_client_streaming(grpc_mesh: Any) -> None:
    m = grpc_mesh()
    test_id = new_id("cstream")
    requests = (m.pb2.EchoRequest(seq=i, payload=b"c" * i) for i in range(100))
    reply = m.stub.ClientStream(requests, metadata=metadata(test_id=test_id), timeout=10)
    call = assert_served_by(m.baseline, [m.sandbox], test_id, reply)
    assert reply.received_count == 100 and reply.received_bytes == sum(range(100))
    assert call.seqs == list(range(100))


def test_grpc_bidi_streaming_in_lockstep(grpc_mesh: Any) -> None:
    """Each reply is read before the next request is written: messages are not held back
    anywhere on the way (a proxy that buffered until end of stream would hang here)."""
    m = grpc_mesh()
    test_id = new_id("bidi")
    outbox: list[Any] = []
    ready = threading.Semaphore(0)

    def requests():
        for i in range(30):
            ready.acquire()
            yield m.pb2.EchoRequest(seq=i, payload=f"m{i}".encode(), echo_payload=True)

    ready.release()
    call = m.stub.Bidi(requests(), metadata=metadata(baggage(), test_id=test_id), timeout=20)
    for i, reply in enumerate(call):
        outbox.append(reply)
        assert reply.seq == i and reply.payload == f"m{i}".encode() and reply.server == "sandbox"
        ready.release()
    assert len(outbox) == 30
    assert_served_by(m.sandbox, [m.baseline], test_id, outbox[0])
    assert m.sandbox.by_test_id(test_id)[0].seqs == list(range(30))


def test_grpc_4mib_messages_both_ways(grpc_mesh: Any) -> None:
    m = grpc_mesh()
    big = bytes(range(251)) * (4 * MiB // 251 + 1)
    big = big[:4 * MiB]
    # Unary: 4 MiB up and 4 MiB back.
    test_id = new_id("big-unary")
    reply = m.stub.Unary(m.pb2.EchoRequest(payload=big, seq=1, echo_payload=True),
                         metadata=metadata(baggage(), test_id=test_id), timeout=30)
    assert reply.payload == big
    assert_served_by(m.sandbox, [m.baseline], test_id, reply)
    # Server streaming: 3 x 4 MiB down.
    replies = list(m.stub.ServerStream(m.pb2.EchoRequest(reply_count=3, reply_size=4 * MiB),
                                       metadata=metadata(baggage()), timeout=30))
    assert [len(r.payload) for r in replies] == [4 * MiB] * 3
    # Client streaming: 3 x 4 MiB up.
    reply = m.stub.ClientStream(iter([m.pb2.EchoRequest(seq=i, payload=big) for i in range(3)]),
                                metadata=metadata(baggage()), timeout=30)
    assert reply.received_count == 3 and reply.received_bytes == 12 * MiB


def test_grpc_200_concurrent_calls_on_one_channel(grpc_mesh: Any) -> None:
    """200 calls in flight at once on one channel (devmesh advertises 100 concurrent streams, so
    the client queues the rest), alternating destinations: every call answered by the right
    server, exactly once."""
    m = grpc_mesh()
    accepted_before, requests_before = (m.dm.metrics().value(n) for n in
                                        ("devmesh_downstream_connections_accepted_total", "devmesh_requests_total"))
    futures = []
    for i in range(200):
        test_id = new_id("conc")
        routed = i % 2 == 1
        md = metadata(baggage(), test_id=test_id) if routed else metadata(test_id=test_id)
        futures.append((test_id, routed, m.stub.Unary.future(
            m.pb2.EchoRequest(seq=i, sleep_seconds=0.3), metadata=md, timeout=30)))
    for i, (test_id, routed, future) in enumerate(futures):
        reply = future.result()
        assert reply.seq == i
        want, other = (m.sandbox, m.baseline) if routed else (m.baseline, m.sandbox)
        assert_served_by(want, [other], test_id, reply)
    assert len(m.sandbox.snapshot()) == 100 and len(m.baseline.snapshot()) == 100
    assert accepted_after(m.dm, requests_before, 200) - accepted_before == 1


# ---- deadlines and cancellation ---------------------------------------------------------------

def test_grpc_deadline_shorter_than_server_sleep(grpc_mesh: Any) -> None:
    """grpc-timeout shorter than the server's sleep: the client gets DEADLINE_EXCEEDED and the
    upstream call is cancelled (it does not run to its end)."""
    m = grpc_mesh()
    test_id = new_id("deadline")
    with pytest.raises(grpc.RpcError) as err:
        m.stub.Unary(m.pb2.EchoRequest(seq=1, sleep_seconds=20), metadata=metadata(baggage(), test_id=test_id),
                     timeout=0.5)
    assert err.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED, err.value
    call = m.sandbox.wait_call(test_id)
    assert call.cancelled.wait(5), "the sandbox's call was not cancelled after the deadline"
    assert call.replies == 0


@pytest.mark.parametrize("kind", ["server_stream", "bidi"])
def test_grpc_client_cancel_mid_stream_reaches_upstream(grpc_mesh: Any, kind: str) -> None:
    """F22 (gRPC): a client cancel mid-stream resets the upstream stream too."""
    m = grpc_mesh()
    test_id = new_id("cancel")
    md = metadata(baggage(), test_id=test_id)
    if kind == "server_stream":
        call = m.stub.ServerStream(m.pb2.EchoRequest(reply_count=1000, sleep_seconds=0.05), metadata=md,
                                   timeout=30)
    else:
        stop = threading.Event()

        def requests():
            for i in range(1000):
                if stop.is_set():
                    return
                yield m.pb2.EchoRequest(seq=i, sleep_seconds=0.05)
        call = m.stub.Bidi(requests(), metadata=md, timeout=30)
    got = [next(call) for _ in range(3)]
    assert [r.server for r in got] == ["sandbox"] * 3
    call.cancel()
    upstream_call = m.sandbox.wait_call(test_id)
    assert upstream_call.cancelled.wait(5), "the sandbox never saw the cancellation"
    produced = upstream_call.replies
    assert produced < 1000
    with pytest.raises(grpc.RpcError) as err:
        for _ in call:
            pass
    assert err.value.code() == grpc.StatusCode.CANCELLED
    if kind == "bidi":
        stop.set()
    # The stream is gone on the upstream side: no more replies are produced.
    net.wait_until(lambda: upstream_call.terminated.is_set(), 5, "the upstream call to end")
    assert upstream_call.replies <= produced + 1
