"""Aggregation rules: rejected runs never count, ratios use the references of the same variant."""

import unittest

from devmesh_bench import report


def run(target, rps, *, variant="5000 rps c16", valid=True, flags=(), cpu=10.0, p99=900.0, scenario="S1"):
    return {"scenario": scenario, "target": target, "variant": variant, "sort": [1, 16, 5000], "run": 1,
            "is_proxy": target not in ("direct", "l4"), "valid": valid, "flags": list(flags), "errors": 0,
            "rps": rps, "cpu_us_per_req": cpu, "latency_us": {"p50": 100.0, "p90": 200.0, "p99": p99,
                                                             "p99.9": 2000.0, "max": 5000.0},
            "load": {"offered_rps": 5000}, "extra": {}}


class AggregateTests(unittest.TestCase):
    def test_rejected_runs_are_left_out_of_the_median(self):
        runs = [run("nginx", 100.0), run("nginx", 300.0), run("nginx", 200.0),
                run("nginx", 5.0, valid=False, flags=["missed-rate"])]
        s = report.aggregate(runs)["S1"]["5000 rps c16"]["nginx"]
        self.assertEqual(s["rps"], {"min": 100.0, "median": 200.0, "max": 300.0})
        self.assertEqual((s["runs"], s["valid_runs"], s["flags"]), (4, 3, ["missed-rate"]))
        self.assertFalse(s["from_rejected"])

    def test_percentiles_are_medians_of_runs_not_means(self):
        runs = [run("envoy", 1.0, p99=p) for p in (900.0, 100.0, 50000.0)]
        s = report.aggregate(runs)["S1"]["5000 rps c16"]["envoy"]
        self.assertEqual(s["latency_us"]["p99"], 900.0)

    def test_ratios_against_both_references(self):
        runs = [run("direct", 1000.0), run("l4", 500.0), run("haproxy", 400.0)]
        variants = report.aggregate(runs)["S1"]["5000 rps c16"]
        self.assertAlmostEqual(report.ratio(variants["haproxy"], variants["direct"]), 0.4)
        self.assertAlmostEqual(report.ratio(variants["haproxy"], variants["l4"]), 0.8)

    def test_no_ratio_against_a_rejected_reference(self):
        runs = [run("direct", 1000.0, valid=False, flags=["errors"]), run("haproxy", 400.0)]
        variants = report.aggregate(runs)["S1"]["5000 rps c16"]
        self.assertIsNone(report.ratio(variants["haproxy"], variants["direct"]))

    def test_fully_rejected_point_is_shown_and_marked(self):
        runs = [run("direct", 1000.0), run("devmesh", 10.0, valid=False, flags=["errors"])]
        table = "\n".join(report.scenario_table("S1", report.aggregate(runs)["S1"], {}))
        self.assertIn("**REJECTED**: errors", table)
        devmesh_row = [line for line in table.splitlines() if "| devmesh |" in line][0]
        self.assertIn("| – |", devmesh_row)  # no ratio for it

    def test_order_of_targets_and_variants(self):
        runs = [run("devmesh", 1.0, variant="20000 rps c16"), run("direct", 1.0, variant="20000 rps c16"),
                run("nginx", 1.0, variant="1000 rps c16")]
        runs[0]["sort"] = runs[1]["sort"] = [1, 16, 20000]
        runs[2]["sort"] = [1, 16, 1000]
        s1 = report.aggregate(runs)["S1"]
        self.assertEqual(list(s1), ["1000 rps c16", "20000 rps c16"])
        self.assertEqual(list(s1["20000 rps c16"]), ["direct", "devmesh"])

    def test_markdown_names_unavailable_targets(self):
        doc = {"meta": {"targets": {"devmesh": {"available": False, "reason": "release build failed"}}},
               "records": [run("direct", 1000.0)]}
        text = report.render_markdown(doc, {"S1": ("title", "what")})
        self.assertIn("**devmesh**: release build failed", text)
        self.assertIn("## S1 — title", text)


class ScenarioOrderTests(unittest.TestCase):
    def test_numeric_then_suffix(self):
        ids = ["S10", "S4b", "S1", "S7", "S4", "S0", "S6", "S9"]
        self.assertEqual(sorted(ids, key=report.scenario_order), ["S0", "S1", "S4", "S4b", "S6", "S7", "S9", "S10"])


if __name__ == "__main__":
    unittest.main()
