"""S11, the control plane: many sandboxes for one workload in a `devmesh agent`, and a devmesh
proxy that follows them over the Routes API (gRPC watch).

Three timed steps, each bounded:

1. **Agent writes.** A fresh agent (on the runner's CPU) gets N sandboxes through its REST API, one
   create at a time on one keep-alive connection (the agent fsyncs each write before it answers).
   Creates per second, the latency of the last 1,000 creates, and the agent's RSS and peak.
2. **First sync.** The proxy starts (`--agent --workload`, one worker, pinned like every proxy) and
   receives the N rules: time from its start to `/ready` 200 with `devmesh_agent_rules` = N, and
   its RSS with N routes.
3. **Propagation at N rules.** K rounds of "delete one sandbox, create one" (the agent holds at most
   10,000), each timed to the first request the proxy routes accordingly (a tight loop on one
   keep-alive connection): from the REST call's return (the proxy's share) and from its start (the
   whole change, the agent's write and fsync included). After each change the proxy's own build
   time is read from `devmesh_agent_last_rebuild_microseconds` (merge, compile, publish).

Every sandbox sends the workload port to the backend's sandbox port, whose body says "sandbox".
"""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import time

from . import procfs
from .procs import HarnessError, http_get, wait_log_line
from .targets import Environment

KIND, NAMESPACE, NAME = "Deployment", "bench", "web"
WORKLOAD = f"{KIND}/{NAMESPACE}/{NAME}"
WORKLOAD_PORT = 8080
AGENT_LIMIT = 10_000     # the agent's sandbox limit (docs/agent.md, Validation)
PROPAGATION_DEADLINE_S = 10.0


def percentile(values: list[float], p: float) -> float | None:
    """Nearest rank (p in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


def sandbox_body(name: str, sandbox_port: int) -> bytes:
    return json.dumps({"name": name, "forks": [{
        "forkOf": {"kind": KIND, "namespace": NAMESPACE, "name": NAME},
        "ports": [{"workloadPort": WORKLOAD_PORT, "destinations": [{"host": "127.0.0.1", "port": sandbox_port}]}]}]}
    ).encode()


class AgentClient:
    """The agent's REST API on one keep-alive connection."""

    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def call(self, method: str, path: str, body: bytes | None = None) -> tuple[int, dict]:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        self.conn.request(method, path, body=body, headers=headers)
        resp = self.conn.getresponse()
        data = resp.read()
        return resp.status, (json.loads(data) if data.strip() else {})

    def create(self, name: str, sandbox_port: int) -> str:
        status, answer = self.call("POST", "/api/v1/sandboxes", sandbox_body(name, sandbox_port))
        if status != 201:
            raise HarnessError(f"agent: create {name} answered {status}: {answer}")
        return answer["routingKey"]

    def delete(self, name: str) -> None:
        status, answer = self.call("DELETE", f"/api/v1/sandboxes/{name}")
        if status != 204:
            raise HarnessError(f"agent: delete {name} answered {status}: {answer}")

    def close(self) -> None:
        self.conn.close()


class KeyedProbe:
    """GET / with a routing key on one keep-alive connection; says which backend port answered."""

    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def ask(self, key: str) -> str:
        self.sock.sendall(f"GET / HTTP/1.1\r\nHost: bench\r\nbaggage: sd-routing-key={key}\r\n\r\n".encode())
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length = next((int(line.split(b":", 1)[1]) for line in lines[1:]
                       if line.lower().startswith(b"content-length:")), None)
        if length is None:
            raise HarnessError(f"probe: a response without Content-Length: {head[:200]!r}")
        while len(self.buf) < length:
            self._fill()
        body, self.buf = self.buf[:length], self.buf[length:]
        if status != 200:
            raise HarnessError(f"probe: status {status}: {body[:100]!r}")
        return "sandbox" if b"sandbox" in body else "baseline" if b"baseline" in body else "unknown"

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise HarnessError("probe: the proxy closed the connection")
        self.buf += data

    def wait_for(self, key: str, want: str, since: float) -> float:
        """Asks until `want` answers; the seconds from `since` to that answer."""
        deadline = time.monotonic() + PROPAGATION_DEADLINE_S
        while True:
            got = self.ask(key)
            if got == want:
                return time.monotonic() - since
            if got == "unknown":
                raise HarnessError("probe: an answer from neither backend port")
            if time.monotonic() > deadline:
                raise HarnessError(f"probe: key {key} did not reach the {want} in {PROPAGATION_DEADLINE_S:g}s")

    def close(self) -> None:
        self.sock.close()


def metric(admin_port: int, name: str) -> float | None:
    _, body = http_get(admin_port, "/metrics", timeout=5.0)
    for line in body.decode(errors="replace").splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return None


def start_agent(env: Environment) -> tuple[object, int, int]:
    """A fresh agent (empty data directory) on kernel-chosen ports: (child, http port, grpc port)."""
    data = env.target_dir("agent") / "data"
    shutil.rmtree(data, ignore_errors=True)
    assert env.devmesh_bin
    child = env.supervisor.start("agent", [env.devmesh_bin, "agent", "--data", str(data),
                                           "--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0"])
    http_port = int(wait_log_line(child, "devmesh: agent http on ").rsplit(":", 1)[1])
    grpc_port = int(wait_log_line(child, "devmesh: agent grpc on ").rsplit(":", 1)[1])
    return child, http_port, grpc_port


def _mib(kb: int) -> float:
    return round(kb / 1024, 1)


