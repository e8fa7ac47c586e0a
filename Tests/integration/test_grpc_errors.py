"""gRPC statuses through devmesh: the upstream's errors, custom trailers and trailers-only responses
pass through unchanged; the errors devmesh generates itself (unreachable sandbox, deadline, no
service) are gRPC statuses with a grpc-message; cancellation travels both ways.

Where the framing matters (trailers-only or not, which RST_STREAM code) the call is made with
the raw HTTP/2 client, and the same call made directly to the Echo server is the reference.
"""

from __future__ import annotations

import time
from typing import Any

import grpc
import pytest

from grpc_support import raw
from grpc_support.fixtures import (KEY, baggage, grpc_channels, grpc_mesh, grpc_servers, h2_upstreams,  # noqa: F401
                                   metadata, pb2)
from harness import net
from harness.checks import new_id
from harness.devmesh import render_config, route, service
from harness.h2client import H2Client
from harness.h2frames import CANCEL, error_name

ERRORS = [
    # (id, fail code, message, trailing metadata, trailers-only)
    ("not-found", 5, "no such thing", {}, False),
    ("permission-custom-trailers", 7, "go away", {"x-reason": "policy", "x-quota-left": "0"}, False),
    ("percent-encoded-message", 3, "bad 100% ünïcödé\nline", {}, False),
    ("trailers-only-unavailable", 14, "backend down", {"x-retry-after": "5"}, True),
    ("trailers-only-internal", 13, "boom", {}, True),
    ("ok-with-custom-trailers", 0, "", {"x-served-by": "echo", "x-cost": "17"}, False),
]


@pytest.mark.parametrize("case,code,message,trailing,trailers_only", ERRORS, ids=[e[0] for e in ERRORS])
def test_grpc_upstream_status_and_trailers_pass_through(grpc_mesh: Any, case: str, code: int, message: str,
                                                        trailing: dict, trailers_only: bool) -> None:
    m = grpc_mesh()
    test_id = new_id(case)
    request = m.pb2.EchoRequest(seq=1, fail_code=code, fail_message=message, trailing=trailing,
                                trailers_only=trailers_only)
    call = m.stub.Unary.with_call if code == 0 else m.stub.Unary
    md = metadata(baggage(), test_id=test_id)
    if code == 0:
        reply, rpc = call(request, metadata=md, timeout=10)
        assert reply.server == "sandbox"
        got_code, got_details, got_trailing = rpc.code(), rpc.details(), rpc.trailing_metadata()
    else:
        with pytest.raises(grpc.RpcError) as err:
            call(request, metadata=md, timeout=10)
        got_code, got_details, got_trailing = err.value.code(), err.value.details(), err.value.trailing_metadata()
    assert got_code.value[0] == code, (got_code, got_details)
    if code:
        assert got_details == message
    trailers = {k: v for k, v in got_trailing}
    for key, value in trailing.items():
        assert trailers.get(key) == value, (key, got_trailing)
    assert len(m.sandbox.by_test_id(test_id)) == 1 and not m.baseline.by_test_id(test_id)


def _raw_call(port: int, pb2: Any, request: Any, extra=()) -> Any:
    c = H2Client(port)
    try:
        sid = c.request(raw.request_headers("Unary", extra=extra), raw.frame(request))
        return c.response(sid, timeout=10)
    finally:
        c.close()


FRAMINGS = [
    ("trailers-only", dict(fail_code=14, fail_message="down", trailers_only=True, trailing={"x-why": "test"})),
    ("headers-then-error-trailers", dict(fail_code=9, fail_message="precondition", trailing={"x-why": "test"})),
    ("ok-with-trailers", dict(trailing={"x-why": "test"})),
]


@pytest.mark.parametrize("case,behaviour", FRAMINGS, ids=[f[0] for f in FRAMINGS])
def test_grpc_response_framing_unchanged(grpc_mesh: Any, case: str, behaviour: dict) -> None:
    """The same call directly to the Echo server and through devmesh: the same blocks (one
    HEADERS with END_STREAM for trailers-only; head, messages and trailers otherwise), the same
    grpc-status, grpc-message and custom trailers."""
    m = grpc_mesh()
    request = m.pb2.EchoRequest(seq=3, **behaviour)
    direct = _raw_call(m.baseline.port, m.pb2, request)
    proxied = _raw_call(m.port, m.pb2, request)

    def shape(result: Any) -> dict:
        grpc_fields = result.trailers if result.trailers is not None else result.head
        return {
            "status": result.status,
            "trailers_only": result.trailers is None and result.head is not None and result.head.end_stream,
            "messages": [(r.seq, r.server) for r in raw.messages(bytes(result.data), m.pb2.EchoReply)],
            "grpc-status": grpc_fields.get("grpc-status"),
            "grpc-message": grpc_fields.get("grpc-message"),
            "x-why": grpc_fields.get("x-why"),
            "reset": result.reset_code,
        }
    want = shape(direct)
    assert want["trailers_only"] == (case == "trailers-only")  # the reference really is what the case says
    assert want["x-why"] == "test"
    assert shape(proxied) == want


# ---- errors devmesh generates ----------------------------------------------------------------

