"""gRPC helpers the harness runs as separate processes (grpcio, asyncio API):

    python -m devmesh_bench.grpc_tool serve  --port P
    python -m devmesh_bench.grpc_tool check  --port P --method /bench.Bench/Unary100 --size 100
    python -m devmesh_bench.grpc_tool stream --port P --connections 2 --streams 16 --rate 50 ...

- `serve` is the S7 backend: `/bench.Echo/Stream` echoes every message of a bidirectional
  stream, `/bench.Echo/Unary` echoes one message.
- `check` makes one unary call and insists on status OK and the expected response bytes. The
  harness runs it through every proxy before S6 and S7 measure, so a proxy that answers HTTP 200
  with a gRPC error (grpc-status in the trailers) never gets measured as a success.
- `stream` is S7's load: N bidirectional streams, each sending M messages per second on a fixed
  schedule (open loop). Every message carries its *intended* send time, so the echo's latency
  includes any lag of the client or the path. It samples the proxy's CPU from /proc at the
  exact start and end of the measured window and prints one JSON line.

They run in their own processes because grpcio starts threads that do not mix with the
runner's fork-and-exec of every other tool. grpcio is the only non-standard import, and only
here; `grpcwire` (pure) makes the bytes. Messages are passed as raw bytes (no serializer): the
proxies see real gRPC framing, and the client needs no generated code.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import time

from . import grpcwire, procfs, stats

ECHO_SERVICE = "bench.Echo"
STREAM_METHOD = f"/{ECHO_SERVICE}/Stream"
UNARY_METHOD = f"/{ECHO_SERVICE}/Unary"
#: Same concurrent-stream limit as every proxy (docs/benchmarks.md, fairness table).
MAX_CONCURRENT_STREAMS = 100


def _grpc():
    import grpc  # noqa: PLC0415 - only in the tool's own process (see the module doc)
    return grpc


# ------------------------------------------------------------------------------------------ serve

async def serve(port: int) -> None:
    grpc = _grpc()

    async def echo_stream(request_iterator, _context):
        async for message in request_iterator:
            yield message

    async def echo_unary(message, _context):
        return message

    server = grpc.aio.server(options=[("grpc.max_concurrent_streams", MAX_CONCURRENT_STREAMS)])
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(ECHO_SERVICE, {
        "Stream": grpc.stream_stream_rpc_method_handler(echo_stream),
        "Unary": grpc.unary_unary_rpc_method_handler(echo_unary),
    }),))
    bound = server.add_insecure_port(f"127.0.0.1:{port}")
    if bound != port:
        raise SystemExit(f"grpc-echo: could not bind 127.0.0.1:{port}")
    await server.start()
    print(f"grpc-echo: listening on 127.0.0.1:{port}", flush=True)
    await server.wait_for_termination()


# ------------------------------------------------------------------------------------------ check

async def check(port: int, method: str, size: int, timeout_s: float) -> dict:
    """Unary calls until one succeeds with the expected bytes or `timeout_s` passes."""
    grpc = _grpc()
    request = grpcwire.payload(size)
    deadline = time.monotonic() + timeout_s
    last = "no call made"
    while time.monotonic() < deadline:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            call = channel.unary_unary(method)(request, timeout=2.0)
            try:
                response = await call
                code = await call.code()
                if code == grpc.StatusCode.OK and response == request:
                    return {"ok": True, "status": code.name, "response_bytes": len(response)}
                last = f"status {code.name}, {len(response)} response bytes (expected {len(request)} identical)"
            except grpc.aio.AioRpcError as e:
                last = f"status {e.code().name}: {e.details()}"
        await asyncio.sleep(0.1)
    return {"ok": False, "error": last}


# ----------------------------------------------------------------------------------------- stream

class StreamTally:
    """What the streams of one run saw, split by the measured window [window_start, window_end)."""

    def __init__(self, window_start: float, window_end: float):
        self.window_start, self.window_end = window_start, window_end
        self.sent = 0
        self.received = 0
        self.received_in_window = 0
        self.latencies_us: list[float] = []     # echoes received inside the window
        self.lag_us: list[float] = []           # how late the client wrote, inside the window
        self.stream_errors: list[str] = []

    def on_echo(self, now: float, sent_ns: int, now_ns: int) -> None:
        self.received += 1
        if self.window_start <= now < self.window_end:
            self.received_in_window += 1
            self.latencies_us.append((now_ns - sent_ns) / 1000.0)


def schedule(stream_index: int, streams: int, rate: float, start: float, end: float):
    """Intended send times of one stream: `rate` per second, streams spread evenly over one period.

    Each time is computed from its index (not by adding the period up, whose rounding error
    would let one extra message slip in before `end`).
    """
    phase = stream_index / streams
    k = 0
    while (t := start + (k + phase) / rate) < end - 1e-9:
        yield t
        k += 1


async def stream_load(port: int, connections: int, streams: int, rate: float, size: int, warmup_s: float,
                      measure_s: float, cpu_pid: int | None, backend_pid: int | None, drain_s: float) -> dict:
    grpc = _grpc()
    # A local subchannel pool per channel: otherwise grpcio shares one connection among channels
    # to the same address, and `connections` would not mean TCP connections.
    channels = [grpc.aio.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.use_local_subchannel_pool", 1)])
                for _ in range(connections)]
    for channel in channels:
        await asyncio.wait_for(channel.channel_ready(), timeout=10)
    loop = asyncio.get_running_loop()
    # Monotonic seconds (the loop's clock) for scheduling, monotonic ns in the messages.
    start = loop.time() + 0.2
    window_start, window_end = start + warmup_s, start + warmup_s + measure_s
    tally = StreamTally(window_start, window_end)
    offset_ns = time.monotonic_ns() - int(loop.time() * 1e9)
    samples: dict[str, procfs.CpuSample] = {}

    async def sample_cpu(label: str, at: float) -> None:
        await asyncio.sleep(max(0.0, at - loop.time()))
        if cpu_pid:
            samples[f"proxy_{label}"] = procfs.cpu_sample(cpu_pid)
        if backend_pid:
            samples[f"backend_{label}"] = procfs.cpu_sample(backend_pid)

    async def one_stream(index: int) -> None:
        call = channels[index % connections].stream_stream(STREAM_METHOD)()

        async def reader() -> None:
            while True:
                message = await call.read()
                if message is grpc.aio.EOF:
                    return
                now_ns = time.monotonic_ns()
                tally.on_echo(loop.time(), grpcwire.sent_ns_of(message), now_ns)

        reading = asyncio.create_task(reader())
        try:
            for intended in schedule(index, streams, rate, start, window_end):
                delay = intended - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                elif window_start <= intended:
                    tally.lag_us.append(-delay * 1e6)
                await call.write(grpcwire.payload(size, sent_ns=int(intended * 1e9) + offset_ns))
                tally.sent += 1
            await call.done_writing()
            await asyncio.wait_for(reading, timeout=drain_s)
            code = await call.code()
            if code != grpc.StatusCode.OK:
                tally.stream_errors.append(f"stream {index}: {code.name}")
        except (grpc.aio.AioRpcError, asyncio.TimeoutError) as e:
            tally.stream_errors.append(f"stream {index}: {type(e).__name__}: {getattr(e, 'details', lambda: e)()}")
            call.cancel()
            reading.cancel()

    samplers = [asyncio.create_task(sample_cpu("start", window_start)),
                asyncio.create_task(sample_cpu("end", window_end))]
    await asyncio.gather(*(one_stream(i) for i in range(streams)))
    await asyncio.gather(*samplers)
    for channel in channels:
        await channel.close()

    def cpu_per_message(who: str) -> float | None:
        if f"{who}_start" not in samples or f"{who}_end" not in samples:
            return None
        return procfs.cpu_us_per_request(samples[f"{who}_start"], samples[f"{who}_end"], tally.received_in_window)

    return {"offered_rate": rate * streams, "streams": streams, "connections": connections, "size": size,
            "seconds": measure_s, "rate": tally.received_in_window / measure_s, "sent": tally.sent,
            "received": tally.received, "lost": tally.sent - tally.received,
            "received_in_window": tally.received_in_window, "stream_errors": tally.stream_errors[:10],
            "stream_error_count": len(tally.stream_errors),
            "latency_us": stats.latency_summary(tally.latencies_us),
            "client_lag_us": stats.latency_summary(tally.lag_us),
            "cpu_us_per_msg": cpu_per_message("proxy"), "backend_cpu_us_per_msg": cpu_per_message("backend")}


# -------------------------------------------------------------------------------------------- cli

def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="grpc_tool", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--port", type=int, required=True)
    c = sub.add_parser("check")
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--method", default=UNARY_METHOD)
    c.add_argument("--size", type=int, default=100)
    c.add_argument("--timeout", type=float, default=10.0)
    t = sub.add_parser("stream")
    t.add_argument("--port", type=int, required=True)
    t.add_argument("--connections", type=int, default=1)
    t.add_argument("--streams", type=int, required=True)
    t.add_argument("--rate", type=float, required=True, help="messages per second per stream")
    t.add_argument("--size", type=int, default=100)
    t.add_argument("--warmup", type=float, default=1.0)
    t.add_argument("--seconds", type=float, required=True)
    t.add_argument("--drain", type=float, default=5.0, help="seconds to wait for the last echoes")
    t.add_argument("--cpu-pid", type=int)
    t.add_argument("--backend-pid", type=int)
    args = p.parse_args(argv)
    if args.command == "serve":
        asyncio.run(serve(args.port))
        return 0
    if args.command == "check":
        result = asyncio.run(check(args.port, args.method, args.size, args.timeout))
    else:
        if args.streams < 1 or args.connections < 1 or args.rate <= 0 or not math.isfinite(args.rate):
            raise SystemExit("streams, connections and rate must be positive")
        result = asyncio.run(stream_load(args.port, args.connections, args.streams, args.rate, args.size,
                                         args.warmup, args.seconds, args.cpu_pid, args.backend_pid, args.drain))
    print(json.dumps(result), flush=True)
    return 0 if result.get("ok", True) else 1


if __name__ == "__main__":
    sys.exit(main())
