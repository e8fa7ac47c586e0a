"""HTTP/2 clients (curl --http2-prior-knowledge, nghttp, h2load, the raw client) through devmesh:
to nginx as an h2c upstream (`--upstream-protocol auto`: HTTP/2 both ways) and to HTTP/1.1
upstreams (`--upstream-protocol http1`: translated). The translation is checked on the wire at
the recording upstream: Host from :authority, chunked framing when the client sent no
content-length, request trailers, response trailers of a chunked HTTP/1.1 response as HTTP/2
trailers, hop-by-hop fields dropped.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from grpc_support.fixtures import KEY, nginx_h2  # noqa: F401
from harness import bodies
from harness.checks import new_id
from harness.h2client import H2Client, request_headers

MiB = 1024 * 1024
HOP_BY_HOP = ("connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "x-hop-private")


def curl_h2(port: int, path: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["curl", "-sS", "--http2-prior-knowledge", "--max-time", "30", "-D", "-",
                           "-w", "\\n%{http_version}", *args, f"http://127.0.0.1:{port}{path}"],
                          capture_output=True, timeout=60)


def split_curl(out: subprocess.CompletedProcess) -> tuple[str, bytes, str]:
    """(head, body, http_version) of a `curl -D - -w '\\n%{http_version}'` run."""
    assert out.returncode == 0, out.stderr.decode()
    head, _, rest = out.stdout.partition(b"\r\n\r\n")
    body, _, version = rest.rpartition(b"\n")
    return head.decode("latin-1"), body, version.decode()


# ---- to nginx as an h2c upstream ----------------------------------------------------------------

@pytest.fixture
def h2_nginx_mesh(nginx_h2: Any, devmesh: Any) -> Any:
    def make(big_size: int = 0) -> Any:
        baseline, sandbox = nginx_h2("baseline", big_size), nginx_h2("sandbox", big_size)
        dm = devmesh("--baseline", baseline.address, "--route", f"{KEY}={sandbox.address}", "--workers", "2")
        return baseline, sandbox, dm
    return make


@pytest.mark.parametrize("routed", [True, False], ids=["with-key", "without-key"])
def test_curl_h2_to_nginx_h2c(h2_nginx_mesh: Any, routed: bool) -> None:
    baseline, sandbox, dm = h2_nginx_mesh()
    test_id = new_id("curl-h2c")
    args = ["-H", f"x-test-id: {test_id}"] + (["-H", f"baggage: sd-routing-key={KEY}"] if routed else [])
    head, body, version = split_curl(curl_h2(dm.port, "/name", *args))
    want, other = (sandbox, baseline) if routed else (baseline, sandbox)
    assert version == "2" and head.startswith("HTTP/2 200"), head
    assert body == f"{want.name}\n".encode()
    assert [r.test_id for r in want.wait_for(1)] == [test_id] and not other.ledger()
    assert want.protocols() == ["HTTP/2.0"], "nginx was not reached over HTTP/2"


def test_curl_h2_large_download_from_nginx_h2c(h2_nginx_mesh: Any, tmp_path: Path) -> None:
    size = 8 * MiB
    _, sandbox, dm = h2_nginx_mesh(big_size=size)
    out = tmp_path / "big.bin"
    result = subprocess.run(["curl", "-sS", "--http2-prior-knowledge", "--max-time", "60", "-o", str(out),
                             "-H", f"baggage: sd-routing-key={KEY}", f"http://127.0.0.1:{dm.port}/big.bin"],
                            capture_output=True, timeout=90)
    assert result.returncode == 0, result.stderr
    assert hashlib.sha256(out.read_bytes()).hexdigest() == bodies.pattern_sha256(size)
    assert sandbox.protocols() == ["HTTP/2.0"]


def test_nghttp_concurrent_streams_to_nginx_h2c(h2_nginx_mesh: Any) -> None:
    """nghttp sends its requests as concurrent streams on one connection."""
    baseline, sandbox, dm = h2_nginx_mesh()
    urls = [f"http://127.0.0.1:{dm.port}/name?n={i}" for i in range(10)]
    result = subprocess.run(["nghttp", "-H", f"baggage: sd-routing-key={KEY}", *urls],
                            capture_output=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"sandbox\n" * 10
    assert sorted(r.uri for r in sandbox.wait_for(10)) == sorted(f"/name?n={i}" for i in range(10))
    assert not baseline.ledger()
    assert set(sandbox.protocols()) == {"HTTP/2.0"}


def h2load(port: int, n: int, *args: str) -> dict[str, int]:
    result = subprocess.run(["h2load", "-n", str(n), *args, f"http://127.0.0.1:{port}/name"],
                            capture_output=True, timeout=120)
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
    text = result.stdout.decode()
    m = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, "
                  r"(\d+) errored, (\d+) timeout", text)
    s = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", text)
    assert m and s, text
    keys = ["total", "started", "done", "succeeded", "failed", "errored", "timeout"]
    return {**dict(zip(keys, map(int, m.groups()))), "2xx": int(s.group(1)), "5xx": int(s.group(4))}


def test_h2load_to_nginx_h2c_multiplexed(h2_nginx_mesh: Any) -> None:
    """2,000 requests, 4 client connections x 16 streams: all succeed, all reach the sandbox over
    HTTP/2, on at most one upstream connection per worker (64 streams < nginx's 128)."""
    baseline, sandbox, dm = h2_nginx_mesh()
    stats = h2load(dm.port, 2000, "-c", "4", "-m", "16", "-H", f"baggage: sd-routing-key={KEY}")
    assert stats["succeeded"] == 2000 and stats["2xx"] == 2000, stats
    ledger = sandbox.wait_for(2000)
    assert len(ledger) == 2000 and not baseline.ledger()
    assert set(sandbox.protocols()) == {"HTTP/2.0"}
    connections = {r.conn for r in ledger}
    assert len(connections) <= 2, f"{len(connections)} upstream connections for 2 workers"


def test_h2load_to_http1_upstream(sandbox_proxy: Any) -> None:
    p = sandbox_proxy("--upstream-protocol", "http1")
    stats = h2load(p.port, 500, "-c", "2", "-m", "8", "-H", f"baggage: sd-routing-key={KEY}")
    assert stats["succeeded"] == 500, stats
    assert len(p.sandbox.wait_for(500)) == 500 and p.baseline.count() == 0


# ---- translation to HTTP/1.1 upstreams (the recording upstream sees the wire) ---------------------

@pytest.mark.parametrize("authority", ["api.example.test", "api.example.test:8443", "127.0.0.1:9"])
def test_host_comes_from_authority(sandbox_proxy: Any, authority: str) -> None:
    p = sandbox_proxy("--upstream-protocol", "http1")
    c = H2Client(p.port)
    test_id = new_id("authority")
    r = c.response(c.request(request_headers(authority=authority, path="/p?q=1",
                                             extra=[("x-test-id", test_id)])))
    c.close()
    assert r.status == 200 and bytes(r.data) == b"baseline\n"
    rec = p.baseline.by_test_id(test_id)[0]
    assert rec.target == "/p?q=1" and rec.version == "HTTP/1.1"
    hosts = [v for n, v in rec.head.headers if n.lower() == b"host"]
    assert hosts == [authority.encode()], rec.head.raw
    assert b":authority" not in rec.head.raw


BODY_CASES = [
    # (id, send content-length, trailers, expect chunked upstream)
    ("content-length", True, None, False),
    ("no-content-length", False, None, True),
    ("trailers", False, [("x-checksum", "abc123")], True),
]


@pytest.mark.parametrize("case,with_length,trailers,chunked", BODY_CASES, ids=[c[0] for c in BODY_CASES])
def test_request_body_framing_to_http1(sandbox_proxy: Any, case: str, with_length: bool, trailers: Any,
                                       chunked: bool) -> None:
    p = sandbox_proxy("--upstream-protocol", "http1")
    body = bodies.pattern(300_000)
    test_id = new_id(case)
    extra = [("x-test-id", test_id)] + ([("content-length", str(len(body)))] if with_length else [])
    c = H2Client(p.port)
    r = c.response(c.request(request_headers("POST", "/upload", extra=extra), body, trailers=trailers), 20)
    c.close()
    assert r.status == 200, r
    rec = p.baseline.by_test_id(test_id)[0]
    assert rec.body_len == len(body) and rec.body_sha256 == hashlib.sha256(body).hexdigest()
    assert rec.chunked == chunked, rec.head.raw
    if trailers:
        assert any(t.lower().startswith(b"x-checksum: abc123") for t in rec.trailers), rec.trailers


def test_curl_upload_without_length_is_chunked_upstream(sandbox_proxy: Any) -> None:
    p = sandbox_proxy("--upstream-protocol", "http1")
    body = bodies.pattern(1 * MiB)
    test_id = new_id("curl-stdin")
    out = subprocess.run(["curl", "-sS", "--http2-prior-knowledge", "--max-time", "30", "-T", "-",
                          "-H", f"x-test-id: {test_id}", f"http://127.0.0.1:{p.port}/up"],
                         input=body, capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr
    rec = p.baseline.by_test_id(test_id)[0]
    assert rec.method == "PUT" and rec.chunked and rec.body_len == len(body)
    assert rec.body_sha256 == hashlib.sha256(body).hexdigest()


def test_response_trailers_of_chunked_http1_become_http2_trailers(sandbox_proxy: Any) -> None:
    p = sandbox_proxy("--upstream-protocol", "http1")
    c = H2Client(p.port)
    r = c.response(c.get("/t?chunked=1&size=100000&chunk=7000&trailers=x-checksum:abc;x-count:3"))
    c.close()
    assert r.status == 200 and hashlib.sha256(bytes(r.data)).hexdigest() == bodies.pattern_sha256(100_000)
    assert r.trailers is not None, "the chunked response's trailers were lost"
    assert r.trailers.as_dict() == {"x-checksum": "abc", "x-count": "3"}
    assert r.header("transfer-encoding") is None


@pytest.mark.parametrize("query", ["hop=1", "hop=1&chunked=1", "hop=1&size=70000"])
def test_hop_by_hop_response_fields_are_dropped(sandbox_proxy: Any, query: str) -> None:
    p = sandbox_proxy("--upstream-protocol", "http1")
    c = H2Client(p.port)
    r = c.response(c.get(f"/h?{query}"))
    c.close()
    assert r.status == 200, r
    names = {n.decode() for n, _ in r.head.fields}
    assert not names & set(HOP_BY_HOP), f"hop-by-hop fields forwarded over HTTP/2: {names & set(HOP_BY_HOP)}"
    assert "x-upstream" in names
    if "chunked" not in query:
        assert r.header("content-length") == str(len(r.data))


def test_large_bodies_both_ways_through_http1(sandbox_proxy: Any) -> None:
    p = sandbox_proxy("--upstream-protocol", "http1")
    c = H2Client(p.port)
    up = bodies.pattern(8 * MiB)
    test_id = new_id("big-up")
    r = c.response(c.request(request_headers("POST", "/u?echo=0", extra=[("x-test-id", test_id)]), up), 60)
    assert r.status == 200 and r.header("x-req-body-sha256") == hashlib.sha256(up).hexdigest()
    r = c.response(c.get(f"/d?size={8 * MiB}"), 60)
    c.close()
    assert r.status == 200 and hashlib.sha256(bytes(r.data)).hexdigest() == bodies.pattern_sha256(8 * MiB)
