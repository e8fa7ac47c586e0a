"""/proc parsing, and CPU/memory sampling of a real child process tree."""

import os
import subprocess
import sys
import time
import unittest

from devmesh_bench import procfs


class StatParsingTests(unittest.TestCase):
    def test_command_with_spaces_and_parens(self):
        # Fields 14 and 15 (utime, stime) counted after the last ')', whatever the name holds.
        line = "4242 (nginx: worker) (x)) S 4241 4241 4241 0 -1 4194624 150 0 0 0 17 5 0 0 20 0 1 0 100 0 0"
        self.assertEqual(procfs.parse_stat_times(line), (4241, 17, 5))

    def test_status_value(self):
        text = "Name:\tnginx\nVmHWM:\t   20480 kB\nVmRSS:\t   19000 kB\n"
        self.assertEqual(procfs.parse_status_kb(text, "VmRSS"), 19000)
        self.assertEqual(procfs.parse_status_kb(text, "VmHWM"), 20480)
        self.assertIsNone(procfs.parse_status_kb(text, "VmSwap"))


class LiveTreeTests(unittest.TestCase):
    def test_tree_cpu_and_memory_include_children(self):
        # A parent that spins a child for ~0.3 s of CPU, then both sleep.
        script = ("import os,time,sys\n"
                  "if os.fork()==0:\n"
                  "    t=time.process_time()\n"
                  "    while time.process_time()-t<0.3: pass\n"
                  "    time.sleep(30); sys.exit()\n"
                  "time.sleep(30)\n")
        parent = subprocess.Popen([sys.executable, "-c", script])
        try:
            deadline = time.monotonic() + 5
            while len(procfs.process_tree(parent.pid)) < 2 and time.monotonic() < deadline:
                time.sleep(0.02)
            before = procfs.cpu_sample(parent.pid)
            self.assertEqual(len(before.pids), 2)
            time.sleep(1.0)
            after = procfs.cpu_sample(parent.pid)
            used_s = (after.ticks - before.ticks) / procfs.CLOCK_TICKS_PER_SECOND
            self.assertGreater(used_s, 0.1)
            self.assertAlmostEqual(procfs.cpu_us_per_request(before, after, 1000), used_s * 1e6 / 1000)
            self.assertGreater(procfs.memory_kb(parent.pid)["rss_kb"], 1000)
        finally:
            for pid in procfs.process_tree(parent.pid):
                os.kill(pid, 9)
            parent.wait()

    def test_system_time_is_told_apart_from_user_time(self):
        # One child copies from /dev/zero (kernel work), the other spins in Python (user work);
        # each stops after 0.3 s of its own CPU and then sleeps, so the samples are stable.
        kernel = ("import os,time\n"
                  "fd=os.open('/dev/zero',os.O_RDONLY)\n"
                  "t=time.process_time()\n"
                  "while time.process_time()-t<0.3: os.read(fd,1<<20)\n"
                  "print('done',flush=True); time.sleep(30)\n")
        # (process_time itself is a syscall, so the spinner asks it only every 100,000 additions.)
        user = ("import time\n"
                "t=time.process_time()\n"
                "while time.process_time()-t<0.3: sum(range(100000))\n"
                "print('done',flush=True); time.sleep(30)\n")
        shares = {}
        for name, script in (("kernel", kernel), ("user", user)):
            child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
            try:
                self.assertEqual(child.stdout.readline().strip(), "done")
                start = procfs.CpuSample(0, (child.pid,), 0)
                end = procfs.cpu_sample(child.pid)
                total = procfs.cpu_us_per_request(start, end, 1)
                shares[name] = procfs.system_us_per_request(start, end, 1) / total
            finally:
                child.kill()
                child.wait()
        self.assertGreater(shares["kernel"], 0.5)
        self.assertLess(shares["user"], 0.5)

    def test_cpu_is_unknown_when_processes_changed(self):
        a, b = procfs.CpuSample(100, (1, 2)), procfs.CpuSample(200, (1, 3))
        self.assertIsNone(procfs.cpu_us_per_request(a, b, 10))
        self.assertIsNone(procfs.cpu_us_per_request(a, a, 0))


if __name__ == "__main__":
    unittest.main()
