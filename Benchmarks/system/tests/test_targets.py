"""Configs the harness writes: templates filled completely, routes rendered for each proxy."""

import os
import re
import subprocess
import tempfile
import unittest
from pathlib import Path

from devmesh_bench import backends, grpcwire, targets
from devmesh_bench.procs import Supervisor
from devmesh_bench.scenarios import S10_CHURN_KEYS, S10_STABLE_KEYS, s10_routes


REPO = Path(__file__).resolve().parents[3]


def env(tmp: Path) -> targets.Environment:
    e = targets.Environment(run_dir=tmp, supervisor=Supervisor(tmp), proxy_cpus=None, nofile=20000)
    e.backend_port, e.sandbox_port = 9001, 9002
    return e


class TemplateTests(unittest.TestCase):
    def test_every_template_renders_without_leftovers(self):
        values = dict(dir="/d", nofile=1, worker_connections=1, port=1, sandbox_port=2, sink_port=3, data_dir="/x",
                      baseline_body="b", sandbox_body="s", backend_port=4, route_map="", upstream="baseline",
                      maxconn=5, admin_port=6, routes=" []", h2_port=7, h2_streams=8, h2_stream_window=9,
                      h2_connection_window=10, grpc_bodies="", grpc_locations="", server_proto="",
                      streaming_options="", upstream_keepalive=11, grpc_read_timeout="1s", upstream_pass="return 204",
                      upstream_protocol="", route_timeout="1s", protocol="auto", limits="")
        for path in sorted(targets.CONFIG_DIR.glob("*.tmpl")):
            with self.subTest(template=path.name):
                text = targets.render(path.name, **values)
                self.assertNotIn("{{", text)

    def test_missing_value_is_an_error(self):
        with self.assertRaises(KeyError):
            targets.render("haproxy-tcp.cfg.tmpl", port=1)

    def test_fairness_settings_are_in_the_configs(self):
        expectations = {
            "nginx-proxy.conf.tmpl": ["worker_processes 1;", "proxy_http_version 1.1;", 'proxy_set_header Connection "";',
                                      "keepalive 1024;", "access_log off;"],
            "haproxy-http.cfg.tmpl": ["nbthread 1", "http-reuse always", "mode http"],
            "haproxy-tcp.cfg.tmpl": ["nbthread 1", "mode tcp"],
            "envoy.yaml.tmpl": ["generate_request_id: false", "dynamic_stats: false", "max_requests: 1000000000",
                                "max_pending_requests: 1000000000"],
            "envoy-h2.yaml.tmpl": ["generate_request_id: false", "dynamic_stats: false", "codec_type: HTTP2",
                                   "max_requests: 1000000000", "max_pending_requests: 1000000000",
                                   "max_concurrent_streams: {{h2_streams}}",
                                   "initial_stream_window_size: {{h2_stream_window}}",
                                   "initial_connection_window_size: {{h2_connection_window}}"],
            "haproxy-h2.cfg.tmpl": ["nbthread 1", "http-reuse always", "mode http", "proto h2",
                                    "tune.h2.max-concurrent-streams {{h2_streams}}",
                                    "tune.h2.initial-window-size {{h2_stream_window}}"],
            "nginx-h2-proxy.conf.tmpl": ["worker_processes 1;", "access_log off;", "http2 backlog",
                                         "http2_max_concurrent_streams {{h2_streams}};",
                                         "http2_body_preread_size {{h2_stream_window}};",
                                         "proxy_http_version 1.1;", 'proxy_set_header Connection "";'],
            "nginx-backend.conf.tmpl": ["http2 backlog", "http2_max_concurrent_streams {{h2_streams}};",
                                        "http2_body_preread_size {{h2_stream_window}};", "access_log off;"],
        }
        for name, needles in expectations.items():
            text = (targets.CONFIG_DIR / name).read_text()
            for needle in needles:
                with self.subTest(template=name, setting=needle):
                    self.assertIn(needle, text)
        self.assertNotRegex((targets.CONFIG_DIR / "haproxy-http.cfg.tmpl").read_text(), r"^\s*log\s", "no logging")


