"""nginx as an h2c upstream (nginx 1.22: `listen ... http2` without TLS serves HTTP/2 with prior
knowledge only). The same files and `/name` location as NginxUpstream; a second access log
records the protocol of each request, so a test can prove which protocol reached nginx."""

from __future__ import annotations

from pathlib import Path

from . import net
from .nginx import NginxUpstream


class NginxH2Upstream(NginxUpstream):
    def _config(self, port: int) -> str:
        conf = super()._config(port)
        listen = f"listen {net.LOOPBACK}:{port};"
        assert listen in conf
        protocol_log = (f"log_format protocols '$server_protocol $request_method $request_uri $status';\n"
                        f"    access_log {self.prefix}/logs/protocols.log protocols;\n"
                        f"    http2_max_concurrent_streams 128;\n")
        conf = conf.replace("    server {", "    " + protocol_log + "    server {", 1)
        return conf.replace(listen, f"listen {net.LOOPBACK}:{port} http2;")

    def protocols(self) -> list[str]:
        """The protocol of every request nginx served (e.g. "HTTP/2.0"), in order."""
        path = Path(self.prefix) / "logs" / "protocols.log"
        return [line.split(" ", 1)[0] for line in path.read_text().splitlines()] if path.exists() else []
