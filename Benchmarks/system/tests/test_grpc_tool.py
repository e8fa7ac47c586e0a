"""The S7 client's schedule and window bookkeeping (no grpcio needed: it is imported only to run)."""

import unittest

from devmesh_bench import grpc_tool


class ScheduleTests(unittest.TestCase):
    def test_rate_count_and_phase(self):
        cases = [  # (stream, streams, rate, seconds, expected count, first offset)
            (0, 4, 50.0, 2.0, 100, 0.0),
            (1, 4, 50.0, 2.0, 100, 0.005),    # streams spread over one 20 ms period
            (3, 4, 50.0, 2.0, 100, 0.015),
            (0, 1, 7.0, 1.0, 7, 0.0),
        ]
        for stream, streams, rate, seconds, count, offset in cases:
            with self.subTest(stream=stream, streams=streams, rate=rate):
                times = list(grpc_tool.schedule(stream, streams, rate, 10.0, 10.0 + seconds))
                self.assertEqual(len(times), count)
                self.assertAlmostEqual(times[0] - 10.0, offset)
                gaps = {round(b - a, 9) for a, b in zip(times, times[1:])}
                self.assertEqual(gaps, {round(1 / rate, 9)})
                self.assertLess(times[-1], 10.0 + seconds)

    def test_all_streams_together_offer_streams_times_rate(self):
        times = sorted(t for i in range(16) for t in grpc_tool.schedule(i, 16, 50.0, 0.0, 1.0))
        self.assertEqual(len(times), 800)
        self.assertEqual(len(set(times)), 800, "no two streams send at the same instant")


class TallyTests(unittest.TestCase):
    def test_only_echoes_inside_the_window_count(self):
        tally = grpc_tool.StreamTally(window_start=1.0, window_end=3.0)
        for now, sent_ns, now_ns in ((0.5, 0, 1_000_000), (1.0, 0, 250_000), (2.999, 5_000, 105_000),
                                     (3.0, 0, 1)):
            tally.on_echo(now, sent_ns, now_ns)
        self.assertEqual((tally.received, tally.received_in_window), (4, 2))
        self.assertEqual(sorted(tally.latencies_us), [100.0, 250.0])


if __name__ == "__main__":
    unittest.main()