def run(env: Environment, sandboxes: int, changes: int, proxy_cpus: str | None) -> list[dict]:
    """The three steps; returns their records (the caller adds scenario and target)."""
    sandboxes = min(sandboxes, AGENT_LIMIT)
    records: list[dict] = []
    agent, http_port, grpc_port = start_agent(env)
    client = AgentClient(http_port)
    proxy = None
    try:
        # 1. Agent writes.
        names: list[str] = []
        keys: dict[str, str] = {}
        latencies: list[float] = []
        started = time.monotonic()
        for i in range(sandboxes):
            name = f"sb-{i}"
            t0 = time.monotonic()
            keys[name] = client.create(name, env.sandbox_port)
            latencies.append(time.monotonic() - t0)
            names.append(name)
        seconds = time.monotonic() - started
        tail = latencies[-1000:]
        memory = procfs.memory_kb(agent.pid)
        records.append(_record("agent: create sandboxes", 0, sandboxes, {
            "sandboxes": sandboxes, "seconds": round(seconds, 2), "creates_per_s": round(sandboxes / seconds, 1),
            "create_ms_p50_last_1000": round(percentile(tail, 50) * 1000, 2),
            "create_ms_p99_last_1000": round(percentile(tail, 99) * 1000, 2),
            "agent_rss_mib": _mib(memory["rss_kb"]), "agent_peak_rss_mib": _mib(memory["hwm_kb"])}))

        # 2. First sync of the proxy.
        assert env.devmesh_bin
        started = time.monotonic()
        proxy = env.supervisor.start("devmesh-s11", [
            env.devmesh_bin, "proxy", "--listen", "127.0.0.1:0", "--baseline", f"127.0.0.1:{env.backend_port}",
            "--agent", f"127.0.0.1:{grpc_port}", "--workload", WORKLOAD, "--workload-port", str(WORKLOAD_PORT),
            "--workers", "1", "--admin", "127.0.0.1:0", "--access-log", "off"], cpus=proxy_cpus)
        port = int(wait_log_line(proxy, "devmesh: listening on ").rsplit(":", 1)[1])
        admin = int(wait_log_line(proxy, "devmesh: admin on ", timeout=5.0).rsplit(":", 1)[1])
        deadline = time.monotonic() + 60
        while metric(admin, "devmesh_agent_rules") != sandboxes or http_get(admin, "/ready")[0] != 200:
            if time.monotonic() > deadline or not proxy.alive():
                raise HarnessError(f"proxy: {sandboxes} rules not synced within 60 s: {proxy.log_tail(600)}")
            time.sleep(0.01)
        sync_s = time.monotonic() - started
        memory = procfs.memory_kb(proxy.pid)
        records.append(_record("proxy: first sync", 1, sandboxes, {
            "rules": sandboxes, "seconds_from_start": round(sync_s, 3),
            "rebuild_ms": round((metric(admin, "devmesh_agent_last_rebuild_microseconds") or 0) / 1000, 2),
            "proxy_rss_mib": _mib(memory["rss_kb"]), "proxy_peak_rss_mib": _mib(memory["hwm_kb"])}))

        # 3. Propagation at N rules: delete the oldest, create a new one.
        probe = KeyedProbe(port)
        probe.wait_for(keys[names[len(names) // 2]], "sandbox", time.monotonic())
        figures: dict[str, list[float]] = {k: [] for k in (
            "create_after_return", "create_after_call", "delete_after_return", "delete_after_call",
            "create_rebuild_us", "delete_rebuild_us")}
        cpu_before = procfs.cpu_sample(proxy.pid)
        for n in range(changes):
            gone = names.pop(0)
            call = time.monotonic()
            client.delete(gone)
            returned = time.monotonic()
            after = probe.wait_for(keys.pop(gone), "baseline", returned)
            figures["delete_after_return"].append(after)
            figures["delete_after_call"].append(after + returned - call)
            figures["delete_rebuild_us"].append(metric(admin, "devmesh_agent_last_rebuild_microseconds") or 0)
            name = f"sb-new-{n}"
            call = time.monotonic()
            key = client.create(name, env.sandbox_port)
            returned = time.monotonic()
            after = probe.wait_for(key, "sandbox", returned)
            figures["create_after_return"].append(after)
            figures["create_after_call"].append(after + returned - call)
            figures["create_rebuild_us"].append(metric(admin, "devmesh_agent_last_rebuild_microseconds") or 0)
            names.append(name)
            keys[name] = key
        cpu_after = procfs.cpu_sample(proxy.pid)
        probe.close()
        extra: dict[str, object] = {"rules": sandboxes, "changes": 2 * changes}
        for what in ("create", "delete"):
            for since in ("after_return", "after_call"):
                values = figures[f"{what}_{since}"]
                for p in (50, 99):
                    extra[f"{what}_ms_p{p}_{since}"] = round(percentile(values, p) * 1000, 2)
                extra[f"{what}_ms_max_{since}"] = round(max(values) * 1000, 2)
            rebuilds = figures[f"{what}_rebuild_us"]
            extra[f"{what}_rebuild_ms_p50"] = round(percentile(rebuilds, 50) / 1000, 2)
            extra[f"{what}_rebuild_ms_p99"] = round(percentile(rebuilds, 99) / 1000, 2)
        cpu = procfs.cpu_us_per_request(cpu_before, cpu_after, 2 * changes)
        extra["proxy_cpu_ms_per_change"] = round(cpu / 1000, 2) if cpu is not None else None
        records.append(_record("propagation", 2, sandboxes, extra))
    finally:
        client.close()
        if proxy is not None:
            env.supervisor.stop(proxy)
        env.supervisor.stop(agent)
    return records


def _record(step: str, order: int, sandboxes: int, extra: dict[str, object]) -> dict:
    return {"variant": f"{step} ({sandboxes:,} sandboxes)", "sort": [order], "run": 1, "is_proxy": True,
            "load": {"tool": "python REST client + keyed keep-alive probe"}, "requests": 0, "errors": 0,
            "flags": [], "valid": True, "extra": extra}
