"""Long-lived gRPC calls through devmesh: backpressure in both directions (a slow reader or a slow
server never makes the proxy buffer without bound), a long bidi stream that keeps its upstream
while the route table changes, and a graceful drain on SIGTERM.

Backpressure is shown by the peers, not by timing: the producer counts what it produced, the
consumer what it consumed; once the producer has stopped (no progress for a settle interval,
waited for with a deadline), the difference is what sits in windows and buffers along the way,
and it must be a small, fixed amount while the producer would have sent hundreds of MB.
"""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path
from typing import Any, Callable

import grpc

from grpc_support import raw
from grpc_support.fixtures import (KEY, baggage, grpc_channels, grpc_mesh, grpc_servers, h2_upstreams,  # noqa: F401
                                   metadata, pb2)
from harness import net
from harness.checks import new_id
from harness.devmesh import render_config, route, service
from harness.h2client import H2Client

MiB = 1024 * 1024
# What may sit between a stalled producer and a consumer that stopped reading: the client's and
# the server's HTTP/2 windows (grpcio grows its window with BDP probing), the proxy's stream
# windows and send buffers (< 1 MiB), kernel socket buffers on both legs and a message in each
# peer's hands. Measured: 7 MiB either way; 512 MiB are on offer.
MAX_IN_FLIGHT_MIB = 24
# Growth of devmesh's peak RSS allowed while that much is on offer (measured: about 0.1 MiB).
MAX_RSS_GROWTH_KIB = 16 * 1024


def settled(read: Callable[[], int], what: str, interval: float = 0.5, timeout: float = 20.0) -> int:
    """Waits until `read()` stops changing for `interval` seconds; returns its value."""
    deadline = time.monotonic() + timeout
    last, since = read(), time.monotonic()
    while True:
        time.sleep(0.05)
        now_value = read()
        if now_value != last:
            last, since = now_value, time.monotonic()
        elif time.monotonic() - since >= interval:
            return last
        if time.monotonic() > deadline:
            raise net.DeadlineExceeded(f"{what} still moving after {timeout}s (at {last})")


class LockstepBidi:
    """A bidi call driven one message at a time: `send_and_receive()` writes the next sequence
    number and returns the reply to it."""

    def __init__(self, stub: Any, pb2: Any, test_id: str):
        self._turn = threading.Semaphore(0)
        self._stop = False
        self.seq = 0

        def requests():
            seq = 0
            while True:
                self._turn.acquire()
                if self._stop:
                    return
                yield pb2.EchoRequest(seq=seq)
                seq += 1
        self.call = stub.Bidi(requests(), metadata=metadata(baggage(), test_id=test_id), timeout=60)

    def send_and_receive(self) -> Any:
        self._turn.release()
        reply = next(self.call)
        assert reply.seq == self.seq, f"expected reply {self.seq}, got {reply.seq}"
        self.seq += 1
        return reply

    def finish(self) -> grpc.StatusCode:
        self._stop = True
        self._turn.release()
        assert list(self.call) == []
        return self.call.code()


def test_grpc_slow_reader_server_stream_is_bounded(grpc_mesh: Any) -> None:
    m = grpc_mesh()
    m.stub.Unary(m.pb2.EchoRequest(seq=0), timeout=10)  # warm up: connections and buffers exist
    rss_before = m.dm.peak_rss_kib()
    test_id = new_id("slow-reader")
    call = m.stub.ServerStream(m.pb2.EchoRequest(reply_count=512, reply_size=MiB),
                               metadata=metadata(baggage(), test_id=test_id), timeout=60)
    first = next(call)
    assert first.server == "sandbox" and len(first.payload) == MiB
    record = m.sandbox.wait_call(test_id)
    produced = settled(lambda: record.replies, "the sandbox's replies")
    assert produced <= 1 + MAX_IN_FLIGHT_MIB, f"server produced {produced} MiB for a client that read 1 MiB"
    growth = m.dm.peak_rss_kib() - rss_before
    assert growth < MAX_RSS_GROWTH_KIB, f"devmesh peak RSS grew {growth} KiB"
    # Reading again lets the server go on: the stall was backpressure, not a broken stream.
    for _ in range(produced + 8):
        assert len(next(call).payload) == MiB
    net.wait_until(lambda: record.replies > produced, 10, "the server to produce again")
    call.cancel()
    assert record.cancelled.wait(5), "the sandbox never saw the cancellation"
    assert m.dm.peak_rss_kib() - rss_before < MAX_RSS_GROWTH_KIB


