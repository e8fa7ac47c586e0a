"""The harness checked on its own, without devmesh: the recording upstream, the raw client,
the nginx upstream and the WebSocket echo do what the proxy tests assume they do. When a proxy
test fails, these passing is what says the fault is the proxy's."""

from __future__ import annotations

import socket
import subprocess

import pytest
from websockets.sync.client import connect as ws_connect

from harness import bodies, net
from harness.client import Client, build_request, get


def test_upstream_records_and_answers_with_its_name(upstream):
    up = upstream("alpha")
    resp = get(up.port, "/hello?x=1", [("x-test-id", "t1"), ("Baggage", "a=b")])
    assert resp.complete and resp.status == 200 and resp.text == "alpha\n"
    assert resp.upstream == "alpha" and resp.header("x-test-id") == "t1"
    (rec,) = up.wait_for(1)
    assert (rec.method, rec.path, rec.test_id, rec.conn_id) == ("GET", "/hello", "t1", 1)
    assert (b"Baggage", b"a=b") in rec.head.headers  # raw name case kept


def test_upstream_keep_alive_reuses_one_connection(upstream):
    up = upstream("alpha")
    with Client(up.port) as c:
        seqs = [c.request(path=f"/{i}").header("x-seq") for i in range(3)]
    assert seqs == ["1", "2", "3"]
    assert {r.conn_id for r in up.wait_for(3)} == {1}


@pytest.mark.parametrize("chunked", [False, True])
def test_upstream_hashes_request_bodies_and_echoes(upstream, chunked):
    up = upstream("alpha")
    body = bodies.pattern(100_000)
    resp = Client(up.port).request("POST", "/?echo=1", body=body, chunked=chunked)
    assert resp.complete and resp.body == body
    assert resp.header("x-req-body-sha256") == bodies.sha256(body)
    assert up.wait_for(1)[0].chunked is chunked


def test_upstream_chunked_and_sized_responses(upstream):
    up = upstream("alpha")
    resp = get(up.port, "/?size=300000&chunked=1&chunk=7000")
    assert resp.framing == "chunked" and resp.complete
    assert resp.body_sha256 == bodies.pattern_sha256(300000) == resp.header("x-resp-body-sha256")


@pytest.mark.parametrize("fault,outcomes", [
    ("reset_mid_body", {"reset", "eof"}),
    ("fin_mid_body", {"eof"}),
    ("reset_mid_chunked", {"reset", "eof"}),
    ("fin_mid_chunked", {"eof"}),
])
def test_upstream_mid_body_faults_are_visible_to_the_client(upstream, fault, outcomes):
    up = upstream("alpha")
    resp = get(up.port, f"/?size=100000&fault={fault}")
    assert resp.status == 200 and not resp.complete and resp.outcome in outcomes, resp
    assert resp.body_len < 100000


@pytest.mark.parametrize("fault", ["reset_before_head", "close_before_head"])
def test_upstream_faults_before_the_head(upstream, fault):
    resp = get(upstream("alpha").port, f"/?fault={fault}")
    assert resp.status == 0 and resp.outcome in ("reset", "eof"), resp


@pytest.mark.parametrize("fault", ["cl_te", "bad_cl", "dup_cl", "bad_chunk", "bad_status"])
def test_upstream_malformed_responses_are_malformed(upstream, fault):
    """The raw client is strict: each malformed response must fail to parse as a clean one."""
    resp = get(upstream("alpha").port, f"/?fault={fault}")
    if fault == "cl_te":  # both headers present: a strict reader must not accept the message as is
        assert resp.head.get("content-length") and resp.head.has_token("transfer-encoding", "chunked")
    else:
        assert not resp.complete, resp


def test_upstream_delay_and_stall(upstream):
    up = upstream("alpha")
    with Client(up.port, timeout=0.5) as c:
        resp = c.request(path="/?delay=2")
    assert resp.outcome == "timeout" and resp.status == 0
    with Client(up.port, timeout=0.5) as c:
        resp = c.request(path="/?size=1000&fault=stall_mid_body&delay_body=3")
    assert resp.status == 200 and resp.outcome == "timeout" and resp.body_len == 500


@pytest.mark.parametrize("status,method", [(204, "GET"), (304, "GET"), (200, "HEAD")])
def test_upstream_bodiless_responses_keep_the_connection_usable(upstream, status, method):
    up = upstream("alpha")
    with Client(up.port) as c:
        first = c.request(method, f"/?status={status}")
        second = c.request("GET", "/")
    assert first.status == status and first.complete and first.body == b""
    assert second.complete and second.text == "alpha\n" and second.header("x-seq") == "2"


def test_upstream_expect_100_continue(upstream):
    up = upstream("alpha")
    body = b"x" * 5000
    with Client(up.port) as c:
        c.send(build_request("POST", "/", [("Expect", "100-continue"), ("Content-Length", "5000")]))
        c.send(body)
        resp = c.read_response()
    assert resp.interim == [100] and resp.complete
    assert resp.header("x-req-body-sha256") == bodies.sha256(body)


def test_upstream_connection_close_and_http10(upstream):
    up = upstream("alpha")
    with Client(up.port) as c:
        resp = c.request(headers=[("Connection", "close")])
        assert resp.complete and resp.header("connection") == "close"
        assert c.closed_by_peer(2)
    with Client(up.port) as c:
        resp = c.request(version="HTTP/1.0")
        assert resp.complete and c.closed_by_peer(2)


def test_upstream_websocket_echo(upstream):
    up = upstream("alpha")
    with ws_connect(f"ws://127.0.0.1:{up.port}/ws", open_timeout=5) as ws:
        for msg in ["hello", "x" * 70000, b"\x00\x01binary"]:
            ws.send(msg)
            assert ws.recv(timeout=5) == msg
    assert up.ws_messages == 3


def test_curl_against_upstream(upstream):
    up = upstream("alpha")
    out = subprocess.run(["curl", "-sS", "-H", "baggage: sd-routing-key=k", f"http://{up.address}/c"],
                         capture_output=True, timeout=10)
    assert out.returncode == 0 and out.stdout == b"alpha\n"
    assert up.wait_for(1)[0].header("baggage") == b"sd-routing-key=k"


def test_curl_reports_truncation_from_upstream(upstream):
    """The exit codes the truncation tests rely on: 18 (partial file) for a cut CL body."""
    up = upstream("alpha")
    out = subprocess.run(["curl", "-sS", "-o", "/dev/null", f"http://{up.address}/?size=100000&fault=fin_mid_body"],
                         capture_output=True, timeout=10)
    assert out.returncode == 18


def test_nginx_upstream_serves_and_logs(nginx_upstream):
    ng = nginx_upstream("ngx", big_size=3_000_000)
    with Client(ng.port) as c:
        a = c.request(path="/name", headers=[("x-test-id", "n1")])
        b = c.request(path="/big.bin")
    assert a.text == "ngx\n" and a.upstream == "ngx"
    assert b.body_sha256 == bodies.pattern_sha256(3_000_000)
    log = ng.wait_for(2)
    assert [(e.uri, e.conn_requests) for e in log] == [("/name", 1), ("/big.bin", 2)]
    assert log[0].conn == log[1].conn and log[0].test_id == "n1"


def test_closed_port_refuses():
    assert net.connection_refused(net.closed_port())


def test_client_sees_close_and_open():
    srv = socket.create_server((net.LOOPBACK, 0))
    port = srv.getsockname()[1]
    c = Client(port)
    peer, _ = srv.accept()
    assert not c.closed_by_peer(0.2)
    peer.close()
    assert c.closed_by_peer(2)
    srv.close()
