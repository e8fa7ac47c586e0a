"""nginx as a real-world upstream: a generated config in a tmp dir, run in the foreground.

nginx cannot bind port 0, so a free port is picked by binding a socket to port 0 and closing
it; when nginx then fails to bind (someone took the port in between) it is started again on a
new one. Its access log, one line per request with the connection number and the request's
number on that connection, is the ledger.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from . import bodies, net

LOG_FORMAT = ("'$connection $connection_requests $request_method \"$request_uri\" $status "
              "$body_bytes_sent $request_length \"$http_x_test_id\"'")
ATTEMPTS = 5


@dataclass
class NginxRequest:
    conn: int
    conn_requests: int
    method: str
    uri: str
    status: int
    body_bytes_sent: int
    request_length: int
    test_id: str


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if not found:
        raise AssertionError("nginx is not installed (scripts/setup.sh installs nginx-light)")
    return found


class NginxUpstream:
    """Serves `GET /name` (its name), and static files `/small.txt` and `/big.bin` (pattern bytes)."""

    def __init__(self, prefix: Path, name: str, big_size: int = 0):
        self.prefix = prefix
        self.name = name
        self.big_size = big_size
        self.proc: Optional[subprocess.Popen[bytes]] = None
        self.port = 0
        for sub in ("www", "logs", "tmp"):
            (prefix / sub).mkdir(parents=True, exist_ok=True)
        (prefix / "www" / "small.txt").write_bytes(bodies.pattern(1000))
        if big_size:
            with open(prefix / "www" / "big.bin", "wb") as f:
                for piece in bodies.pattern_chunks(big_size, 1024 * 1024):
                    f.write(piece)

    @property
    def address(self) -> str:
        return f"{net.LOOPBACK}:{self.port}"

    def _config(self, port: int) -> str:
        p = self.prefix
        return f"""
daemon off;
master_process off;
worker_processes 1;
pid {p}/nginx.pid;
error_log {p}/logs/error.log warn;
events {{ worker_connections 1024; }}
http {{
    log_format ledger {LOG_FORMAT};
    access_log {p}/logs/access.log ledger;
    client_body_temp_path {p}/tmp/body;
    proxy_temp_path {p}/tmp/proxy;
    fastcgi_temp_path {p}/tmp/fastcgi;
    uwsgi_temp_path {p}/tmp/uwsgi;
    scgi_temp_path {p}/tmp/scgi;
    keepalive_requests 100000;
    keepalive_timeout 60s;
    sendfile on;
    server {{
        listen {net.LOOPBACK}:{port};
        root {p}/www;
        add_header x-upstream {self.name} always;
        location = /name {{ default_type text/plain; return 200 "{self.name}\\n"; }}
    }}
}}
"""

    def start(self) -> "NginxUpstream":
        conf = self.prefix / "nginx.conf"
        last_error = ""
        for _ in range(ATTEMPTS):
            self.port = net.free_port()
            conf.write_text(self._config(self.port))
            self.proc = subprocess.Popen([nginx_binary(), "-p", str(self.prefix), "-c", str(conf),
                                          "-e", str(self.prefix / "logs" / "error.log")],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                if net.accepts_connections(self.port):
                    return self
                time.sleep(0.02)
            last_error = self.proc.stderr.read().decode() if self.proc.poll() is not None else "no listener"
            self.stop()
            if "Address already in use" not in last_error:
                break
        raise AssertionError(f"nginx upstream did not start: {last_error}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def ledger(self) -> list[NginxRequest]:
        path = self.prefix / "logs" / "access.log"
        if not path.exists():
            return []
        out = []
        for line in path.read_text().splitlines():
            conn, reqs, method, uri, status, sent, length, test_id = line.split(" ", 7)
            out.append(NginxRequest(int(conn), int(reqs), method, uri.strip('"'), int(status), int(sent),
                                    int(length), test_id.strip('"')))
        return out

    def wait_for(self, n: int, timeout: float = 5.0) -> list[NginxRequest]:
        def enough() -> Optional[list[NginxRequest]]:
            entries = self.ledger()
            return entries if len(entries) >= n else None
        return net.wait_until(enough, timeout, f"{n} requests in the nginx upstream's access log")
