"""Scenario rules that do not need a running proxy."""

import unittest
from pathlib import Path

from devmesh_bench import scenarios
from devmesh_bench.context import Context, Progress
from devmesh_bench.modes import FULL, QUICK
from devmesh_bench.targets import ALL_TARGETS, TARGETS_BY_NAME


def ctx_with(records, mode=QUICK) -> Context:
    ctx = Context(env=None, mode=mode, layout="A", results_path=Path("/nonexistent"), meta={},
                  progress=Progress(0.0))
    ctx.records.extend(records)
    return ctx


def s1(target, rate, valid=True):
    return {"scenario": "S1", "target": target, "variant": f"{rate} rps c16", "valid": valid,
            "load": {"offered_rps": rate}}


class S10RateTests(unittest.TestCase):
    def test_half_of_the_lowest_sustained_knee(self):
        records = [s1("nginx", 5000), s1("nginx", 20000), s1("devmesh", 5000), s1("devmesh", 10000),
                   s1("devmesh", 20000, valid=False), s1("haproxy", 1000)]
        rate, why = scenarios.s10_rate(ctx_with(records))
        self.assertEqual(rate, 5000)
        self.assertIn("devmesh", why)

    def test_closed_loop_and_other_proxies_do_not_count(self):
        records = [s1("haproxy", 40000), {"scenario": "S1", "target": "nginx", "variant": "max (wrk c64)",
                                          "valid": True, "load": {"tool": "wrk"}, "rps": 80000.0}]
        self.assertEqual(scenarios.s10_rate(ctx_with(records))[0], QUICK.s10_fallback_rate)

    def test_fallback_without_s1(self):
        self.assertEqual(scenarios.s10_rate(ctx_with([], FULL))[0], FULL.s10_fallback_rate)


class ApplicabilityTests(unittest.TestCase):
    def test_who_runs_what(self):
        everyone = {t.name for t in ALL_TARGETS}
        expected = {
            "S0": {"direct", "l4"},
            "S1": everyone - {"nghttpx"},
            "S9": {"direct", "l4", "nginx", "devmesh"},
            "S10": {"direct", "l4", "nginx", "devmesh"},
            "S4": everyone - {"nginx"},
            "S4b": everyone,
            "S6": everyone,
            "S6L": everyone,
            "S7": everyone,
        }
        for scenario_id, names in expected.items():
            with self.subTest(scenario=scenario_id):
                scenario = scenarios.SCENARIOS_BY_ID[scenario_id]
                self.assertEqual({t.name for t in ALL_TARGETS if scenario.applies(t)}, names)

    def test_estimates_are_positive_and_quick_is_shorter(self):
        for scenario in scenarios.SCENARIOS:
            with self.subTest(scenario=scenario.id):
                quick, full = scenario.estimate_s(ctx_with([])), scenario.estimate_s(ctx_with([], FULL))
                self.assertGreater(quick, 0)
                self.assertLessEqual(quick, full)

    def test_every_target_has_a_unique_name(self):
        self.assertEqual(len(TARGETS_BY_NAME), len(ALL_TARGETS))


class ScenarioSelectionTests(unittest.TestCase):
    def test_ids_are_case_insensitive_and_keep_the_plan_order(self):
        from devmesh_bench.cli import select_scenarios
        self.assertEqual([s.id for s in select_scenarios("s4b,S1,s4")], ["S1", "S4", "S4b"])
        with self.assertRaises(SystemExit):
            select_scenarios("S5")

    def test_a_list_with_spaces_selects_exactly_those(self):
        from devmesh_bench.cli import select_scenarios
        chosen = [s.id for s in select_scenarios(" S0, s1,S3 ,S4,S6,S8,")]
        self.assertEqual(chosen, ["S0", "S1", "S3", "S4", "S6", "S8"])


