"""Parsers of the load generators' and strace's output, on text the real tools printed here."""

import unittest

from devmesh_bench import loadgen

H2LOAD_OK = """finished in 2.00s, 4984.00 req/s, 1.04MB/s
requests: 9968 total, 9984 started, 9968 done, 9968 succeeded, 0 failed, 0 errored, 0 timeout
status codes: 9968 2xx, 0 3xx, 0 4xx, 0 5xx
traffic: 2.07MB (2173024) total, 807.95KB (827344) headers (space savings 0.00%), 973.44KB (996800) data
"""
# h2load 1.52 against a location answering 404: every request "failed", none "errored".
H2LOAD_404 = """finished in 35.20ms, 2840.91 req/s, 500.00KB/s
requests: 100 total, 100 started, 100 done, 0 succeeded, 100 failed, 0 errored, 0 timeout
status codes: 0 2xx, 0 3xx, 100 4xx, 0 5xx
"""
# ... and against a closed port: "failed" counts the connection errors too.
H2LOAD_REFUSED = """finished in 302us, 0.00 req/s, 0B/s
requests: 100 total, 0 started, 0 done, 0 succeeded, 100 failed, 100 errored, 0 timeout
status codes: 0 2xx, 0 3xx, 0 4xx, 0 5xx
"""
WRK_OK = """Running 2s test @ http://127.0.0.1:46457/
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   723.32us  433.56us   8.41ms   97.07%
    Req/Sec    79.90k     5.01k   83.95k    90.00%
  158995 requests in 2.00s, 37.76MB read
Requests/sec:  79423.91
Transfer/sec:     18.86MB
"""
WRK_ERRORS = """Running 30s test @ http://127.0.0.1:8080/
  1 threads and 32 connections
  12000 requests in 1.00m, 1.2MB read
  Socket errors: connect 3, read 12, write 1, timeout 4
  Non-2xx or 3xx responses: 7
Requests/sec:    200.00
Transfer/sec:     20.00KB
"""
STRACE = """% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ----------------
 67.70    2.483478        1843      1347           epoll_wait
 17.71    0.649625      108270         6         4 futex
  5.39    0.197729           9     20016     10000 readv
  4.01    0.147195          14     10000           sendto
  0.01    0.000279           8        32           epoll_ctl
  0.00    0.000103           6        16           setsockopt
------ ----------- ----------- --------- --------- ----------------
100.00    3.668542         116     31417     10004 total
"""


class H2loadTests(unittest.TestCase):
    def test_summary_fields(self):
        r = loadgen.parse_h2load(H2LOAD_OK)
        self.assertEqual((r.requests, r.succeeded_2xx, r.errors), (9968, 9968, 0))
        self.assertAlmostEqual(r.rps, 4984.0)
        self.assertAlmostEqual(r.seconds, 2.0)

    def test_error_kinds_are_not_double_counted(self):
        cases = [(H2LOAD_404, 100, 0), (H2LOAD_REFUSED, 0, 100)]
        for text, non_2xx, socket in cases:
            with self.subTest(text=text.splitlines()[1]):
                r = loadgen.parse_h2load(text)
                self.assertEqual((r.non_2xx, r.socket_errors, r.errors), (non_2xx, socket, non_2xx + socket))

    def test_millisecond_duration(self):
        self.assertAlmostEqual(loadgen.parse_h2load(H2LOAD_404).seconds, 0.0352)

    def test_missing_summary_is_an_error(self):
        with self.assertRaises(ValueError):
            loadgen.parse_h2load("starting benchmark...\n")

    def test_rate_is_split_per_client(self):
        argv = loadgen.h2load_argv("http://x/", clients=16, rps_total=1000, duration_s=3, log_file="l")
        self.assertIn("--rps=62.5", argv)
        self.assertIn("-m1", argv)
        self.assertIn("-D3", argv)
        self.assertEqual(argv[-1], "http://x/")


class WrkTests(unittest.TestCase):
    def test_clean_run(self):
        r = loadgen.parse_wrk(WRK_OK)
        self.assertEqual((r.requests, r.errors), (158995, 0))
        self.assertAlmostEqual(r.rps, 79423.91)

    def test_errors_and_minutes(self):
        r = loadgen.parse_wrk(WRK_ERRORS)
        self.assertEqual((r.socket_errors, r.non_2xx, r.errors), (20, 7, 27))
        self.assertAlmostEqual(r.seconds, 60.0)

    def test_no_summary(self):
        with self.assertRaises(ValueError):
            loadgen.parse_wrk("unable to connect to 127.0.0.1:1 Connection refused\n")


class StraceTests(unittest.TestCase):
    def test_counts_skip_total_line(self):
        counts = loadgen.parse_strace_counts(STRACE)
        self.assertEqual(counts["readv"], 20016)
        self.assertEqual(counts["futex"], 6)
        self.assertNotIn("total", counts)
        self.assertEqual(sum(counts.values()), 31417)

    def test_per_request_split(self):
        per = loadgen.syscalls_per_request(loadgen.parse_strace_counts(STRACE), 10000)
        self.assertAlmostEqual(per["io"], (20016 + 10000) / 10000)
        self.assertAlmostEqual(per["poll"], (1347 + 32) / 10000)
        self.assertAlmostEqual(per["total"], 31417 / 10000)
        self.assertAlmostEqual(per["total"], per["io"] + per["poll"] + per["other"])
        self.assertEqual(list(per["top"])[0], "readv")


#: `perf stat -x, -o FILE -e ... -p PID -- h2load ...` as perf 6.1 wrote it here (events shortened).
PERF = """# started on Sun Nov 29 09:25:29 2026

20431,,raw_syscalls:sys_enter,502013236,100.00,,
7012,,context-switches,502014387,100.00,,
9810,,syscalls:sys_enter_read,502013706,100.00,,
0,,syscalls:sys_enter_readv,502013706,100.00,,
8933,,syscalls:sys_enter_sendto,502013706,100.00,,
1650,,syscalls:sys_enter_epoll_wait,502013706,100.00,,
<not counted>,,syscalls:sys_enter_futex,0,100.00,,
"""


class PerfTests(unittest.TestCase):
    def test_named_counts_and_the_rest_as_other(self):
        counts, switches = loadgen.parse_perf_counts(PERF)
        self.assertEqual(switches, 7012)
        self.assertEqual(counts, {"read": 9810, "sendto": 8933, "epoll_wait": 1650, "other": 20431 - 20393})
        per = loadgen.syscalls_per_request(counts, 10000)
        self.assertAlmostEqual(per["total"], 2.0431)
        self.assertAlmostEqual(per["io"], (9810 + 8933) / 10000)
        self.assertAlmostEqual(per["poll"], 0.165)

    def test_nothing_without_the_total(self):
        self.assertEqual(loadgen.parse_perf_counts("<not counted>,,raw_syscalls:sys_enter,0,100.00,,\n"),
                         ({}, None))

    def test_argv_counts_the_pids_while_the_workload_runs(self):
        argv = loadgen.perf_stat_argv([10, 11], "/tmp/out", ["h2load", "-n10", "http://x/"])
        self.assertEqual(argv[argv.index("-p") + 1], "10,11")
        self.assertEqual(argv[argv.index("--") + 1:], ["h2load", "-n10", "http://x/"])
        self.assertIn("raw_syscalls:sys_enter", argv[argv.index("-e") + 1].split(","))


if __name__ == "__main__":
    unittest.main()