class RouteConfigTests(unittest.TestCase):
    def test_devmesh_accepts_the_config_the_harness_writes(self):
        """The template follows devmesh's schema: `devmesh validate` on what the harness writes. A
        renamed key would otherwise only show as devmesh "unavailable" halfway through a full run."""
        binary = os.environ.get("DEVMESH_BIN") or str(REPO / ".build" / "release" / "devmesh")
        if not Path(binary).exists():
            self.skipTest(f"no devmesh binary at {binary} (bench-smoke.sh sets DEVMESH_BIN)")
        with tempfile.TemporaryDirectory() as tmp:
            e = h2_env(Path(tmp))
            # Every hop devmesh runs with a config file: the HTTP/2 ones add `protocol` and `limits`.
            cases = [(targets.H1_TO_H1, 0), (targets.H1_TO_H1, 100), (targets.H2_TO_H2, 0),
                     (targets.H2_TO_H1, 0), (targets.GRPC_UNARY, 0), (targets.GRPC_STREAM, 0)]
            for hop, count in cases:
                with self.subTest(hop=hop, routes=count):
                    conf = targets.Devmesh()._write_config(e, 8080, targets.Routes.numbered(count), hop)
                    result = subprocess.run([binary, "validate", "--config", str(conf)], capture_output=True, text=True)
                    self.assertEqual(result.returncode, 0, result.stderr)

    def test_devmesh_yaml_lists_every_key(self):
        with tempfile.TemporaryDirectory() as tmp:
            e = env(Path(tmp))
            for count in (0, 1, 100):
                with self.subTest(count=count):
                    conf = targets.Devmesh()._write_config(e, 8080, targets.Routes.numbered(count))
                    text = conf.read_text()
                    self.assertEqual(len(re.findall(r"- key: k\d+", text)), count)
                    # `listen`, the key devmesh's config schema has (a misspelt key is an error there).
                    self.assertIn("listen: [127.0.0.1:8080]", text)
                    self.assertIn("protocol: auto", text)
                    self.assertNotIn("limits:", text)
                    self.assertIn("baseline: [127.0.0.1:9001]", text)
                    if count:
                        self.assertEqual(text.count("endpoints: [127.0.0.1:9002]"), count)
                    else:
                        self.assertIn("routes: []", text)

    def test_the_stand_in_reads_what_the_harness_writes(self):
        from tests.fake_devmesh import parse_config
        with tempfile.TemporaryDirectory() as tmp:
            text = targets.Devmesh()._write_config(env(Path(tmp)), 8080, targets.Routes.numbered(2)).read_text()
        self.assertEqual(parse_config(text), (["127.0.0.1:8080"], ["127.0.0.1:9001"],
                                              {"k1": ["127.0.0.1:9002"], "k2": ["127.0.0.1:9002"]}))

    def test_nginx_map_routes_keys_to_the_sandbox(self):
        with tempfile.TemporaryDirectory() as tmp:
            conf = targets.Nginx()._write_config(env(Path(tmp)), 8080, targets.Routes.numbered(3)).read_text()
            self.assertEqual(re.findall(r'"sd-routing-key=(k\d)" sandbox;', conf), ["k1", "k2", "k3"])
            self.assertIn("proxy_pass http://$devmesh_bench_upstream;", conf)
            plain = targets.Nginx()._write_config(env(Path(tmp)), 8080, None).read_text()
            self.assertIn("proxy_pass http://baseline;", plain)
            self.assertNotIn("map $http_baggage", plain)

    def test_s10_pushes_change_half_the_table_and_keep_the_load_key(self):
        first, second = s10_routes(1), s10_routes(2)
        self.assertIn("k1", first.keys)
        self.assertIn("k1", second.keys)
        self.assertEqual(len(set(first.keys) - set(second.keys)), S10_CHURN_KEYS)
        self.assertEqual(len(first.keys), S10_STABLE_KEYS + S10_CHURN_KEYS)


def h2_env(tmp: Path) -> targets.Environment:
    e = env(tmp)
    e.h2_backend_port, e.grpc_echo_port = 9003, 9004
    return e


