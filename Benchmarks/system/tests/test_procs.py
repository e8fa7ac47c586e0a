"""Process supervision: groups are stopped whole, logs are read per start."""

import os
import tempfile
import time
import unittest
from pathlib import Path

from devmesh_bench import procfs
from devmesh_bench.procs import HarnessError, Supervisor, free_port, wait_log_line


class SupervisorTests(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.sup = Supervisor(Path(self.tmp.name))

    def tearDown(self):
        self.sup.stop_all()
        self.tmp.cleanup()

    def test_second_start_of_a_name_sees_only_its_own_output(self):
        # devmesh is started once per scenario under one log name; the port line of an earlier
        # start must never be taken for the current one.
        self.sup.run("proxy", ["sh", "-c", "echo 'devmesh: listening on 127.0.0.1:1111'"], timeout=10)
        child = self.sup.start("proxy", ["sh", "-c", "echo 'devmesh: listening on 127.0.0.1:2222'; sleep 30"])
        self.assertEqual(wait_log_line(child, "devmesh: listening on ", timeout=5), "127.0.0.1:2222")

    def test_stop_ends_the_whole_group(self):
        child = self.sup.start("tree", ["sh", "-c", "sleep 60 & sleep 60 & wait"])
        deadline = time.monotonic() + 5
        while len(procfs.process_tree(child.pid)) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        members = procfs.process_tree(child.pid)
        self.assertEqual(len(members), 3)
        self.sup.stop(child)
        time.sleep(0.1)
        self.assertEqual([pid for pid in members if _alive(pid)], [])
        self.assertIn(str(child.pid), (Path(self.tmp.name) / "pgids").read_text().split())

    def test_run_is_bounded(self):
        with self.assertRaises(HarnessError):
            self.sup.run("slow", ["sleep", "30"], timeout=0.5)
        self.assertEqual(self.sup.children, [])

    def test_log_line_wait_reports_an_early_exit(self):
        child = self.sup.start("dies", ["sh", "-c", "echo boom; exit 3"])
        with self.assertRaises(HarnessError) as caught:
            wait_log_line(child, "devmesh: listening on ", timeout=5)
        self.assertIn("boom", str(caught.exception))

    def test_free_ports_are_distinct(self):
        ports = [free_port() for _ in range(20)]
        self.assertEqual(len(set(ports)), 20)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


if __name__ == "__main__":
    unittest.main()
