"""The fault matrix of notes/reliability.md §5 over HTTP/2, under load and through the proxy's
life: F9 (a sandbox endpoint killed under stream load), F14 (SIGTERM with streams mid-flight),
F18 (streams above the per-worker request cap) and F3-F5 as one mixed-fault ledger run. The
single-stream faults are in test_fault_matrix_h2.py; the helpers in harness/streams.py.

Every stream is a ledger entry (harness/ledger.py: I1-I3) and the proxy's resources are checked
back at a quiet baseline afterwards (harness/resources.py: I5).
"""

from __future__ import annotations

import signal
import threading
import time
from typing import Any

import pytest

from conftest import KEY
from grpc_support.fixtures import h2_upstreams  # noqa: F401
from harness import bodies, net, resources
from harness import devmesh as dmconf
from harness.h2client import H2Client
from harness.h2frames import NO_ERROR, REFUSED_STREAM, SettingsFrame, error_name
from harness.ledger import Ledger, percentile
from harness.streams import StreamLoad, h1_path, proxy, send, settle, warm, with_protocol

BAGGAGE = ("baggage", f"sd-routing-key={KEY}")


# ---- F9: the sandbox dies under HTTP/2 load --------------------------------------------------------

@pytest.mark.parametrize("kind", ["http1", "h2c"])
def test_f9_h2_sandbox_endpoint_killed_under_stream_load(upstream: Any, h2_upstreams: Any, devmesh: Any,
                                                         kind: str) -> None:
    """F9 (h2): a sandbox with two endpoints; one is killed while 2 client connections keep 4
    keyed streams each in flight. Only streams in flight at the kill may fail (visibly: reset or
    502, never a cut body reported complete); the dead endpoint's refused connects are retried on
    the other one, so every stream sent after the kill succeeds (N = 0 further failures)."""
    make = (lambda n: upstream(n)) if kind == "http1" else (lambda n: h2_upstreams(n))
    baseline, victim, survivor = make("baseline"), make("sandbox-a"), make("sandbox-b")
    svc = dmconf.service("default", [baseline.address],
                         [{**dmconf.route(KEY, [victim.address, survivor.address], sandbox="sb"), "protocol": kind}])
    dm = devmesh(config=dmconf.render_config([with_protocol(svc, kind)], workers=1))
    ledger = Ledger(deadline=5)
    connections, depth = 2, 4
    load = StreamLoad(dm.port, ledger, connections, depth, 20_000, extra=[BAGGAGE]).start()
    try:
        net.wait_until(lambda: load.settled() >= 100, 15, "load to run")
        victim.stop()
        killed_at = time.monotonic()
        net.wait_until(lambda: load.sent_after(killed_at) >= 300, 20, "load to run on after the kill")
    finally:
        load.finish()
    ledger.check_i1()
    ledger.check_i2()
    ledger.check_i3([baseline, victim, survivor])
    failed = [t for t in ledger.ids() if ledger.final(t).kind != "ok"]
    after = [t for sent_at, _, ids in load.batches if sent_at > killed_at for t in ids]
    failed_after = [t for t in after if t in failed]
    print(f"\nF9 ({kind}): {len(failed)} failures of {len(ledger.ids())} with {connections * depth} in flight; "
          f"{len(after)} sent after the kill, {len(failed_after)} failed")
    assert len(failed) <= connections * depth, \
        f"{len(failed)} failures with {connections * depth} in flight: {[ledger.final(t) for t in failed[:5]]}"
    assert not failed_after, f"streams sent after the kill failed: {[ledger.final(t) for t in failed_after[:5]]}"
    assert len(after) >= 100, f"only {len(after)} streams sent after the kill"
    assert not any(baseline.by_test_id(t) for t in ledger.ids()), "keyed streams hit the baseline"


# ---- F14: SIGTERM with streams in flight -----------------------------------------------------------

