"""Percentiles, run validity and run aggregation.

Rules from notes/benchmarks.md: a run with any error, or whose achieved rate is below 99 % of the
offered rate, is rejected (flagged and kept in the JSON, never aggregated). Percentiles are never
averaged: across repeats the table shows the median run's value with the min..max spread.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

PERCENTILES = (("p50", 0.50), ("p90", 0.90), ("p99", 0.99), ("p99.9", 0.999))

#: A run whose achieved rate is below this fraction of the offered rate missed its target.
MIN_ACHIEVED_FRACTION = 0.99


def nearest_rank(sorted_values: Sequence[float], q: float) -> float:
    """The q-quantile by the nearest-rank method: the smallest value with at least q·n values at or below it."""
    if not sorted_values:
        raise ValueError("no values")
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def latency_summary(durations_us: Iterable[float]) -> dict[str, float] | None:
    """p50/p90/p99/p99.9/max of per-request durations (µs); None for an empty run."""
    values = sorted(durations_us)
    if not values:
        return None
    summary = {name: float(nearest_rank(values, q)) for name, q in PERCENTILES}
    summary["max"] = float(values[-1])
    summary["count"] = len(values)
    return summary


def h2load_log_durations(text: str) -> tuple[list[int], int]:
    """Durations (µs) of successful requests in an h2load --log-file, and the count of non-2xx.

    Each line is `start_us <TAB> status <TAB> duration_us`; h2load writes status -1 for a request
    that failed without a response.
    """
    durations, bad = [], 0
    for line in text.splitlines():
        fields = line.split("\t")
        if len(fields) < 3:
            continue
        status, duration = int(fields[1]), int(fields[2])
        if 200 <= status < 300:
            durations.append(duration)
        else:
            bad += 1
    return durations, bad


def run_flags(errors: int, offered_rps: float | None, achieved_rps: float | None) -> list[str]:
    """Why a run is rejected: `errors` if any error, `missed-rate` if below 99 % of the offered rate."""
    flags = []
    if errors > 0:
        flags.append("errors")
    if offered_rps is not None:
        if achieved_rps is None or achieved_rps < MIN_ACHIEVED_FRACTION * offered_rps:
            flags.append("missed-rate")
    return flags


def spread(values: Sequence[float]) -> dict[str, float] | None:
    """min / median / max of repeated runs (the median of an even count is the lower middle,
    so that it is always a value some run actually produced)."""
    if not values:
        return None
    ordered = sorted(values)
    return {"min": ordered[0], "median": ordered[(len(ordered) - 1) // 2], "max": ordered[-1]}