class HopConfigTests(unittest.TestCase):
    """Each proxy's HTTP/2 config, rendered for each hop it supports: the upstream protocol and the
    same stream limits and windows everywhere."""

    def test_upstream_port_follows_the_hop(self):
        with tempfile.TemporaryDirectory() as tmp:
            e = h2_env(Path(tmp))
            expected = {targets.H1_TO_H1: 9001, targets.H2_TO_H1: 9001, targets.H2_TO_H2: 9003,
                        targets.GRPC_UNARY: 9003, targets.GRPC_STREAM: 9004}
            for hop, port in expected.items():
                with self.subTest(hop=hop):
                    self.assertEqual(e.upstream_port(hop), port)

    def test_haproxy(self):
        for hop, proto in ((targets.H2_TO_H2, " proto h2"), (targets.H2_TO_H1, ""), (targets.GRPC_STREAM, " proto h2")):
            with self.subTest(hop=hop):
                text = targets.render("haproxy-h2.cfg.tmpl", port=1, backend_port=2, maxconn=3,
                                      **targets.haproxy_h2_values(hop))
                self.assertIn(f"server backend 127.0.0.1:2{proto}\n", text)
                self.assertIn("bind 127.0.0.1:1 proto h2", text)
                self.assertIn("tune.h2.max-concurrent-streams 100", text)
                self.assertIn("tune.h2.initial-window-size 65536", text)
                self.assertEqual("option http-no-delay" in text, hop.streaming)

    def test_envoy(self):
        for hop in (targets.H2_TO_H2, targets.H2_TO_H1, targets.GRPC_STREAM):
            with self.subTest(hop=hop):
                text = targets.render("envoy-h2.yaml.tmpl", port=1, admin_port=2, backend_port=3,
                                      **targets.envoy_h2_values(hop))
                h2_upstream = hop.upstream_protocol == "h2c"
                # The listener always, the cluster only for an h2c upstream.
                self.assertEqual(text.count("max_concurrent_streams: 100"), 2 if h2_upstream else 1)
                self.assertEqual(text.count("initial_stream_window_size: 65536"), 2 if h2_upstream else 1)
                self.assertEqual(text.count("initial_connection_window_size: 1048576"), 2 if h2_upstream else 1)
                self.assertEqual("http_protocol_options: {}" in text, not h2_upstream)
                self.assertIn(f"timeout: {'0s' if hop.streaming else '15s'}", text)

    def test_nginx(self):
        with tempfile.TemporaryDirectory() as tmp:
            e = h2_env(Path(tmp))
            for hop, pass_line, port in ((targets.H2_TO_H1, "proxy_pass http://upstream;", 9001),
                                         (targets.GRPC_UNARY, "grpc_pass grpc://upstream;", 9003),
                                         (targets.GRPC_STREAM, "grpc_pass grpc://upstream;", 9004)):
                with self.subTest(hop=hop):
                    conf = targets.Nginx()._write_h2_config(e, 8080, hop).read_text()
                    self.assertIn(f"location / {{ {pass_line} }}", conf)
                    self.assertIn(f"server 127.0.0.1:{port};", conf)
                    self.assertIn("listen 127.0.0.1:8080 http2", conf)
                    self.assertIn("http2_max_concurrent_streams 100;", conf)
                    self.assertIn("http2_body_preread_size 65536;", conf)

    def test_nghttpx(self):
        for hop, proto in ((targets.H2_TO_H2, "h2"), (targets.H2_TO_H1, "http/1.1")):
            with self.subTest(hop=hop):
                argv = targets.nghttpx_argv(1, 2, hop, conf=Path("/c"), errorlog=Path("/e"), nofile=100)
                self.assertIn("--frontend=127.0.0.1,1;no-tls", argv)
                self.assertIn(f"--backend=127.0.0.1,2;;proto={proto}", argv)
                for flag in ("--workers=1", "--frontend-http2-max-concurrent-streams=100",
                             "--frontend-http2-window-size=65536", "--backend-http2-window-size=65536",
                             "--frontend-http2-connection-window-size=1048576",
                             "--backend-http2-connection-window-size=1048576", "--no-via", "--conf=/c"):
                    self.assertIn(flag, argv)
                self.assertFalse(any(a.startswith("--accesslog") for a in argv))

    def test_devmesh(self):
        with tempfile.TemporaryDirectory() as tmp:
            e = h2_env(Path(tmp))
            for hop, protocol, port, idle in ((targets.H2_TO_H2, "auto", 9003, False),
                                              (targets.H2_TO_H1, "http1", 9001, True),
                                              (targets.GRPC_STREAM, "auto", 9004, False)):
                with self.subTest(hop=hop):
                    text = targets.Devmesh()._write_config(e, 8080, targets.Routes(()), hop).read_text()
                    self.assertIn(f"protocol: {protocol}\n", text)
                    self.assertIn(f"baseline: [127.0.0.1:{port}]", text)
                    self.assertEqual("upstream_max_idle_per_endpoint: 1024" in text, idle)

    def test_who_supports_which_hop(self):
        rows = {  # target -> supported hops among H2→H2, H2→H1, gRPC unary, gRPC stream
            "direct": (True, False, True, True), "l4": (True, False, True, True),
            "nginx": (False, True, True, True), "haproxy": (True, True, True, True),
            "envoy": (True, True, True, True), "nghttpx": (True, True, True, True),
            "devmesh": (True, True, True, True)}
        hops = (targets.H2_TO_H2, targets.H2_TO_H1, targets.GRPC_UNARY, targets.GRPC_STREAM)
        for name, supported in rows.items():
            target = targets.TARGETS_BY_NAME[name]
            for hop, expected in zip(hops, supported):
                with self.subTest(target=name, hop=hop):
                    self.assertEqual(target.unsupported(hop) is None, expected, target.unsupported(hop))
            with self.subTest(target=name, hop="h1"):
                self.assertEqual(target.unsupported(targets.H1_TO_H1) is None, name != "nghttpx")


