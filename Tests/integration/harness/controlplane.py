"""Pieces of the control-plane tests (test_control_plane*.py): a proxy that follows an agent,
sandbox bodies that point at local upstreams, a keyed probe that times how fast a route change
reaches the data path, a keep-alive traffic loop that records every answer, the proxy's watch
state, and a scripted fake Routes API server built with grpcio from proto/routes.proto.

Every wait has a deadline. The probe polls the proxy in a tight loop: the condition ("this key now
reaches that upstream") is checked on every request, so a test moves on the moment it holds.
"""

from __future__ import annotations

import json
import queue
import socket
import threading
import time
from collections import Counter
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Optional, Sequence

import yaml

from . import client, net
from .devmesh import Devmesh, Metrics

#: The workload every test's proxy follows, and the container port its rules map.
KIND, NAMESPACE, NAME = "Deployment", "hotrod", "route"
WORKLOAD = f"{KIND}/{NAMESPACE}/{NAME}"
WORKLOAD_PORT = 8083


# ---- what the agent is told ------------------------------------------------------------------

def sandbox_to(name: str, address: str, key: Optional[str] = None, workload: str = NAME,
               workload_port: int = WORKLOAD_PORT, namespace: str = NAMESPACE,
               labels: Optional[dict[str, str]] = None) -> dict[str, Any]:
    """A sandbox body (REST API) whose fork of `workload` sends `workload_port` to `address`
    (`127.0.0.1:PORT` of a local upstream), as a sandboxed Service would receive it."""
    host, port = address.rsplit(":", 1)
    body: dict[str, Any] = {"name": name}
    if key:
        body["routingKey"] = key
    if labels:
        body["labels"] = labels
    body["forks"] = [{"forkOf": {"kind": KIND, "namespace": namespace, "name": workload},
                      "ports": [{"workloadPort": workload_port,
                                 "destinations": [{"host": host, "port": int(port)}]}]}]
    return body


def create_sandbox(agent: Any, body: dict[str, Any]) -> str:
    """POSTs a sandbox and returns its routing key (the call must be acknowledged, 201)."""
    status, _, answer = agent.request("POST", "/api/v1/sandboxes", body)
    assert status == 201, f"create {body['name']}: {status} {answer}"
    return answer["routingKey"]


def delete_sandbox(agent: Any, name: str) -> None:
    status, _, answer = agent.request("DELETE", f"/api/v1/sandboxes/{name}")
    assert status == 204, f"delete {name}: {status} {answer}"


def proxy_flags(agent_grpc_port: int, baseline: str, *extra: str) -> list[str]:
    """Quick-start flags of a sidecar following WORKLOAD on the agent's gRPC port."""
    return ["--baseline", baseline, "--agent", f"{net.LOOPBACK}:{agent_grpc_port}", "--workload", WORKLOAD,
            "--workload-port", str(WORKLOAD_PORT), *extra]


def agent_config(services: Sequence[dict[str, Any]], agent_port: int, sync_timeout: Optional[str] = None,
                 **agent_keys: str) -> str:
    """A config file (docs/configuration.md schema) whose services may name a `workload:`, with the
    `agent:` section (more of its keys as keyword arguments); listens and serves admin on
    kernel-chosen ports."""
    doc: dict[str, Any] = {"listen": [f"{net.LOOPBACK}:0"], "admin": f"{net.LOOPBACK}:0", "drain_timeout": "2s"}
    agent: dict[str, Any] = {"address": f"{net.LOOPBACK}:{agent_port}", **agent_keys}
    if sync_timeout:
        agent["sync_timeout"] = sync_timeout
    doc["agent"] = agent
    doc["services"] = [dict(s) for s in services]
    return yaml.safe_dump(doc, sort_keys=False)


# ---- what the proxy says about its watch -----------------------------------------------------

def agent_state(dm: Devmesh) -> dict[str, Any]:
    """The `agent` object of /routes: watch state per workload, counters."""
    resp = dm.admin("/routes")
    assert resp.status == 200 and resp.complete, resp
    return json.loads(resp.body)["agent"]


def routes_doc(dm: Devmesh) -> dict[str, Any]:
    resp = dm.admin("/routes")
    assert resp.status == 200 and resp.complete, resp
    return json.loads(resp.body)


def routed_keys(dm: Devmesh, service: Optional[str] = None) -> dict[str, list[str]]:
    """Key -> endpoints of every route in force (of one service, or all)."""
    out: dict[str, list[str]] = {}
    for s in routes_doc(dm)["services"]:
        if service is None or s["name"] == service:
            for r in s["routes"]:
                out[r["routingKey"]] = r["endpoints"]
    return out


def watch_state(dm: Devmesh, workload: str = WORKLOAD) -> str:
    return next(w["state"] for w in agent_state(dm)["watches"] if w["workload"] == workload)


