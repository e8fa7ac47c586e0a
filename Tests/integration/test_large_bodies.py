"""100 MB bodies in both directions must stream through the proxy: the bytes arrive intact
(SHA-256 on both sides) and the proxy's peak resident memory (VmHWM) stays bounded even when
the receiving side pauses, which only holds if backpressure stops the proxy from reading
faster than it can write."""

from __future__ import annotations

import hashlib
import time

from conftest import KEY
from harness import bodies
from harness.client import Client, Response, build_request

SIZE = 100 * 1024 * 1024
RSS_LIMIT_KIB = 64 * 1024
PAUSE = 1.0  # the receiver stops reading this long, so an unbounded proxy buffer would fill up


def assert_bounded_memory(dm) -> None:
    peak = dm.peak_rss_kib()
    assert 0 < peak < RSS_LIMIT_KIB, f"devmesh peak RSS {peak / 1024:.1f} MiB (limit {RSS_LIMIT_KIB // 1024} MiB)"


def test_100mb_upload_to_a_slow_reader(sandbox_proxy):
    p = sandbox_proxy()
    with Client(p.port, timeout=60) as c:
        c.send(build_request("PUT", f"/upload?pause_body={PAUSE}", [("baggage", f"sd-routing-key={KEY}"),
                                                                  ("Content-Length", str(SIZE))]))
        for piece in bodies.pattern_chunks(SIZE, 256 * 1024):
            c.send(piece)
        resp = c.read_response("PUT")
    assert resp.complete and resp.status == 200 and resp.upstream == "sandbox", resp
    assert resp.header("x-req-body-sha256") == bodies.pattern_sha256(SIZE)
    (rec,) = p.sandbox.wait_for(1)
    assert rec.body_len == SIZE and rec.complete
    assert_bounded_memory(p.dm)


def _download(port: int, path: str) -> tuple[Response, str]:
    """GETs `path`, pausing once after the first bytes; returns the response and the body's SHA-256."""
    hasher = hashlib.sha256()
    paused = False

    def sink(data: bytes) -> None:
        nonlocal paused
        hasher.update(data)
        if not paused:
            paused = True
            time.sleep(PAUSE)  # a slow reader on purpose: the proxy must stop reading upstream
    with Client(port, timeout=60) as c:
        c.send(build_request("GET", path))
        resp = c.read_response("GET", sink=sink)
    return resp, hasher.hexdigest()


def test_100mb_download_from_nginx_to_a_slow_reader(nginx_upstream, devmesh):
    ng = nginx_upstream("ngx", big_size=SIZE)
    dm = devmesh("--baseline", ng.address)
    resp, digest = _download(dm.port, "/big.bin")
    assert resp.complete and resp.status == 200 and resp.body_len == SIZE, resp
    assert digest == bodies.pattern_sha256(SIZE)
    assert [e.uri for e in ng.wait_for(1)] == ["/big.bin"]
    assert_bounded_memory(dm)


def test_100mb_chunked_download_to_a_slow_reader(sandbox_proxy):
    p = sandbox_proxy()
    resp, digest = _download(p.port, f"/?size={SIZE}&chunked=1&chunk=60000")
    assert resp.complete and resp.status == 200 and resp.body_len == SIZE, resp
    assert digest == bodies.pattern_sha256(SIZE) == resp.header("x-resp-body-sha256")
    assert_bounded_memory(p.dm)
