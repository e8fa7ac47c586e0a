"""HTTP/2 flow control through devmesh, and h2c next to HTTP/1.1 on one listener.

A client that stops reading one stream (its window stays shut) holds back only that stream: the
other streams of the same connection keep being served, devmesh's memory stays flat while the
upstream has tens of MB to send, and the stream completes intact once the client reads again.
Checked against both upstream kinds (nginx over h2c, the recording upstream over HTTP/1.1).
"""

from __future__ import annotations

import hashlib
import subprocess
from typing import Any

import pytest

from grpc_support.fixtures import KEY, nginx_h2  # noqa: F401
from harness import bodies
from harness.checks import new_id
from harness.h2client import H2Client
from harness.h2frames import SettingsFrame

MiB = 1024 * 1024
SIZE = 32 * MiB
MAX_RSS_GROWTH_KIB = 16 * 1024


@pytest.fixture
def big_upstream(nginx_h2: Any, upstream: Any, devmesh: Any) -> Any:
    """(devmesh, path of a SIZE-byte pattern body) for an upstream kind."""
    def make(kind: str) -> tuple[Any, str]:
        if kind == "h2c-nginx":
            dm = devmesh("--baseline", nginx_h2("baseline", big_size=SIZE).address)
            return dm, "/big.bin"
        dm = devmesh("--baseline", upstream("baseline").address, "--upstream-protocol", "http1")
        return dm, f"/big?size={SIZE}"
    return make


@pytest.mark.parametrize("kind", ["h2c-nginx", "http1"])
def test_stalled_stream_holds_back_only_itself(big_upstream: Any, kind: str) -> None:
    dm, path = big_upstream(kind)
    c = H2Client(dm.port, settings={SettingsFrame.INITIAL_WINDOW_SIZE: 65_535})
    c.response(c.get("/warm-up" if kind == "http1" else "/name"))
    rss_before = dm.peak_rss_kib()
    big = c.get(path)
    c.hold(big)
    stream = c.streams[big]
    c.wait(lambda: len(stream.data) >= 65_535, 10, "the first window of the big response")
    # The big stream is stalled on its window; the connection still serves other streams.
    for i in range(5):
        r = c.response(c.get("/name" if kind == "h2c-nginx" else f"/small-{i}"), timeout=5)
        assert r.status == 200 and bytes(r.data) == b"baseline\n", r
    assert len(stream.data) == 65_535, "devmesh sent more than the stream's window allows"
    growth = dm.peak_rss_kib() - rss_before
    assert growth < MAX_RSS_GROWTH_KIB, f"devmesh peak RSS grew {growth} KiB while a {SIZE >> 20} MiB body waited"
    c.release(big)
    r = c.response(big, timeout=60)
    assert r.ended and r.reset_code is None
    assert len(r.data) == SIZE and hashlib.sha256(bytes(r.data)).hexdigest() == bodies.pattern_sha256(SIZE)
    c.close()


def test_http1_and_h2c_share_one_listener(sandbox_proxy: Any) -> None:
    """The connection preface decides: HTTP/1.1 (with or without `Upgrade: h2c`, which is not
    honoured) and h2c with prior knowledge on the same port, each routed by its own key."""
    p = sandbox_proxy("--upstream-protocol", "http1")
    url = f"http://127.0.0.1:{p.port}/x"
    runs = {
        "http1": ["--http1.1"],
        "http1-upgrade-h2c": ["--http1.1", "-H", "Upgrade: h2c", "-H", "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA",
                              "-H", "Connection: Upgrade, HTTP2-Settings"],
        "h2c": ["--http2-prior-knowledge"],
    }
    for name, args in runs.items():
        for routed in (False, True):
            test_id = new_id(name)
            key = ["-H", f"baggage: sd-routing-key={KEY}"] if routed else []
            out = subprocess.run(["curl", "-sS", "--max-time", "10", "-w", "\n%{http_version}", "-H",
                                  f"x-test-id: {test_id}", *key, *args, url], capture_output=True, timeout=20)
            body, _, version = out.stdout.rpartition(b"\n")
            want = p.sandbox if routed else p.baseline
            assert out.returncode == 0 and body == f"{want.name}\n".encode(), (name, out)
            assert version == (b"2" if name == "h2c" else b"1.1"), (name, version)
            rec = want.by_test_id(test_id)
            assert len(rec) == 1, (name, routed)
            assert rec[0].header("upgrade") is None and rec[0].header("http2-settings") is None
