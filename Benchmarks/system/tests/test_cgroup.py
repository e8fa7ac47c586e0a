"""CPU limits through cgroups: parsing, finding the controller, and a real quota on a busy loop."""

import subprocess
import tempfile
import unittest
from pathlib import Path

from devmesh_bench import cgroup


class ParseTests(unittest.TestCase):
    def test_v1_counts_nanoseconds(self):
        text = "nr_periods 31\nnr_throttled 30\nthrottled_time 2293987390\nnr_bursts 0\nburst_time 0\n"
        stat = cgroup.parse_cpu_stat(text, 1)
        self.assertEqual((stat.periods, stat.throttled), (31, 30))
        self.assertAlmostEqual(stat.throttled_ms, 2293.98739)

    def test_v2_counts_microseconds(self):
        text = ("usage_usec 100\nuser_usec 60\nsystem_usec 40\nnr_periods 10\nnr_throttled 5\n"
                "throttled_usec 1500\nnr_bursts 0\nburst_usec 0\n")
        stat = cgroup.parse_cpu_stat(text, 2)
        self.assertEqual((stat.periods, stat.throttled, stat.throttled_ms), (10, 5, 1.5))

    def test_share_of_a_window(self):
        before, after = cgroup.Throttling(10, 5, 1.0), cgroup.Throttling(60, 50, 9.0)
        self.assertEqual(after.since(before).share, 0.9)
        self.assertIsNone(cgroup.Throttling(0, 0, 0.0).share)


class ControllerTests(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.root = Path(self.tmp.name)

    def tearDown(self):
        self.tmp.cleanup()

    def test_v1_cpu_mount_is_found_also_when_combined_with_cpuacct(self):
        mounts = (f"cgroup /x/memory cgroup rw,memory 0 0\n"
                  f"cgroup {self.root} cgroup rw,nosuid,relatime,cpu,cpuacct 0 0\n")
        self.assertEqual(cgroup.find_cpu_controller(mounts), cgroup.CpuController(self.root, 1))

    def test_cpuacct_alone_is_not_the_cpu_controller(self):
        mounts = f"cgroup {self.root} cgroup rw,cpuacct 0 0\n"
        self.assertIsNone(cgroup.find_cpu_controller(mounts))

    def test_v2_only_when_it_offers_the_cpu_controller(self):
        mounts = f"cgroup2 {self.root} cgroup2 rw,nsdelegate 0 0\n"
        (self.root / "cgroup.controllers").write_text("hugetlb\n")
        self.assertIsNone(cgroup.find_cpu_controller(mounts))
        (self.root / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
        self.assertEqual(cgroup.find_cpu_controller(mounts), cgroup.CpuController(self.root, 2))

    def test_out_of_range_limit_is_refused(self):
        with self.assertRaises(ValueError):
            with cgroup.cpu_limited(0):
                pass


#: A child that burns CPU for `seconds` of wall time, then reports its cgroups and its CPU time.
BUSY = """import sys, time
end = time.time() + float(sys.argv[1])
while time.time() < end:
    pass
print(open('/proc/self/cgroup').read().replace(chr(10), ' '))
print(time.process_time())
"""


@unittest.skipIf(cgroup.unavailable_reason() is not None, f"cgroup CPU limits unavailable: {cgroup.unavailable_reason()}")
class RealLimitTests(unittest.TestCase):
    def test_a_busy_loop_gets_its_budget_and_no_more(self):
        # 100m with a 10 ms period: a process that would burn a whole core for 1 s gets ~0.1 s.
        with cgroup.cpu_limited(100, period_us=10_000) as limit:
            out = subprocess.run(limit.wrap_argv(["python3", "-c", BUSY, "1.0"]), capture_output=True, text=True,
                                 timeout=20, check=True).stdout.splitlines()
            throttling = limit.throttling()
            path = limit.path
        membership, cpu_seconds = out[0], float(out[1])
        self.assertIn(path.name, membership)
        self.assertGreater(throttling.throttled, 0)
        self.assertGreater(throttling.share, 0.5)
        self.assertLess(cpu_seconds, 0.25)          # 0.1 s of budget, with a margin for the start
        self.assertFalse(path.exists(), "the cgroup is removed afterwards")

    def test_a_process_left_inside_does_not_keep_the_group(self):
        with cgroup.cpu_limited(500) as limit:
            child = subprocess.Popen(limit.wrap_argv(["sh", "-c", "echo in; exec sleep 30"]), stdout=subprocess.PIPE,
                                     text=True)
            self.assertEqual(child.stdout.readline().strip(), "in")
            path = limit.path
            self.assertIn(path.name, Path(f"/proc/{child.pid}/cgroup").read_text())
        try:
            self.assertFalse(path.exists())
            self.assertNotIn(path.name, Path(f"/proc/{child.pid}/cgroup").read_text())
        finally:
            child.kill()
            child.wait()
            child.stdout.close()


if __name__ == "__main__":
    unittest.main()
