#!/usr/bin/env python3
"""A stand-in for the devmesh binary, for testing the harness before devmesh runs.

It speaks the part of devmesh's command-line and runtime contract the harness relies on
(`proxy --listen/--baseline/--route/--config/--admin/--workers/--access-log`, the stderr lines
`devmesh: listening on ...` and `devmesh: admin on ...`, SIGHUP reloads of the config file,
admin `/metrics` with the reload counters, SIGTERM) and forwards the traffic through an nginx
child. Its figures are nginx's plus a Python process: never publish them as devmesh's.

Use: DEVMESH_BIN=Benchmarks/system/tests/fake_devmesh.py scripts/bench.sh --only S9,S10 --proxies devmesh
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parse_config(text: str) -> tuple[list[str], list[str], dict[str, list[str]]]:
    """listeners, baseline endpoints and key -> endpoints from the harness's own YAML layout
    (configs/devmesh.yaml.tmpl); enough for a test double, not a YAML parser."""
    listeners = re.findall(r"^listen:\s*\[([^\]]*)\]", text, re.M)
    baseline = re.findall(r"^\s*baseline:\s*\[([^\]]*)\]", text, re.M)
    routes = dict(re.findall(r"-\s*key:\s*(\S+)\s*\n\s*endpoints:\s*\[([^\]]*)\]", text))
    split = lambda s: [x.strip() for x in s.split(",") if x.strip()]  # noqa: E731
    return (split(listeners[0]) if listeners else [], split(baseline[0]) if baseline else [],
            {k: split(v) for k, v in routes.items()})


def nginx_conf(workdir: Path, listen: str, baseline: list[str], routes: dict[str, list[str]]) -> str:
    upstreams = [("baseline", baseline)]
    sandbox_of = {}
    for i, (key, endpoints) in enumerate(sorted(routes.items())):
        name = "sb_" + "_".join(e.replace(".", "_").replace(":", "_") for e in endpoints)
        if name not in dict(upstreams):
            upstreams.append((name, endpoints))
        sandbox_of[key] = name
    blocks = "\n".join(
        f"upstream {name} {{ {' '.join(f'server {e};' for e in eps)} keepalive 64; }}" for name, eps in upstreams)
    entries = "\n".join(f'"sd-routing-key={k}" {v};' for k, v in sandbox_of.items())
    return f"""daemon off; worker_processes 1; pid {workdir}/nginx.pid; error_log {workdir}/error.log crit;
events {{ worker_connections 19000; }}
http {{ access_log off; keepalive_requests 100000000; keepalive_timeout 300s; client_max_body_size 0;
  proxy_http_version 1.1; proxy_set_header Connection ""; proxy_request_buffering off; proxy_max_temp_file_size 0;
  client_body_temp_path {workdir}/cb; proxy_temp_path {workdir}/p; fastcgi_temp_path {workdir}/f;
  uwsgi_temp_path {workdir}/u; scgi_temp_path {workdir}/s; map_hash_max_size 262144; map_hash_bucket_size 128;
  {blocks}
  map $http_baggage $dest {{ default baseline; {entries} }}
  server {{ listen {listen}; location / {{ proxy_pass http://$dest; }} }}
}}
"""


class State:
    reloads = 0
    reload_failures = 0
    version = 1


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "version":
        print("devmesh fake (harness test double)")
        return 0
    p = argparse.ArgumentParser()
    p.add_argument("command", choices=["proxy"])
    p.add_argument("--config")
    p.add_argument("--listen", action="append", default=[])
    p.add_argument("--baseline")
    p.add_argument("--route", action="append", default=[])
    p.add_argument("--workers")
    p.add_argument("--admin")
    p.add_argument("--access-log")
    args = p.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="fake-devmesh-"))
    if args.config:
        listeners, baseline, routes = parse_config(Path(args.config).read_text())
    else:
        listeners, baseline = args.listen, (args.baseline or "").split(",")
        routes = {k: v.split(",") for k, v in (r.split("=", 1) for r in args.route)}
    listen = listeners[0]
    if listen.endswith(":0"):
        listen = f"127.0.0.1:{free_port()}"
    conf = workdir / "nginx.conf"
    conf.write_text(nginx_conf(workdir, listen, baseline, routes))
    nginx = subprocess.Popen(["nginx", "-p", str(workdir), "-c", str(conf), "-e", str(workdir / "error.log")])

    def reload(_signum, _frame):
        try:
            _, base, rts = parse_config(Path(args.config).read_text())
            conf.write_text(nginx_conf(workdir, listen, base, rts))
            nginx.send_signal(signal.SIGHUP)
            State.reloads += 1
            State.version += 1
        except Exception:  # noqa: BLE001
            State.reload_failures += 1

    def stop(_signum, _frame):
        nginx.terminate()
        nginx.wait(timeout=10)
        os._exit(0)

    signal.signal(signal.SIGHUP, reload)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    host, port = listen.rsplit(":", 1)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection((host, int(port)), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    print(f"devmesh: listening on {listen}", file=sys.stderr, flush=True)

    class Admin(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            if self.path == "/metrics":
                body = (f"devmesh_config_reloads_total {State.reloads}\n"
                        f"devmesh_config_reload_failures_total {State.reload_failures}\n"
                        f"devmesh_route_table_version {State.version}\n").encode()
            else:
                body = b"ok\n"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    admin_host, admin_port = (args.admin or "127.0.0.1:0").rsplit(":", 1)
    server = ThreadingHTTPServer((admin_host, int(admin_port)), Admin)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"devmesh: admin on {admin_host}:{server.server_address[1]}", file=sys.stderr, flush=True)
    nginx.wait()
    return 1


if __name__ == "__main__":
    sys.exit(main())