class PlanEstimateTests(unittest.TestCase):
    """`--estimate`: seconds per scenario = its per-target estimate × the targets it applies to."""

    def test_s3_is_one_point_per_target(self):
        from devmesh_bench.cli import plan_estimate, select_scenarios, select_targets
        mode = FULL.with_overrides(repeats=1, measure_s=10)
        [(sid, names, seconds)] = plan_estimate(mode, select_scenarios("S3"), select_targets("devmesh,haproxy"))
        self.assertEqual((sid, names), ("S3", ["direct", "l4", "haproxy", "devmesh"]))
        # warm-up 5 s + window 10 s + 0.5 s between tools, one run, plus 1 s start-up, per target
        self.assertAlmostEqual(seconds, 4 * (5 + 10 + 0.5 + 1))

    def test_scenarios_without_a_selected_target_are_left_out(self):
        from devmesh_bench.cli import plan_estimate, select_scenarios, select_targets
        rows = plan_estimate(FULL, select_scenarios("S4,S11"), select_targets("nginx"))
        self.assertEqual([(sid, names) for sid, names, _ in rows], [("S4", ["direct", "l4"])])

    def test_more_repeats_and_longer_windows_take_longer(self):
        from devmesh_bench.cli import plan_estimate, select_scenarios, select_targets
        def total(mode):
            return sum(s for _, _, s in plan_estimate(mode, select_scenarios("S1,S4,S6"), select_targets(None)))
        self.assertLess(total(FULL.with_overrides(1, 10)), total(FULL.with_overrides(3, 10)))
        self.assertLess(total(FULL.with_overrides(3, 10)), total(FULL))


class ModeSettingTests(unittest.TestCase):
    def test_narrows_sweeps_and_single_values(self):
        mode = FULL.with_settings(["s6_sizes=100", "s6_rates=10000,20000", "strace_requests=1000"])
        self.assertEqual((mode.s6_sizes, mode.s6_rates, mode.strace_requests), ((100,), (10000, 20000), 1000))
        self.assertEqual(mode.s1_rates, FULL.s1_rates)

    def test_refuses_what_it_cannot_set(self):
        for setting in ("s6_rates=fast", "no_such_field=1", "s7_points=1,2", "s6_rates=", "name=1"):
            with self.subTest(setting=setting), self.assertRaises(ValueError):
                FULL.with_settings([setting])


if __name__ == "__main__":
    unittest.main()


def s6l(target, rps, share, valid=True):
    return {"scenario": "S6L", "target": target, "variant": "100 B max c4 m32 limit 250m", "valid": valid,
            "rps": rps, "is_proxy": True, "extra": {"throttled_share": share}}


class S6LTests(unittest.TestCase):
    def test_a_run_whose_limit_did_not_bind_is_rejected(self):
        from devmesh_bench.cgroup import CpuLimit, Throttling
        limit = CpuLimit(Path("/nonexistent"), 250, 100_000, 1)
        bound, spare = {"extra": {}, "flags": [], "valid": True}, {"extra": {}, "flags": [], "valid": True}
        scenarios._record_throttling(bound, limit, Throttling(periods=50, throttled=49, throttled_ms=3000))
        scenarios._record_throttling(spare, limit, Throttling(periods=50, throttled=10, throttled_ms=200))
        self.assertTrue(bound["valid"])
        self.assertEqual(bound["extra"]["throttled_share"], 0.98)
        self.assertFalse(spare["valid"])
        self.assertIn("limit-not-binding", spare["flags"])

    def test_rate_ratios_use_medians_of_valid_runs_only(self):
        ctx = ctx_with([s6l("devmesh", 20000, 1.0), s6l("devmesh", 22000, 1.0), s6l("devmesh", 90000, 0.1, valid=False),
                        s6l("envoy", 10000, 1.0), s6l("nghttpx", 16000, 1.0)])
        scenarios._note_rate_against_devmesh(ctx, "S6L", "devmesh", "100 B max c4 m32 limit 250m")
        notes = ctx.scenario_notes["S6L"]
        self.assertEqual(len(notes), 2)
        self.assertIn("devmesh 21,000 calls/s, envoy 10,000: 2.10×", notes[0])
        self.assertIn("nghttpx 16,000: 1.31×", notes[1])
