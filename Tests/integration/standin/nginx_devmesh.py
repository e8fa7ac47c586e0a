#!/usr/bin/env python3
"""A stand-in for the devmesh binary, built on nginx, used only to validate the integration
harness before (or independently of) the real proxy: `DEVMESH_STANDIN=nginx scripts/test.sh`.
Never the default.

It accepts the contract's command line (`proxy` with flags or `--config FILE`), translates the
routing model into an nginx config (routing keys matched by regular expressions over the
carrier headers, services by Host), runs nginx in the foreground and prints the contract's
`listening on` / `admin on` lines. It serves the admin endpoints itself (from nginx's access
log), reloads on SIGHUP and on a change of the config file, and drains on SIGTERM through
nginx's graceful SIGQUIT.

Where nginx differs from the contract (no 431, HTML error bodies for some errors, hop-by-hop
fields named in Connection forwarded, leniency on some smuggling cases) the suite fails on
the stand-in: that is expected and shows the tests can fail. Tests/integration/README.md
lists those differences.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

KEY_NAMES = ["sd-routing-key", "sd-sandbox", "sd-workspace"]
STATUS_CLASSES = ("2xx", "3xx", "4xx", "5xx")


class ConfigError(Exception):
    pass


# ---- the model: the same shape as docs/configuration.md ------------------------------------

def parse_endpoints(text: str, what: str) -> list[str]:
    eps = [e.strip() for e in str(text).split(",") if e.strip()]
    for e in eps:
        if not re.fullmatch(r"[A-Za-z0-9.\-]+:\d{1,5}", e) or not 0 < int(e.rsplit(":", 1)[1]) < 65536:
            raise ConfigError(f"{what}: bad endpoint {e!r}")
    if not eps:
        raise ConfigError(f"{what}: no endpoint")
    return eps


def parse_duration(text: str, what: str) -> float:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h)", str(text))
    if not m:
        raise ConfigError(f"{what}: bad duration {text!r}")
    return float(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[m.group(2)]


def model_from_yaml(path: str) -> dict:
    try:
        doc = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as e:
        raise ConfigError(f"{path}: {e}") from e
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: not a mapping")
    known = {"listeners", "workers", "admin", "drain_timeout", "access_log", "limits", "timeouts", "routing",
             "services"}
    for k in doc:
        if k not in known:
            raise ConfigError(f"{path}: {k}: unknown key")
    services = []
    for i, s in enumerate(doc.get("services") or []):
        routes = []
        for j, r in enumerate(s.get("routes") or []):
            key = str(r["key"])
            if not re.fullmatch(r"[A-Za-z0-9._-]{1,128}", key):
                raise ConfigError(f"services[{i}].routes[{j}].key: bad key {key!r}")
            routes.append({"key": key, "sandbox": r.get("sandbox") or key,
                           "endpoints": parse_endpoints(",".join(map(str, r["endpoints"])),
                                                        f"services[{i}].routes[{j}].endpoints"),
                           "fallback": r.get("fallback", "fail")})
        baseline = s["baseline"] if isinstance(s["baseline"], list) else [s["baseline"]]
        services.append({"name": s["name"], "hosts": [h.lower() for h in s.get("hosts") or []],
                         "baseline": parse_endpoints(",".join(baseline), f"services[{i}].baseline"),
                         "routes": routes})
    if not services:
        raise ConfigError(f"{path}: services: at least one service is required")
    timeouts = {k: parse_duration(v, f"timeouts.{k}") for k, v in (doc.get("timeouts") or {}).items()}
    listeners = doc.get("listeners") or ["127.0.0.1:8080"]
    return {"listeners": listeners if isinstance(listeners, list) else [listeners],
            "admin": doc.get("admin"), "workers": doc.get("workers"),
            "drain_timeout": parse_duration(doc.get("drain_timeout", "15s"), "drain_timeout"),
            "access_log": str(doc.get("access_log", "off")), "timeouts": timeouts,
            "custom_headers": list((doc.get("routing") or {}).get("custom_headers") or []),
            "services": services}


def model_from_flags(argv: list[str]) -> tuple[dict, str | None]:
    flags: dict[str, list[str]] = {}
    i = 0
    while i < len(argv):
        name = argv[i]
        if not name.startswith("--") or i + 1 >= len(argv):
            raise ConfigError(f"{name}: expected --flag VALUE")
        flags.setdefault(name, []).append(argv[i + 1])
        i += 2
    config = flags.get("--config", [None])[0]
    if config:
        for f in ("--listen", "--baseline", "--route", "--fallback", "--custom-header"):
            if f in flags:
                raise ConfigError(f"{f} cannot be combined with --config")
        model = model_from_yaml(config)
    else:
        if "--baseline" not in flags:
            raise ConfigError("--baseline is required (or --config)")
        fallback = flags.get("--fallback", ["fail"])[0]
        if fallback not in ("fail", "baseline"):
            raise ConfigError(f"--fallback {fallback!r}: expected fail or baseline")
        routes = []
        for r in flags.get("--route", []):
            key, sep, eps = r.partition("=")
            if not sep:
                raise ConfigError(f'--route "{r}": expected KEY=HOST:PORT[,HOST:PORT...]')
            routes.append({"key": key, "sandbox": key, "endpoints": parse_endpoints(eps, "--route"),
                           "fallback": fallback})
        model = {"listeners": flags.get("--listen", ["127.0.0.1:8080"]), "admin": None, "workers": None,
                 "drain_timeout": 15.0, "access_log": "off", "timeouts": {},
                 "custom_headers": flags.get("--custom-header", []),
                 "services": [{"name": "default", "hosts": [],
                               "baseline": parse_endpoints(flags["--baseline"][0], "--baseline"),
                               "routes": routes}]}
    if "--admin" in flags:
        model["admin"] = flags["--admin"][0]
    if "--workers" in flags:
        model["workers"] = int(flags["--workers"][0])
    if "--drain-timeout" in flags:
        model["drain_timeout"] = float(flags["--drain-timeout"][0])
    if "--access-log" in flags:
        model["access_log"] = flags["--access-log"][0]
    return model, config


# ---- nginx configuration -------------------------------------------------------------------

def header_var(name: str) -> str:
    return "$http_" + name.lower().replace("-", "_")


def nginx_config(model: dict, prefix: Path, ports: list[int]) -> str:
    t = {k: f"{int(v * 1000)}ms" for k, v in model["timeouts"].items()}
    # nginx has one read timeout for the head and the body of a response.
    read = min(model["timeouts"].get("upstream_response", 15), model["timeouts"].get("stream_idle", 60))
    carriers = "".join(f"C={header_var(h)}|" for h in model["custom_headers"])
    for prefix_name in ("uberctx-", "ot-baggage-", "baggage-"):
        carriers += "".join(f"U={header_var(prefix_name + k)}|" for k in KEY_NAMES)
    carriers += "L=$http_baggage|L=$http_tracestate|L=$http_jaeger_baggage|"
    names = "(?:" + "|".join(re.escape(k) for k in KEY_NAMES) + ")"

    upstreams, dest_map, key_map, label_map, svc_map = [], [], [], [], []
    default_service = ""
    baselines = []
    for si, s in enumerate(model["services"]):
        svc = f"s{si}"
        if not s["hosts"]:
            default_service = svc
        svc_map += [f"    {h} {svc};" for h in s["hosts"]]
        servers = "".join(f"server {e} max_fails=0; " for e in s["baseline"])
        upstreams.append(f"upstream {svc}_base {{ {servers}keepalive 32; }}")
        baselines.append(f'    "~^{svc}\\|" {svc}_base;')
        label_map.append(f"    {svc}_base baseline;")
        for ri, r in enumerate(s["routes"]):
            dest = f"{svc}_r{ri}"
            servers = "".join(f"server {e} max_fails=0; " for e in r["endpoints"])
            if r["fallback"] == "baseline":
                servers += "".join(f"server {e} backup; " for e in s["baseline"])
            upstreams.append(f"upstream {dest} {{ {servers}keepalive 32; }}")
            k = re.escape(r["key"])
            dest_map.append(f'    "~^{svc}\\|(?:.*\\|)?[CU]=\\s*{k}\\s*\\|" {dest};')
            dest_map.append(f'    "~^{svc}\\|(?:.*\\|)?L=(?:[^|]*,)?\\s*{names}\\s*=\\s*{k}\\s*[;,|]" {dest};')
            key_map.append(f"    {dest} {r['key']};")
            label_map.append(f"    {dest} {r['sandbox']};")
    listens = "\n".join(f"        listen 127.0.0.1:{p};" for p in ports)
    return f"""