def table_version(dm: Devmesh) -> int:
    return int(dm.metrics().value("devmesh_route_table_version"))


def wait_watch_state(dm: Devmesh, state: str, timeout: float, workload: str = WORKLOAD) -> None:
    net.wait_until(lambda: watch_state(dm, workload) == state, timeout, f"watch of {workload} in state {state}")


def ready(dm: Devmesh) -> tuple[int, str]:
    resp = dm.admin("/ready")
    return resp.status, resp.text.strip()


# ---- the data path ---------------------------------------------------------------------------

def baggage(key: str) -> list[tuple[str, str]]:
    return [("baggage", f"sd-routing-key={key}")]


class Probe:
    """One keep-alive connection to the proxy that asks where a request with given headers goes.

    A proxy answer that is not a complete 200 from an upstream is a failure and raises at once:
    route changes must never cost a request.
    """

    def __init__(self, port: int, path: str = "/", timeout: float = 5.0):
        self.port = port
        self.path = path
        self.timeout = timeout
        self.conn: Optional[client.Client] = None
        self.requests = 0

    def ask(self, headers: Iterable[tuple[str, str]] = ()) -> str:
        """The name of the upstream that answered."""
        if self.conn is None:
            self.conn = client.Client(self.port, timeout=self.timeout)
        resp = self.conn.request("GET", self.path, list(headers))
        self.requests += 1
        if not resp.complete or resp.status != 200 or resp.upstream is None:
            self.close()
            raise AssertionError(f"request {self.requests} through the proxy failed: {resp!r}")
        if (resp.header("connection") or "").lower() == "close":
            self.close()
        return resp.upstream

    def wait_routed(self, headers: Iterable[tuple[str, str]], want: str, timeout: float,
                    allowed: Sequence[str] = ()) -> float:
        """Asks in a tight loop until `want` answers; returns the seconds from the call to the
        answer that showed it. Answers from anyone outside `allowed` (the destination before the
        change) fail the wait."""
        headers = list(headers)
        start = time.monotonic()
        deadline = start + timeout
        seen: Counter[str] = Counter()
        while True:
            got = self.ask(headers)
            if got == want:
                return time.monotonic() - start
            seen[got] += 1
            assert got in allowed, f"{headers} reached {got}, expected {want} (or {list(allowed)} before it)"
            if time.monotonic() >= deadline:
                raise net.DeadlineExceeded(f"{headers} did not reach {want} within {timeout}s (answers: {dict(seen)})")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


@dataclass
class Answer:
    sent: float                 # monotonic time the request was sent
    received: float
    key: Optional[str]
    upstream: Optional[str]     # None: the request failed
    problem: str = ""


@dataclass
class TrafficLoop:
    """Client threads that send requests on keep-alive connections until stopped, each with the
    key `pick()` returns (None: no key), and record every answer. A failure (connection refused or
    reset, incomplete or non-200 response) is recorded, never retried."""

    port: int
    pick: Callable[[int], Optional[str]]
    threads: int = 2
    path: str = "/"
    answers: list[Answer] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _workers: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> "TrafficLoop":
        for n in range(self.threads):
            t = threading.Thread(target=self._run, args=(n,), daemon=True, name=f"traffic-{n}")
            t.start()
            self._workers.append(t)
        return self

    def _run(self, worker: int) -> None:
        conn: Optional[client.Client] = None
        n = 0
        mine: list[Answer] = []
        while not self._stop.is_set():
            key = self.pick(worker * 1_000_000 + n)
            n += 1
            headers = baggage(key) if key else []
            sent = time.monotonic()
            try:
                if conn is None:
                    conn = client.Client(self.port, timeout=5.0)
                resp = conn.request("GET", self.path, headers)
            except OSError as e:
                mine.append(Answer(sent, time.monotonic(), key, None, f"{type(e).__name__}: {e}"))
                if conn is not None:
                    conn.close()
                conn = None
                continue
            ok = resp.complete and resp.status == 200 and resp.upstream is not None
            mine.append(Answer(sent, time.monotonic(), key, resp.upstream if ok else None, "" if ok else repr(resp)))
            if not ok or (resp.header("connection") or "").lower() == "close":
                conn.close()
                conn = None
            if len(mine) >= 256:
                with self._lock:
                    self.answers.extend(mine)
                mine = []
        if conn is not None:
            conn.close()
        with self._lock:
            self.answers.extend(mine)

    def stop(self) -> list[Answer]:
        self._stop.set()
        for t in self._workers:
            t.join(10)
        assert not any(t.is_alive() for t in self._workers), "a traffic thread did not stop"
        return self.answers

    def count(self) -> int:
        with self._lock:
            return len(self.answers)

    def failures(self) -> list[Answer]:
        with self._lock:
            return [a for a in self.answers if a.upstream is None]


