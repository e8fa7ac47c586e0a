"""An in-process grpcio server of the Echo service that records every call.

The server answers with its own name and the metadata it received; the first request message of
a call tells it how to behave (sleep, fail with a status, custom trailing metadata, a
trailers-only error, how many replies to stream). Each call leaves a `CallRecord`: which method,
the metadata, the sequence numbers and bytes received, how many replies were produced, and
whether the call was cancelled while the handler still ran (a client cancel or a deadline that
reached the server: grpcio runs the termination callback before the handler returns only then).
"""

from __future__ import annotations

import threading
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any, Iterator, Optional

import grpc

from harness import net

from . import stubs

MAX_MESSAGE = 64 * 1024 * 1024
CHANNEL_OPTIONS = [("grpc.max_receive_message_length", MAX_MESSAGE),
                   ("grpc.max_send_message_length", MAX_MESSAGE)]
STATUS_BY_CODE = {code.value[0]: code for code in grpc.StatusCode}


@dataclass
class CallRecord:
    server: str
    method: str
    metadata: dict[str, str]
    seqs: list[int] = field(default_factory=list)
    bytes_received: int = 0
    replies: int = 0  # replies produced (the generator was asked for them)
    handler_done: bool = False
    terminated: threading.Event = field(default_factory=threading.Event)
    cancelled: threading.Event = field(default_factory=threading.Event)

    @property
    def test_id(self) -> Optional[str]:
        return self.metadata.get("x-test-id")


class EchoServer:
    """Listens on 127.0.0.1:0 (h2c), one thread per call up to `max_workers`."""

    def __init__(self, name: str, max_workers: int = 256):
        pb2, pb2_grpc = stubs.load()
        self.name = name
        self.pb2 = pb2
        self._lock = threading.Condition()
        self.calls: list[CallRecord] = []
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=max_workers), options=CHANNEL_OPTIONS,
                                  maximum_concurrent_rpcs=None)
        pb2_grpc.add_EchoServicer_to_server(_Servicer(self), self.server)
        self.port = self.server.add_insecure_port(f"{net.LOOPBACK}:0")
        self.server.start()

    @property
    def address(self) -> str:
        return f"{net.LOOPBACK}:{self.port}"

    def stop(self) -> None:
        self.server.stop(grace=None).wait(5)

    # ---- ledger ----------------------------------------------------------------------------

    def snapshot(self) -> list[CallRecord]:
        with self._lock:
            return list(self.calls)

    def by_test_id(self, test_id: str) -> list[CallRecord]:
        return [c for c in self.snapshot() if c.test_id == test_id]

    def wait_call(self, test_id: str, timeout: float = 5.0) -> CallRecord:
        return net.wait_until(lambda: next(iter(self.by_test_id(test_id)), None), timeout,
                              f"call {test_id} at {self.name}")

    def _begin(self, method: str, context: grpc.ServicerContext) -> CallRecord:
        metadata = {}
        for item in context.invocation_metadata():
            value = item.value
            metadata[item.key] = value.decode("latin-1") if isinstance(value, bytes) else value
        record = CallRecord(self.name, method, metadata)

        def on_termination() -> None:
            if not record.handler_done:
                record.cancelled.set()
            record.terminated.set()
        context.add_callback(on_termination)
        with self._lock:
            self.calls.append(record)
            self._lock.notify_all()
        return record

    # ---- behaviour -------------------------------------------------------------------------

    def reply(self, record: CallRecord, seq: int, payload: bytes = b"", first: bool = False) -> Any:
        return self.pb2.EchoReply(payload=payload, seq=seq, server=self.name,
                                  metadata=record.metadata if first else {})

    def finish(self, record: CallRecord, request: Any, context: grpc.ServicerContext) -> None:
        """Ends the call as the request asked: trailing metadata, then a failure status if any."""
        record.handler_done = True
        if request.trailing:
            context.set_trailing_metadata(tuple(request.trailing.items()))
        if request.fail_code:
            context.abort(STATUS_BY_CODE[request.fail_code], request.fail_message)

    def sleep(self, record: CallRecord, seconds: float) -> bool:
        """Sleeps unless the call ends first; True when the call is still alive afterwards."""
        if seconds <= 0:
            return not record.terminated.is_set()
        return not record.terminated.wait(seconds)


class _Servicer:
    """The Echo service (method names as in echo.proto)."""

    def __init__(self, owner: EchoServer):
        self.o = owner

    def Unary(self, request: Any, context: grpc.ServicerContext) -> Any:
        o = self.o
        record = o._begin("Unary", context)
        record.seqs.append(request.seq)
        record.bytes_received += len(request.payload)
        if not o.sleep(record, request.sleep_seconds):
            record.handler_done = True
            return o.pb2.EchoReply()
        if request.fail_code and not request.trailers_only:
            context.send_initial_metadata((("x-server", o.name),))
        reply = o.reply(record, request.seq, request.payload if request.echo_payload else b"", first=True)
        record.replies += 1
        o.finish(record, request, context)
        return reply

    def ServerStream(self, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        o = self.o
        record = o._begin("ServerStream", context)
        record.seqs.append(request.seq)
        payload = b"s" * request.reply_size
        if request.fail_code and not request.trailers_only and request.reply_count == 0:
            context.send_initial_metadata((("x-server", o.name),))
        for i in range(request.reply_count):
            if not o.sleep(record, request.sleep_seconds):
                record.handler_done = True
                return
            record.replies += 1
            yield o.reply(record, i, payload, first=i == 0)
        o.finish(record, request, context)

    def ClientStream(self, request_iterator: Iterator[Any], context: grpc.ServicerContext) -> Any:
        o = self.o
        record = o._begin("ClientStream", context)
        first = None
        for request in request_iterator:
            first = first or request
            record.seqs.append(request.seq)
            record.bytes_received += len(request.payload)
            if not o.sleep(record, first.sleep_seconds):
                break
        if record.terminated.is_set():
            record.handler_done = True
            return o.pb2.EchoReply()
        first = first or o.pb2.EchoRequest()
        reply = o.reply(record, record.seqs[-1] if record.seqs else 0, first=True)
        reply.received_count = len(record.seqs)
        reply.received_bytes = record.bytes_received
        record.replies += 1
        o.finish(record, first, context)
        return reply

    def Bidi(self, request_iterator: Iterator[Any], context: grpc.ServicerContext) -> Iterator[Any]:
        o = self.o
        record = o._begin("Bidi", context)
        first = None
        for request in request_iterator:
            first = first or request
            record.seqs.append(request.seq)
            record.bytes_received += len(request.payload)
            if not o.sleep(record, first.sleep_seconds):
                record.handler_done = True
                return
            record.replies += 1
            yield o.reply(record, request.seq, request.payload if first.echo_payload else b"",
                          first=record.replies == 1)
        o.finish(record, first or o.pb2.EchoRequest(), context)