def test_f14_h2_sigterm_drains_streams_mid_flight(upstream: Any, h2_upstreams: Any, devmesh: Any) -> None:
    """F14 (h2): SIGTERM while two h2c clients have streams in flight: slow heads to an HTTP/1.1
    upstream and an h2c one, and a large body half-delivered (the client holds its window shut).
    Each connection gets GOAWAY(2^31-1, NO_ERROR), then GOAWAY(last stream id, NO_ERROR); every
    stream in flight completes with its whole body; the listener closes; devmesh exits 0 within
    the drain deadline (and as soon as the last stream is done, well before it)."""
    h1, h2 = upstream("baseline"), h2_upstreams("sandbox")
    svc = dmconf.service("default", [h1.address], [{**dmconf.route(KEY, [h2.address]), "protocol": "h2c"}])
    dm = devmesh(config=dmconf.render_config([with_protocol(svc, "http1")], drain_timeout="10s"))
    ledger = Ledger(deadline=10)
    # A 64 KiB stream window, so that holding it really stops the big body part way.
    clients = [H2Client(dm.port, settings={SettingsFrame.INITIAL_WINDOW_SIZE: 65_535}) for _ in range(2)]
    big = 2_000_000
    sent: list[list[tuple[str, int]]] = []
    for c in clients:
        sent.append([
            send(c, ledger, "drain-h1", path=h1_path(50_000, extra="delay=1.5"), size=50_000),
            send(c, ledger, "drain-h2", size=50_000, extra=[BAGGAGE, ("x-size", "50000"), ("x-delay", "1.5")]),
            send(c, ledger, "drain-big", path=h1_path(big), size=big),
        ])
    h1.wait_for_arrivals(4)
    h2.wait(lambda u: len(u.snapshot()) >= 2, 5, "the h2c streams")
    for c, streams in zip(clients, sent):
        big_sid = streams[2][1]
        c.hold(big_sid)  # a slow reader: the big body stops at the stream window
        c.wait(lambda: len(c.streams[big_sid].data) > 0, 5, "the big body to start")
        assert len(c.streams[big_sid].data) < big
    started = time.monotonic()
    dm.send_signal(signal.SIGTERM)
    for c, streams in zip(clients, sent):
        first = c.wait_goaway(3)
        assert first[:2] == (2**31 - 1, NO_ERROR), f"first GOAWAY {first[:2]}: expected (2^31-1, NO_ERROR)"
        c.wait(lambda: len(c.goaways) >= 2, 3, "the second GOAWAY")
        last = max(sid for _, sid in streams)
        assert c.goaways[1][:2] == (last, NO_ERROR), f"second GOAWAY {c.goaways[1][:2]}: expected ({last}, NO_ERROR)"
        assert not c.streams[streams[0][1]].done, "the slow streams were meant to be in flight at the GOAWAY"
        c.release(streams[2][1])
    for c, streams in zip(clients, sent):
        settle(c, ledger, streams, 8)
    ledger.check([h1, h2])
    assert ledger.counts()["ok"] == 6, ledger.summary()
    net.wait_until(lambda: net.connection_refused(dm.port), 3, "the listener to close")
    for c in clients:
        c.close()
    rc = dm.wait_exit(10)
    took = time.monotonic() - started
    assert rc == 0, f"exit status {rc} after the drain"
    assert took < 5.0, f"exited {took:.1f}s after SIGTERM; the last stream ended after ~1.5 s (deadline 10 s)"
    print(f"\nF14 (h2): 6 of 6 streams complete, exit 0 {took:.2f}s after SIGTERM (drain deadline 10 s)")


# ---- F18: overload --------------------------------------------------------------------------------

