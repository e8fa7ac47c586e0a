"""Percentiles, run rejection and spreads."""

import unittest

from devmesh_bench import stats


class PercentileTests(unittest.TestCase):
    def test_nearest_rank_table(self):
        values = list(range(1, 1001))  # 1..1000
        for q, expected in [(0.5, 500), (0.9, 900), (0.99, 990), (0.999, 999), (1.0, 1000), (0.0001, 1)]:
            with self.subTest(q=q):
                self.assertEqual(stats.nearest_rank(values, q), expected)

    def test_summary_of_a_skewed_run(self):
        durations = [100] * 990 + [5000] * 9 + [90000]
        s = stats.latency_summary(reversed(durations))
        self.assertEqual((s["p50"], s["p99"], s["p99.9"], s["max"], s["count"]), (100, 100, 5000, 90000, 1000))

    def test_empty(self):
        self.assertIsNone(stats.latency_summary([]))

    def test_log_keeps_only_2xx(self):
        log = "1795913202365493\t200\t219\n1795913202365497\t503\t31\n1795913202365499\t-1\t0\n17959132\t204\t40\n"
        durations, bad = stats.h2load_log_durations(log)
        self.assertEqual((durations, bad), ([219, 40], 2))


class FlagTests(unittest.TestCase):
    def test_table(self):
        cases = [
            (0, 1000, 995.0, []),                        # 99.5 % of target: fine
            (0, 1000, 989.0, ["missed-rate"]),           # below 99 %
            (3, 1000, 1000.0, ["errors"]),
            (1, 1000, 10.0, ["errors", "missed-rate"]),
            (0, None, 123.0, []),                        # closed loop: no target rate
            (0, 1000, None, ["missed-rate"]),
        ]
        for errors, offered, achieved, expected in cases:
            with self.subTest(errors=errors, offered=offered, achieved=achieved):
                self.assertEqual(stats.run_flags(errors, offered, achieved), expected)


class SpreadTests(unittest.TestCase):
    def test_median_is_a_real_run(self):
        self.assertEqual(stats.spread([3.0, 1.0, 2.0]), {"min": 1.0, "median": 2.0, "max": 3.0})
        self.assertEqual(stats.spread([4.0, 1.0])["median"], 1.0)
        self.assertIsNone(stats.spread([]))


if __name__ == "__main__":
    unittest.main()