def test_grpc_slow_server_client_stream_is_bounded(grpc_mesh: Any) -> None:
    m = grpc_mesh()
    m.stub.Unary(m.pb2.EchoRequest(seq=0), timeout=10)
    rss_before = m.dm.peak_rss_kib()
    test_id = new_id("slow-server")
    sent = [0]
    payload = b"u" * MiB

    def uploads():
        for i in range(512):
            sent[0] += 1
            # The first message asks the server to stall 30 s after each message it reads.
            yield m.pb2.EchoRequest(seq=i, payload=payload, sleep_seconds=30 if i == 0 else 0)
    future = m.stub.ClientStream.future(uploads(), metadata=metadata(baggage(), test_id=test_id), timeout=60)
    record = m.sandbox.wait_call(test_id)
    offered = settled(lambda: sent[0], "the client's uploads")
    assert record.seqs == [0], record.seqs
    assert offered <= 1 + MAX_IN_FLIGHT_MIB, f"client got {offered} MiB out to a server that read 1 MiB"
    growth = m.dm.peak_rss_kib() - rss_before
    assert growth < MAX_RSS_GROWTH_KIB, f"devmesh peak RSS grew {growth} KiB"
    future.cancel()
    assert record.cancelled.wait(5), "the sandbox never saw the cancellation"


def test_grpc_long_bidi_stream_keeps_its_upstream_across_reload(grpc_servers: Any, devmesh: Any,
                                                                grpc_channels: Any, pb2: Any, tmp_path: Path) -> None:
    """F19: a bidi stream routed to sandbox A keeps flowing to A, with no sequence gap, after SIGHUP
    re-routes the key to sandbox B; a new call follows the new table."""
    baseline, sandbox_a, sandbox_b = grpc_servers("baseline"), grpc_servers("sandbox-a"), grpc_servers("sandbox-b")

    def config(target: Any) -> str:
        return render_config([service("echo", [baseline.address],
                                      [route(KEY, [target.address], sandbox=target.name)])])
    dm = devmesh(config=config(sandbox_a))
    stub = grpc_channels.stub(dm.port)
    test_id = new_id("long-bidi")
    stream = LockstepBidi(stub, pb2, test_id)
    for _ in range(20):
        assert stream.send_and_receive().server == "sandbox-a"

    reloads = dm.metrics().value("devmesh_config_reloads_total")
    (tmp_path / "devmesh.yaml").write_text(config(sandbox_b))
    dm.send_signal(signal.SIGHUP)
    net.wait_until(lambda: dm.metrics().value("devmesh_config_reloads_total") > reloads, 10, "the reload")

    # New calls follow the new table...
    fresh = new_id("after-reload")
    assert stub.Unary(pb2.EchoRequest(seq=1), metadata=metadata(baggage(), test_id=fresh), timeout=10).server \
        == "sandbox-b"
    # ...while the running stream keeps its upstream.
    for _ in range(20):
        assert stream.send_and_receive().server == "sandbox-a"
    assert stream.finish() == grpc.StatusCode.OK
    assert sandbox_a.by_test_id(test_id)[0].seqs == list(range(40)), "sequence gap or reorder on the long stream"
    assert not sandbox_b.by_test_id(test_id) and len(sandbox_b.by_test_id(fresh)) == 1


def test_grpc_drain_on_sigterm(grpc_servers: Any, devmesh: Any, grpc_channels: Any, pb2: Any) -> None:
    """F14 (gRPC): SIGTERM with calls in flight: the client connection gets GOAWAY(2^31-1), then GOAWAY with
    the last stream it opened; every call in flight finishes OK; a new connection is refused;
    devmesh exits 0."""
    baseline = grpc_servers("baseline")
    dm = devmesh("--baseline", baseline.address, "--drain-timeout", "10")
    stub = grpc_channels.stub(dm.port)
    ids = [new_id("drain") for _ in range(5)]
    futures = [stub.Unary.future(pb2.EchoRequest(seq=i, sleep_seconds=1.0), metadata=metadata(test_id=t), timeout=20)
               for i, t in enumerate(ids)]
    stream_id = new_id("drain-stream")
    stream = stub.ServerStream(pb2.EchoRequest(reply_count=10, sleep_seconds=0.1),
                               metadata=metadata(test_id=stream_id), timeout=20)
    watcher = H2Client(dm.port)
    sid = watcher.request(raw.request_headers("Unary", extra=[("x-test-id", "drain-raw")]),
                          raw.frame(pb2.EchoRequest(seq=99, sleep_seconds=1.0)))
    for test_id in [*ids, stream_id, "drain-raw"]:
        baseline.wait_call(test_id)

    dm.send_signal(signal.SIGTERM)
    first = watcher.wait_goaway()
    assert first[:2] == (2**31 - 1, 0), f"first GOAWAY {first}: expected last-stream-id 2^31-1, NO_ERROR"
    watcher.wait(lambda: len(watcher.goaways) >= 2, 5, "the second GOAWAY")
    assert watcher.goaways[1][:2] == (sid, 0), f"second GOAWAY {watcher.goaways[1]}: expected last stream {sid}"
    result = watcher.response(sid, timeout=10)
    assert result.trailer("grpc-status") == "0" and raw.messages(bytes(result.data), pb2.EchoReply)[0].seq == 99
    for i, future in enumerate(futures):
        assert future.result().seq == i
    assert [r.seq for r in stream] == list(range(10))
    net.wait_until(lambda: net.connection_refused(dm.port), 5, "the listener to close")
    assert dm.wait_exit(15) == 0, dm.stderr_text
    watcher.close()