daemon off;
master_process on;
worker_processes {model['workers'] or 2};
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    log_format dm escape=json '{{"method":"$request_method","path":"$request_uri","status":"$status",'
        '"routing_key":"$dm_key","destination":"$dm_label","route":"$dm_route","upstream":"$upstream_addr",'
        '"request_time":"$request_time"}}';
    access_log {prefix}/access.log dm;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    client_header_timeout {t.get('request_head', '10s')};
    keepalive_timeout {t.get('downstream_idle', '60s')};
    keepalive_requests 100000;
    large_client_header_buffers 4 64k;
    client_max_body_size 0;
    proxy_connect_timeout {t.get('upstream_connect', '2s')};
    proxy_read_timeout {int(read * 1000)}ms;
    proxy_http_version 1.1;
    proxy_buffering off;
    proxy_request_buffering off;
    proxy_set_header Host $http_host;
    proxy_set_header Upgrade $http_upgrade;
    proxy_set_header Connection $dm_connection;

    map $http_upgrade $dm_connection {{ default upgrade; "" ""; }}
    map $host $dm_service {{
    hostnames;
{chr(10).join(svc_map)}
    default "{default_service}";
    }}
    map "$dm_service|{carriers}" $dm_dest {{
{chr(10).join(dest_map)}
{chr(10).join(baselines)}
    default "";
    }}
    map $dm_dest $dm_key {{
{chr(10).join(key_map)}
    default "";
    }}
    map $dm_dest $dm_label {{
{chr(10).join(label_map)}
    default "";
    }}
    map $dm_dest $dm_route {{ "" ""; ~_base$ baseline; default sandbox; }}
{chr(10).join(upstreams)}
    server {{
{listens}
        error_page 400 @dm400;
        location / {{
            if ($dm_service = "") {{ return 404 "devmesh: no service for host $host\\n"; }}
            proxy_pass http://$dm_dest;
            error_page 502 503 @dm502;
            error_page 504 @dm504;
        }}
        location @dm400 {{ default_type text/plain; return 400 "devmesh: bad request\\n"; }}
        location @dm502 {{ default_type text/plain; return 502 "devmesh: upstream of $dm_label unreachable\\n"; }}
        location @dm504 {{ default_type text/plain; return 504 "devmesh: upstream of $dm_label timed out\\n"; }}
    }}
}}
"""


# ---- the running stand-in ------------------------------------------------------------------

class StandIn:
    def __init__(self, argv: list[str]):
        self.argv = argv
        self.model, self.config_path = model_from_flags(argv)
        self.prefix = Path(tempfile.mkdtemp(prefix="devmesh-standin-"))
        for d in ("tmp",):
            (self.prefix / d).mkdir()
        self.version = 1
        self.reloads = 0
        self.reload_failures = 0
        self.draining = False
        self.lock = threading.Lock()
        self.requests: dict[tuple[str, str], int] = {}
        self.upstream_errors: dict[str, int] = {}
        self.nginx: subprocess.Popen[bytes] | None = None
        self.ports: list[int] = []
        self.log_out = None
        self.config_mtime = self._mtime()
        self.stop_event = threading.Event()

    def _mtime(self) -> float:
        try:
            return os.stat(self.config_path).st_mtime_ns if self.config_path else 0
        except OSError:
            return 0

    def start_nginx(self) -> None:
        wanted = [int(a.rsplit(":", 1)[1]) for a in self.model["listeners"]]
        for _ in range(5):
            self.ports = [p or free_port() for p in wanted]
            conf = self.prefix / "nginx.conf"
            conf.write_text(nginx_config(self.model, self.prefix, self.ports))
            self.nginx = subprocess.Popen([shutil.which("nginx") or "/usr/sbin/nginx", "-p", str(self.prefix),
                                           "-c", str(conf), "-e", str(self.prefix / "error.log")],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                          start_new_session=True,  # so the workers can be killed with it
                                          preexec_fn=die_with_parent)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and self.nginx.poll() is None:
                if all(accepts(p) for p in self.ports):
                    return
                time.sleep(0.02)
            err = self.nginx.stderr.read().decode() if self.nginx.poll() is not None else "no listener"
            if self.nginx.poll() is None:
                self.nginx.kill()
            if "Address already in use" not in err:
                raise ConfigError(f"nginx did not start: {err}")
        raise ConfigError("nginx did not start: no free port")

    def reload(self, reason: str) -> None:
        try:
            model, _ = model_from_flags(self.argv)
        except (ConfigError, KeyError, TypeError, ValueError) as e:
            with self.lock:
                self.reload_failures += 1
            print(f"devmesh: reload ({reason}) refused: {e}", file=sys.stderr, flush=True)
            return
        model["listeners"] = self.model["listeners"]
        self.model = model
        (self.prefix / "nginx.conf").write_text(nginx_config(model, self.prefix, self.ports))
        assert self.nginx is not None
        self.nginx.send_signal(signal.SIGHUP)
        with self.lock:
            self.version += 1
            self.reloads += 1
        print(f"devmesh: reloaded ({reason}), route table version {self.version}", file=sys.stderr, flush=True)

    def watch_config(self) -> None:
        while not self.stop_event.wait(0.25):
            m = self._mtime()
            if m != self.config_mtime:
                self.config_mtime = m
                self.reload("file changed")

    def tail_access_log(self) -> None:
        path = self.prefix / "access.log"
        target = self.model["access_log"]
        out = sys.stdout if target == "stdout" else (open(target, "a") if target != "off" else None)
        while not path.exists() and not self.stop_event.wait(0.05):
            pass
        with open(path) as f:
            while True:
                line = f.readline()
                if not line:
                    if self.stop_event.wait(0.05):
                        return
                    continue
                e = json.loads(line)
                status = int(e["status"])
                with self.lock:
                    if e["route"]:
                        k = (e["route"], f"{status // 100}xx")
                        self.requests[k] = self.requests.get(k, 0) + 1
                    if status in (502, 504) and e["route"]:
                        reason = "timeout" if status == 504 else "connect"
                        self.upstream_errors[reason] = self.upstream_errors.get(reason, 0) + 1
                if out:
                    rt = float(e["request_time"] or 0)
                    out.write(json.dumps({"method": e["method"], "path": e["path"], "status": status,
                                          "routing_key": e["routing_key"] or None,
                                          "destination": e["destination"] or None,
                                          "upstream": e["upstream"] or None,
                                          "duration_us": int(rt * 1_000_000)}) + "\n")
                    out.flush()

    def metrics(self) -> str:
        lines = []
        with self.lock:
            for route in ("baseline", "sandbox"):
                for cls in STATUS_CLASSES:
                    lines.append(f'devmesh_requests_total{{route="{route}",status="{cls}"}} '
                                 f'{self.requests.get((route, cls), 0)}')
            for reason, n in sorted(self.upstream_errors.items()) or [("connect", 0)]:
                lines.append(f'devmesh_upstream_errors_total{{reason="{reason}"}} {n}')
            lines += ["devmesh_downstream_connections 0", f"devmesh_route_table_version {self.version}",
                      f"devmesh_config_reloads_total {self.reloads}",
                      f"devmesh_config_reload_failures_total {self.reload_failures}"]
        return "\n".join(lines) + "\n"

    def routes(self) -> str:
        with self.lock:
            return json.dumps({"version": self.version, "services": self.model["services"]})

    def serve_admin(self) -> None:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802
                path = self.path.split("?")[0]
                if path == "/healthz":
                    self.reply(200, "ok\n", "text/plain")
                elif path == "/ready":
                    self.reply(503, "draining\n", "text/plain") if standin.draining else \
                        self.reply(200, "ready\n", "text/plain")
                elif path == "/routes":
                    self.reply(200, standin.routes(), "application/json")
                elif path == "/metrics":
                    self.reply(200, standin.metrics(), "text/plain; version=0.0.4")
                else:
                    self.reply(404, "devmesh: not found\n", "text/plain")

            def reply(self, status: int, body: str, ctype: str) -> None:
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        host, port = self.model["admin"].rsplit(":", 1)
        server = ThreadingHTTPServer((host, int(port)), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        print(f"devmesh: admin on {host}:{server.server_address[1]}", file=sys.stderr, flush=True)

    def run(self) -> int:
        signals: list[int] = []
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, lambda s, _f: signals.append(s))
        self.start_nginx()
        threading.Thread(target=self.tail_access_log, daemon=True).start()
        for p in self.ports:
            print(f"devmesh: listening on 127.0.0.1:{p}", file=sys.stderr, flush=True)
        if self.model["admin"]:
            self.serve_admin()
        if self.config_path:
            threading.Thread(target=self.watch_config, daemon=True).start()
        assert self.nginx is not None
        while self.nginx.poll() is None:
            time.sleep(0.05)
            while signals:
                sig = signals.pop(0)
                if sig == signal.SIGHUP:
                    self.reload("SIGHUP")
                else:
                    return self.drain(signals)
        print(f"devmesh: nginx exited with {self.nginx.returncode}", file=sys.stderr, flush=True)
        return 1

    def drain(self, signals: list[int]) -> int:
        """Graceful stop through nginx's SIGQUIT; the deadline or a second signal kills it."""
        assert self.nginx is not None
        self.draining = True
        self.nginx.send_signal(signal.SIGQUIT)
        deadline = time.monotonic() + self.model["drain_timeout"]
        while self.nginx.poll() is None and time.monotonic() < deadline:
            if any(s in (signal.SIGTERM, signal.SIGINT) for s in signals):
                break
            time.sleep(0.02)
        if self.nginx.poll() is None:
            os.killpg(self.nginx.pid, signal.SIGKILL)
            self.nginx.wait()
        self.stop_event.set()
        shutil.rmtree(self.prefix, ignore_errors=True)
        return 0


def die_with_parent() -> None:
    """PR_SET_PDEATHSIG: nginx's master gets SIGTERM if the stand-in is killed outright."""
    import ctypes
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def main() -> int:
    args = sys.argv[1:]
    if args[:1] == ["version"]:
        print("devmesh nginx stand-in")
        return 0
    if args[:1] == ["validate"]:
        try:
            model_from_yaml(args[2])
            return 0
        except (ConfigError, KeyError, TypeError, ValueError) as e:
            print(f"devmesh: {e}", file=sys.stderr)
            return 1
    if args[:1] != ["proxy"]:
        print("usage: devmesh proxy|validate|version", file=sys.stderr)
        return 1
    try:
        return StandIn(args[1:]).run()
    except ConfigError as e:
        print(f"devmesh: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