class BackendConfigTests(unittest.TestCase):
    def test_grpc_bodies_survive_the_config(self):
        """The raw bytes nginx will return, read back out of the rendered config, are the framed
        message h2load and grpcio expect, for both sizes."""
        with tempfile.TemporaryDirectory() as tmp:
            e = h2_env(Path(tmp))
            conf = backends.render_backend_config(e, Path(tmp), Path(tmp) / "data")
            self.assertNotIn(b"{{", conf)
            self.assertIn(b"listen 127.0.0.1:9003 http2", conf)
            for size in (100, 4096):
                with self.subTest(size=size):
                    values = re.findall(rb'map "" \$grpc_body_%d_(\d+) \{ default "(.*?)"; \}\n' % size, conf, re.S)
                    self.assertTrue(values)
                    self.assertTrue(all(len(v) <= backends.NGINX_TOKEN_CHUNK for _, v in values))
                    body = b"".join(v for _, v in sorted(values, key=lambda kv: int(kv[0])))
                    self.assertEqual(body, grpcwire.unary_body(size))
                    self.assertEqual(grpcwire.unframe(body), [grpcwire.payload(size)])
                    names = "".join(f"$grpc_body_{size}_{i}" for i in range(len(values)))
                    answer = re.search(rb"location @grpc_answer_%d \{(.*?)\}" % size, conf, re.S).group(1)
                    self.assertIn(f'return 200 "{names}";'.encode(), answer)
                    self.assertIn(b"default_type application/grpc;", answer)
                    self.assertIn(b"add_trailer grpc-status 0 always;", answer)
                    # The call is answered only after its body was read (mirror_request_body),
                    # by the static module's 405 for a POST to an existing empty file.
                    call = re.search(rb"location = /bench.Bench/Unary%d \{(.*?)\}" % size, conf, re.S).group(1)
                    self.assertIn(b"mirror_request_body on;", call)
                    self.assertIn(b"error_page 405 = @grpc_answer_%d;" % size, call)
                    self.assertNotIn(b"return", call)
                    root = Path(re.search(rb"root (\S+);", call).group(1).decode())
                    self.assertTrue((root / f"bench.Bench/Unary{size}").is_file())


class SmallRulesTests(unittest.TestCase):
    def test_padded_body_size_and_label(self):
        for label in ("baseline", "sandbox"):
            body = targets.padded_body(label)
            self.assertEqual(len(body.encode()), 100)
            self.assertIn(label, body)
            self.assertNotIn('"', body)

    def test_haproxy_maxconn_fits_the_fd_limit(self):
        for nofile in (1024, 20000, 1048576):
            with self.subTest(nofile=nofile):
                self.assertLessEqual(2 * targets.haproxy_maxconn(nofile) + 300, nofile)


if __name__ == "__main__":
    unittest.main()
