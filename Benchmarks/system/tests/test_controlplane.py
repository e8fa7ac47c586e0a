"""S11 pieces that need no devmesh: the keyed keep-alive probe, percentiles, the request body,
the report table, and who runs the scenario."""

import json
import socket
import threading
import unittest

from devmesh_bench import controlplane, report, scenarios
from devmesh_bench.procs import HarnessError
from devmesh_bench.targets import ALL_TARGETS


class CannedServer:
    """Answers each request head it reads with the next canned response, on one connection."""

    def __init__(self, responses: list[bytes]):
        self.responses = list(responses)
        self.heads: list[bytes] = []
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        conn, _ = self.listener.accept()
        buf = b""
        with conn:
            while self.responses:
                while b"\r\n\r\n" not in buf:
                    data = conn.recv(4096)
                    if not data:
                        return
                    buf += data
                head, _, buf = buf.partition(b"\r\n\r\n")
                self.heads.append(head)
                conn.sendall(self.responses.pop(0))

    def close(self) -> None:
        self.listener.close()


def response(body: bytes, status: int = 200) -> bytes:
    return b"HTTP/1.1 %d OK\r\nContent-Length: %d\r\n\r\n%s" % (status, len(body), body)


class KeyedProbeTests(unittest.TestCase):
    def test_asks_until_the_wanted_backend_answers_on_one_connection(self):
        server = CannedServer([response(b"backend: baseline ..."), response(b"backend: baseline"),
                               response(b"backend: sandbox ...")])
        probe = controlplane.KeyedProbe(server.port)
        try:
            elapsed = probe.wait_for("k1", "sandbox", since=0.0)
        finally:
            probe.close()
            server.close()
        self.assertGreater(elapsed, 0)
        self.assertEqual(len(server.heads), 3)
        self.assertTrue(all(b"baggage: sd-routing-key=k1" in head for head in server.heads))

    def test_an_error_status_or_a_stranger_fails(self):
        for canned, message in ((response(b"devmesh: no route", 502), "status 502"),
                                (response(b"who knows"), "neither backend")):
            with self.subTest(message=message):
                server = CannedServer([canned])
                probe = controlplane.KeyedProbe(server.port)
                try:
                    with self.assertRaisesRegex(HarnessError, message):
                        probe.wait_for("k", "sandbox", since=0.0)
                finally:
                    probe.close()
                    server.close()


class FigureTests(unittest.TestCase):
    def test_nearest_rank_percentiles(self):
        values = [float(v) for v in range(1, 101)]
        self.assertEqual(controlplane.percentile(values, 50), 50.0)
        self.assertEqual(controlplane.percentile(values, 99), 99.0)
        self.assertEqual(controlplane.percentile([3.0], 99), 3.0)
        self.assertIsNone(controlplane.percentile([], 50))

    def test_sandbox_body_forks_the_workload_to_the_sandbox_port(self):
        body = json.loads(controlplane.sandbox_body("sb-1", 4242))
        self.assertEqual(body["forks"][0]["forkOf"], {"kind": "Deployment", "namespace": "bench", "name": "web"})
        self.assertEqual(body["forks"][0]["ports"], [{"workloadPort": controlplane.WORKLOAD_PORT,
                                                      "destinations": [{"host": "127.0.0.1", "port": 4242}]}])
        self.assertEqual(controlplane.WORKLOAD, "Deployment/bench/web")

    def test_report_lists_the_figures_a_record_has(self):
        record = {"scenario": "S11", "target": "devmesh", "variant": "propagation (10,000 sandboxes)", "sort": [2],
                  "run": 1, "is_proxy": True, "valid": True, "flags": [], "errors": 0,
                  "extra": {"create_ms_p99_after_return": 1.25, "proxy_cpu_ms_per_change": None}}
        lines = report.scenario_table("S11", report.aggregate([record])["S11"], {})
        self.assertEqual(len(lines), 3, lines)
        self.assertIn("| propagation (10,000 sandboxes) | create → routed, p99 from the REST answer (ms) | 1.25 | ok |",
                      lines)

    def test_only_devmesh_runs_s11(self):
        s11 = scenarios.SCENARIOS_BY_ID["S11"]
        self.assertEqual({t.name for t in ALL_TARGETS if s11.applies(t)}, {"devmesh"})


if __name__ == "__main__":
    unittest.main()
