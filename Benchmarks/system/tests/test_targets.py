"""Configs the harness writes: templates filled completely, routes rendered for each proxy."""

import os
import re
import subprocess
import tempfile
import unittest
from pathlib import Path

from devmesh_bench import targets
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
                      maxconn=5, admin_port=6, routes=" []")
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
                                      "keepalive 64;", "access_log off;"],
            "haproxy-http.cfg.tmpl": ["nbthread 1", "http-reuse always", "mode http"],
            "haproxy-tcp.cfg.tmpl": ["nbthread 1", "mode tcp"],
            "envoy.yaml.tmpl": ["generate_request_id: false", "dynamic_stats: false", "max_requests: 1000000000",
                                "max_pending_requests: 1000000000"],
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
            e = env(Path(tmp))
            for count in (0, 100):
                conf = targets.Devmesh()._write_config(e, 8080, targets.Routes.numbered(count))
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
                    self.assertIn("listen: [127.0.0.1:8080]", text)
                    self.assertIn("baseline: [127.0.0.1:9001]", text)
                    if count:
                        self.assertEqual(text.count("endpoints: [127.0.0.1:9002]"), count)
                    else:
                        self.assertIn("routes: []", text)

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