def test_f18_h2_streams_above_the_request_cap_are_refused_fast(upstream: Any, devmesh: Any) -> None:
    """F18 (h2): limits.max_requests_per_worker = 4 with one worker, and four slow requests
    holding the slots. New streams get RST_STREAM(REFUSED_STREAM) at once (far below the
    upstream's 2 s), counted in devmesh_requests_shed_total and never forwarded; the held ones
    complete; memory stays bounded; once the slots free up, streams are served again, and
    nothing stays counted in flight (I5)."""
    baseline = upstream("baseline")
    cap = 4
    dm = devmesh(config=dmconf.render_config([with_protocol(dmconf.service("default", [baseline.address]), "http1")],
                                             workers=1, limits={"max_requests_per_worker": cap}))
    base = warm(dm)
    ledger = Ledger(deadline=6)
    holder = H2Client(dm.port)
    held = [send(holder, ledger, "held", path=h1_path(20_000, extra="delay=2"), size=20_000) for _ in range(cap)]
    baseline.wait_for_arrivals(cap)
    shed_before = dm.metrics().value("devmesh_requests_shed_total")
    extra = H2Client(dm.port)
    shed = []
    for _ in range(20):
        shed.append(send(extra, ledger, "shed", path=h1_path(100), size=100))
    results = settle(extra, ledger, shed, 3)
    refused = [r for r in results.values() if r.reset_code == REFUSED_STREAM]
    assert len(refused) == len(shed), {t: (r.status, error_name(r.reset_code)) for t, r in results.items()}
    fast = ledger.latencies("refused")
    assert percentile(fast, 99) < 0.5, f"p99 of the refusals {percentile(fast, 99):.3f}s"
    assert not any(baseline.by_test_id(t) for t, _ in shed), "a refused stream reached the upstream"
    net.wait_until(lambda: dm.metrics().value("devmesh_requests_shed_total") >= shed_before + len(shed), 2,
                   "the refusals counted in devmesh_requests_shed_total")
    settle(holder, ledger, held, 5)
    assert all(ledger.final(t).kind == "ok" for t, _ in held), [ledger.final(t) for t, _ in held]
    again = send(extra, ledger, "after", path=h1_path(100), size=100)
    settle(extra, ledger, [again], 3)
    assert ledger.final(again[0]).kind == "ok", ledger.final(again[0])
    ledger.check([baseline])
    assert dm.peak_rss_kib() < 64 * 1024
    holder.close()
    extra.close()
    resources.wait_back_to_baseline(dm, base)
    print(f"\nF18 (h2): p99 of the refusals {percentile(fast, 99) * 1000:.1f} ms; {ledger.summary()}")


# ---- F3-F5 together: a ledger run of mixed faults ---------------------------------------------------

MIXED_H1_FAULTS = ["", "", "reset_before_head", "close_before_head", "reset_mid_body", "fin_mid_body",
                   "reset_mid_chunked", "fin_mid_chunked", ""]


def test_f3_f4_f5_h2_ledger_of_mixed_faults(upstream: Any, devmesh: Any) -> None:
    """F3-F5 (h2 -> h1) as one ledger run: 3 client connections × 60 streams, GETs and POSTs,
    two thirds of them hitting an upstream that breaks before or during its response, many at once
    on each connection. Every stream ends exactly once within its deadline (I1); each healthy one
    is ok with its exact body and no faulted one is ok (I2); no POST ran twice (I3); afterwards
    the proxy is back to its baseline descriptors, connections, buffers and memory (I5)."""
    baseline = upstream("baseline")
    dm = proxy(devmesh, baseline.address, "http1", workers=2)
    base = warm(dm, 12)
    ledger = Ledger(deadline=5)
    faulted: set[str] = set()
    lock = threading.Lock()

    def client(n: int) -> None:
        c = H2Client(dm.port)
        try:
            for batch in range(10):
                sent = []
                for i in range(6):
                    fault = MIXED_H1_FAULTS[(n + batch * 6 + i) % len(MIXED_H1_FAULTS)]
                    method = "POST" if i % 2 else "GET"
                    size = 20_000 + 997 * i
                    test_id, sid = send(c, ledger, f"mix{n}", path=h1_path(size, fault), method=method,
                                        size=size, body=bodies.pattern(3000) if method == "POST" else None)
                    sent.append((test_id, sid))
                    if fault:
                        with lock:
                            faulted.add(test_id)
                settle(c, ledger, sent, 5)
        finally:
            c.close()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    ledger.check([baseline])
    assert len(ledger.ids()) == 180
    wrongly_ok = [t for t in faulted if ledger.final(t).kind == "ok"]
    assert not wrongly_ok, f"faulted requests reported ok: {[ledger.final(t) for t in wrongly_ok[:3]]}"
    healthy_failed = [t for t in ledger.ids() if t not in faulted and ledger.final(t).kind != "ok"]
    assert not healthy_failed, f"healthy streams failed: {[ledger.final(t) for t in healthy_failed[:3]]}"
    resources.wait_back_to_baseline(dm, base)
    print(f"\nF3-F5 (h2) ledger: {ledger.summary()}")