# ---- a scripted Routes API server ------------------------------------------------------------

#: Put on a watch's queue to end the stream with this gRPC status code name (e.g. "UNAVAILABLE").
@dataclass(frozen=True)
class EndStream:
    code: str = "UNAVAILABLE"
    message: str = "ended by the test"


class WatchCall:
    """One WatchWorkloadRoutingRules call the fake server is serving."""

    def __init__(self, request: Any):
        self.request = request
        self.queue: "queue.Queue[Any]" = queue.Queue()
        self.sent = 0
        self.active = True

    def send(self, *items: Any) -> None:
        """Messages (WorkloadRoutingRuleOp, or raw bytes for a message that does not decode) or an
        EndStream, in order."""
        for item in items:
            self.queue.put(item)


class FakeRoutesServer:
    """routes.Routes on grpcio, with WatchWorkloadRoutingRules driven by the test.

    Each new watch call is announced through `calls` (in arrival order) and first receives what
    `on_watch(call_index, request)` returns, then whatever the test puts on its queue. Messages are
    the classes protoc generates from proto/routes.proto; raw bytes pass through unencoded.
    """

    def __init__(self, pb2: Any, on_watch: Optional[Callable[[int, Any], list[Any]]] = None, port: int = 0):
        import grpc
        self.pb2 = pb2
        self.grpc = grpc
        self.on_watch = on_watch or (lambda index, request: [])
        self.calls: list[WatchCall] = []
        self._cv = threading.Condition()
        self._stopped = False
        handler = grpc.method_handlers_generic_handler("routes.Routes", {
            "WatchWorkloadRoutingRules": grpc.unary_stream_rpc_method_handler(
                self._watch, request_deserializer=pb2.WorkloadRoutingRulesRequest.FromString,
                response_serializer=lambda m: m if isinstance(m, bytes) else m.SerializeToString()),
        })
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        self.server.add_generic_rpc_handlers((handler,))
        self.port = self.server.add_insecure_port(f"{net.LOOPBACK}:{port}")
        assert self.port, "the fake Routes server could not bind"
        self.server.start()

    def _watch(self, request: Any, context: Any) -> Iterable[Any]:
        call = WatchCall(request)
        with self._cv:
            index = len(self.calls)
            self.calls.append(call)
            self._cv.notify_all()
        call.send(*self.on_watch(index, request))
        try:
            while not self._stopped and context.is_active():
                try:
                    item = call.queue.get(timeout=0.05)
                except queue.Empty:
                    continue
                if isinstance(item, EndStream):
                    context.set_code(getattr(self.grpc.StatusCode, item.code))
                    context.set_details(item.message)
                    return
                call.sent += 1
                yield item
        finally:
            call.active = False

    def wait_calls(self, n: int, timeout: float = 10.0) -> WatchCall:
        """Waits for the n-th watch call (1-based) and returns it."""
        with self._cv:
            if not self._cv.wait_for(lambda: len(self.calls) >= n, timeout):
                raise net.DeadlineExceeded(f"the proxy made {len(self.calls)} of {n} watch calls in {timeout}s")
            return self.calls[n - 1]

    def stop(self) -> None:
        self._stopped = True
        self.server.stop(grace=0).wait(5)

    # Message builders (generated classes).

    def rule(self, key: str, dest: Optional[str] = None, workload: tuple[str, str, str] = (KIND, NAMESPACE, NAME),
             port: int = WORKLOAD_PORT, sandbox: Optional[str] = None) -> Any:
        pb2 = self.pb2
        rule = pb2.WorkloadRoutingRule(routing_key=key,
                                       baseline=pb2.BaselineWorkload(kind=workload[0], namespace=workload[1],
                                                                     name=workload[2]),
                                       destination_sandbox=pb2.DestinationSandbox(name=sandbox or f"sb-{key}"))
        if dest is not None:
            host, dport = dest.rsplit(":", 1)
            rule.mappings.append(pb2.WorkloadPortMapping(workload_port=port,
                                                         destinations=[pb2.Location(host=host, port=int(dport))]))
        return rule

    def op(self, name: str, rule: Any = None) -> Any:
        msg = self.pb2.WorkloadRoutingRuleOp(op=self.pb2.WatchOp.Value(name))
        if rule is not None:
            msg.route.CopyFrom(rule)
        return msg


def refused_listener() -> tuple[socket.socket, int]:
    """A listening socket the test accepts on itself (to time connection attempts)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((net.LOOPBACK, 0))
    s.listen(64)
    return s, s.getsockname()[1]


def metrics_value(dm: Devmesh, name: str, **labels: str) -> float:
    return dm.metrics().value(name, **labels)


__all__ = ["Answer", "EndStream", "FakeRoutesServer", "Metrics", "Probe", "TrafficLoop", "WatchCall"]
