"""h2load over h2c: the command line, the traffic line, and the body check that catches gRPC errors."""

import unittest

from devmesh_bench import loadgen

# h2load 1.52, -c4 -m32 -D1, gRPC unary to the nginx backend (105-byte bodies). The status line
# counts one response more than "done": its head had arrived when the run stopped.
H2_GRPC_OK = """finished in 1.00s, 56111.00 req/s, 11.33MB/s
requests: 56111 total, 56239 started, 56111 done, 56111 succeeded, 0 failed, 0 errored, 0 timeout
status codes: 56112 2xx, 0 3xx, 0 4xx, 0 5xx
traffic: 11.33MB (11884809) total, 2.93MB (3075177) headers (space savings 48.30%), 5.62MB (5891655) data
"""
# h2load 1.52 through devmesh to a closed port: every call is a gRPC UNAVAILABLE (grpc-status 14
# in a trailers-only HTTP 200), which h2load counts as 100 successes with no data at all.
H2_GRPC_UNAVAILABLE = """finished in 4.74ms, 21119.32 req/s, 296.17KB/s
requests: 100 total, 100 started, 100 done, 100 succeeded, 0 failed, 0 errored, 0 timeout
status codes: 100 2xx, 0 3xx, 0 4xx, 0 5xx
traffic: 1.40KB (1436) total, 481B (481) headers (space savings 96.21%), 0B (0) data
"""
H1_NO_TRAFFIC = """finished in 2.00s, 4984.00 req/s, 1.04MB/s
requests: 9968 total, 9984 started, 9968 done, 9968 succeeded, 0 failed, 0 errored, 0 timeout
status codes: 9968 2xx, 0 3xx, 0 4xx, 0 5xx
"""


class H2ArgvTests(unittest.TestCase):
    def test_streams_select_h2c(self):
        argv = loadgen.h2load_argv("http://x/", clients=16, streams=32, duration_s=2)
        self.assertNotIn("--h1", argv)
        self.assertIn("-m32", argv)
        self.assertIn("-c16", argv)
        self.assertFalse(any(a.startswith("--rps") for a in argv), "no rate: closed loop")

    def test_open_loop_rate_is_per_client(self):
        argv = loadgen.h2load_argv("http://x/", clients=4, streams=32, rps_total=10000, duration_s=2)
        self.assertIn("--rps=2500", argv)

    def test_grpc_request_shape(self):
        argv = loadgen.h2load_argv("http://x/pkg.Svc/M", clients=4, streams=32, requests=10, data_file="req.grpc",
                                   headers={"content-type": "application/grpc", "te": "trailers"})
        self.assertIn("--data=req.grpc", argv)
        self.assertEqual(argv[argv.index("content-type: application/grpc") - 1], "-H")
        self.assertIn("te: trailers", argv)
        self.assertEqual(argv[-1], "http://x/pkg.Svc/M")

    def test_without_streams_it_stays_h1(self):
        argv = loadgen.h2load_argv("http://x/", clients=16, duration_s=2)
        self.assertEqual(argv[:5], ["h2load", "--h1", "-t1", "-c16", "-m1"])


class TrafficTests(unittest.TestCase):
    def test_traffic_and_in_flight(self):
        r = loadgen.parse_h2load(H2_GRPC_OK)
        self.assertEqual((r.data_bytes, r.in_flight_at_end, r.succeeded, r.succeeded_2xx), (5891655, 128, 56111, 56112))

    def test_no_traffic_line(self):
        self.assertIsNone(loadgen.parse_h2load(H1_NO_TRAFFIC).data_bytes)
        with self.assertRaises(ValueError):
            loadgen.check_body_bytes(loadgen.parse_h2load(H1_NO_TRAFFIC), 100)


class BodyCheckTests(unittest.TestCase):
    def result(self, succeeded: int, data: int, in_flight: int = 0) -> loadgen.LoadResult:
        return loadgen.LoadResult(requests=succeeded, succeeded_2xx=succeeded, succeeded=succeeded,
                                  data_bytes=data, in_flight_at_end=in_flight)

    def test_table(self):
        cases = [
            # (succeeded, data bytes, in flight, body bytes, body errors)
            (100, 10500, 0, 105, 0),        # every body present
            (100, 10395, 0, 105, 1),        # one trailers-only error
            (100, 10400, 0, 105, 1),        # a body cut short counts as one
            (100, 0, 0, 105, 100),          # all of them errors
            (100, 10500 + 105 * 3, 3, 105, 0),   # DATA of streams still open at the stop is allowed
            (100, 10500 + 105 * 5, 3, 105, 2),   # ...but not more than one body each
        ]
        for succeeded, data, in_flight, body, expected in cases:
            with self.subTest(succeeded=succeeded, data=data, in_flight=in_flight):
                r = loadgen.check_body_bytes(self.result(succeeded, data, in_flight), body)
                self.assertEqual(r.body_errors, expected)
                self.assertEqual(r.errors, expected)
                self.assertEqual(r.error_detail["body_errors"], expected)

    def test_real_outputs(self):
        ok = loadgen.check_body_bytes(loadgen.parse_h2load(H2_GRPC_OK), 105)
        self.assertEqual(ok.errors, 0)
        bad = loadgen.check_body_bytes(loadgen.parse_h2load(H2_GRPC_UNAVAILABLE), 105)
        self.assertEqual((bad.non_2xx, bad.body_errors, bad.errors), (0, 100, 100))


if __name__ == "__main__":
    unittest.main()