def test_grpc_unreachable_sandbox_is_unavailable_naming_it(grpc_mesh: Any) -> None:
    """F1 (gRPC): a refused sandbox is UNAVAILABLE naming it, a trailers-only answer from devmesh."""
    m = grpc_mesh(sandbox_address=f"127.0.0.1:{net.closed_port()}")
    test_id = new_id("refused")
    with pytest.raises(grpc.RpcError) as err:
        m.stub.Unary(m.pb2.EchoRequest(seq=1), metadata=metadata(baggage(), test_id=test_id), timeout=10)
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE, err.value
    assert KEY in err.value.details(), f"grpc-message does not name the sandbox: {err.value.details()!r}"
    assert not m.baseline.by_test_id(test_id) and not m.sandbox.by_test_id(test_id)
    # The framing: a trailers-only response (HTTP 200, grpc-status 14), as gRPC requires.
    result = _raw_call(m.port, m.pb2, m.pb2.EchoRequest(seq=2), extra=[baggage()])
    assert result.status == 200 and result.trailers is None and result.head.end_stream
    assert result.header("grpc-status") == "14" and (result.header("content-type") or "").startswith("application/grpc")
    # Calls without the key still reach the baseline.
    reply = m.stub.Unary(m.pb2.EchoRequest(seq=3), timeout=10)
    assert reply.server == "baseline"


def test_grpc_unreachable_sandbox_with_fallback_is_served_by_baseline(grpc_servers: Any, devmesh: Any,
                                                                     grpc_channels: Any, pb2: Any) -> None:
    baseline = grpc_servers("baseline")
    config = render_config([service("echo", [baseline.address],
                                     [route(KEY, [f"127.0.0.1:{net.closed_port()}"], sandbox="dead-sandbox",
                                            fallback="baseline")])])
    dm = devmesh(config=config)
    stub = grpc_channels.stub(dm.port)
    test_id = new_id("fallback")
    reply = stub.Unary(pb2.EchoRequest(seq=1), metadata=metadata(baggage(), test_id=test_id), timeout=10)
    assert reply.server == "baseline" and len(baseline.by_test_id(test_id)) == 1
    net.wait_until(lambda: dm.metrics().value("devmesh_fallbacks_total") >= 1, 5, "devmesh_fallbacks_total to move")


def test_grpc_unknown_host_in_gateway_mode_is_unimplemented(grpc_servers: Any, devmesh: Any, pb2: Any) -> None:
    baseline = grpc_servers("baseline")
    dm = devmesh(config=render_config([service("echo", [baseline.address], hosts=["echo.internal"])]))
    result = _raw_call(dm.port, pb2, pb2.EchoRequest(seq=1))  # :authority devmesh.test matches no service
    assert result.status == 200 and result.head.end_stream, result
    assert result.header("grpc-status") == "12" and "devmesh.test" in (result.header("grpc-message") or "")
    assert not baseline.snapshot()


def test_grpc_timeout_is_the_upstream_deadline(h2_upstreams: Any, devmesh: Any, pb2: Any) -> None:
    """An upstream that ignores grpc-timeout and never answers: devmesh itself ends the call at the
    deadline with DEADLINE_EXCEEDED (trailers-only, with a grpc-message) and cancels the upstream
    stream (RST_STREAM CANCEL)."""
    upstream = h2_upstreams("silent")
    dm = devmesh("--baseline", upstream.address)
    c = H2Client(dm.port)
    started = time.monotonic()
    sid = c.request(raw.request_headers("Unary", extra=[("grpc-timeout", "300m"), ("x-hang", "1"),
                                                        ("x-test-id", "deadline-1")]),
                    raw.frame(pb2.EchoRequest(seq=1)))
    result = c.response(sid, timeout=10)
    elapsed = time.monotonic() - started
    c.close()
    assert 0.25 <= elapsed < 3, f"answered after {elapsed:.2f}s for a 300 ms deadline"
    assert result.status == 200 and result.head.end_stream, result
    assert result.header("grpc-status") == "4", result.head
    assert result.header("grpc-message"), "DEADLINE_EXCEEDED without a grpc-message"
    request = upstream.wait(lambda u: u.by_test_id("deadline-1"), what="the call")[0]
    upstream.wait(lambda u: any(s == request.stream_id and code == CANCEL for _, s, code in u.resets),
                  what="RST_STREAM(CANCEL) of the timed-out stream")


@pytest.mark.parametrize("when", ["before-head", "after-head"])
def test_grpc_upstream_cancel_reaches_the_client(h2_upstreams: Any, devmesh: Any, pb2: Any, when: str) -> None:
    """The upstream resets the stream with CANCEL: the client learns the call was cancelled
    (RST_STREAM CANCEL, or grpc-status 1 CANCELLED), not that the upstream was unavailable."""
    upstream = h2_upstreams("canceller")
    dm = devmesh("--baseline", upstream.address)
    header = "x-reset-first" if when == "before-head" else "x-reset"
    result = _raw_call(dm.port, pb2, pb2.EchoRequest(seq=1), extra=[(header, str(CANCEL))])
    grpc_fields = result.trailers or result.head
    status = grpc_fields.get("grpc-status") if grpc_fields is not None else None
    assert result.reset_code == CANCEL or status == "1", (
        f"upstream RST_STREAM(CANCEL) became reset={error_name(result.reset_code)} grpc-status={status} "
        f"grpc-message={grpc_fields.get('grpc-message') if grpc_fields else None}")