def test_grpc_streams_keep_their_upstreams_through_reload_churn(grpc_servers: Any, devmesh: Any,
                                                                grpc_channels: Any, pb2: Any,
                                                                tmp_path: Path) -> None:
    """F19: ten reloads flip the key between two sandboxes while streams opened under different tables
    keep running: each stream stays on the sandbox it started on, with no gap, and every new call
    follows the table in force."""
    baseline, a, b = grpc_servers("baseline"), grpc_servers("sandbox-a"), grpc_servers("sandbox-b")

    def config(target: Any) -> str:
        return render_config([service("echo", [baseline.address], [route(KEY, [target.address], sandbox=target.name)])])
    dm = devmesh(config=config(a))
    stub = grpc_channels.stub(dm.port)
    streams: list[tuple[LockstepBidi, Any, str]] = []
    current = a
    for flip in range(10):
        test_id = new_id(f"churn-{flip}")
        stream = LockstepBidi(stub, pb2, test_id)
        assert stream.send_and_receive().server == current.name
        streams.append((stream, current, test_id))
        for running, owner, _ in streams:
            assert running.send_and_receive().server == owner.name
        current = b if current is a else a
        reloads = dm.metrics().value("devmesh_config_reloads_total")
        (tmp_path / "devmesh.yaml").write_text(config(current))
        dm.send_signal(signal.SIGHUP)
        net.wait_until(lambda: dm.metrics().value("devmesh_config_reloads_total") > reloads, 10, "the reload")
        fresh = stub.Unary(pb2.EchoRequest(seq=flip), metadata=metadata(baggage()), timeout=10)
        assert fresh.server == current.name, f"after reload {flip + 1} a new call went to {fresh.server}"
    for running, owner, test_id in streams:
        assert running.send_and_receive().server == owner.name
        assert running.finish() == grpc.StatusCode.OK
        assert owner.by_test_id(test_id)[0].seqs == list(range(running.seq))


def test_quiet_grpc_streams_outlive_the_stream_idle_timeout(grpc_servers: Any, devmesh: Any,
                                                           grpc_channels: Any, pb2: Any) -> None:
    """A server stream whose replies are 2.5 s apart, and a bidi call that waits 2.5 s between
    messages, both through devmesh with stream_idle 1 s: a quiet gRPC stream is normal, so both
    complete OK (the call's deadline, grpc-timeout, is what bounds it). The same gap on a plain
    HTTP/2 request is cut (test_fault_matrix_h2.py, F7)."""
    baseline, sandbox = grpc_servers("baseline"), grpc_servers("sandbox")
    dm = devmesh(config=render_config([service("echo", [baseline.address],
                                               [route(KEY, [sandbox.address], sandbox=sandbox.name)])],
                                      timeouts={"stream_idle": "1s"}))
    stub = grpc_channels.stub(dm.port)
    started = time.monotonic()
    replies = list(stub.ServerStream(pb2.EchoRequest(reply_count=2, sleep_seconds=2.5),
                                     metadata=metadata(baggage(), test_id=new_id("quiet")), timeout=20))
    assert [r.server for r in replies] == ["sandbox", "sandbox"]
    assert time.monotonic() - started >= 5.0, "the replies were not 2.5 s apart"
    stream = LockstepBidi(stub, pb2, new_id("quiet-bidi"))
    assert stream.send_and_receive().server == "sandbox"
    time.sleep(2.5)  # the point of the test: a gap longer than stream_idle on a live call
    assert stream.send_and_receive().server == "sandbox"
    assert stream.finish() == grpc.StatusCode.OK

