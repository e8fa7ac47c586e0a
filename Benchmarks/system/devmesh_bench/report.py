"""results.json -> results.md: one table per scenario, rejected runs shown but never aggregated.

Aggregation per (scenario, variant, target): the valid runs only; throughput and CPU as the median
run with its min..max when there are several runs; latency percentiles as the median of the runs'
percentiles (a percentile is never averaged). Ratios divide the target's median throughput by the
median of `direct` and of `l4` for the same variant.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

from . import stats

TARGET_ORDER = ("direct", "l4", "nginx", "haproxy", "envoy", "nghttpx", "devmesh")


def _order(name: str) -> int:
    return TARGET_ORDER.index(name) if name in TARGET_ORDER else len(TARGET_ORDER)


def aggregate(records: Iterable[dict]) -> "OrderedDict[str, OrderedDict[str, OrderedDict[str, dict]]]":
    """scenario -> variant -> target -> summary, in scenario, variant (sort key) and target order."""
    grouped: dict[tuple[str, str, str], list[dict]] = {}
    sort_keys: dict[tuple[str, str], list] = {}
    for r in records:
        if r.get("kind") == "syscalls":
            continue
        grouped.setdefault((r["scenario"], r["variant"], r["target"]), []).append(r)
        sort_keys[(r["scenario"], r["variant"])] = r.get("sort", [])
    result: OrderedDict = OrderedDict()
    for scenario in sorted({k[0] for k in grouped}, key=scenario_order):
        variants = sorted({k[1] for k in grouped if k[0] == scenario}, key=lambda v: sort_keys[(scenario, v)])
        result[scenario] = OrderedDict()
        for variant in variants:
            targets = sorted({k[2] for k in grouped if k[0] == scenario and k[1] == variant}, key=_order)
            result[scenario][variant] = OrderedDict(
                (t, summarize(grouped[(scenario, variant, t)])) for t in targets)
    return result


def scenario_order(scenario: str) -> tuple[int, str]:
    """S0 < S1 < … < S4 < S4b < S6 < … < S10: by the number, then the suffix."""
    digits = "".join(ch for ch in scenario[1:] if ch.isdigit())
    return (int(digits) if digits else 99, scenario)


def summarize(runs: list[dict]) -> dict:
    """The summary of one point: median/min/max over valid runs, and what was rejected and why."""
    valid = [r for r in runs if r.get("valid")]
    rejected = [r for r in runs if not r.get("valid")]
    summary: dict = {"runs": len(runs), "valid_runs": len(valid), "errors": sum(r.get("errors", 0) for r in runs),
                     "flags": sorted({f for r in rejected for f in r.get("flags", [])}),
                     "is_proxy": runs[0].get("is_proxy", True)}
    source = valid or rejected   # a fully rejected point is still shown, marked, with its own values
    summary["from_rejected"] = not valid
    for key in ("rps", "cpu_us_per_req", "cpu_sys_us_per_req", "backend_cpu_us_per_req", "rss_kb", "rss_before_kb",
                "hwm_kb", "bytes_per_conn"):
        values = [r[key] for r in source if r.get(key) is not None]
        summary[key] = stats.spread(values)
    shares = [r["extra"]["throttled_share"] for r in source if r.get("extra", {}).get("throttled_share") is not None]
    summary["throttled_share"] = stats.spread(shares) if shares else None
    for key in ("latency_us", "probe_latency_us"):
        per_run = [r[key] for r in source if r.get(key)]
        if per_run:
            summary[key] = {p: stats.spread([run[p] for run in per_run])["median"]
                            for p in ("p50", "p90", "p99", "p99.9", "max")}
    offered = [r["load"].get("offered_rps") for r in runs if r.get("load", {}).get("offered_rps")]
    summary["offered_rps"] = offered[0] if offered else None
    summary["extra"] = {k: v for r in runs for k, v in r.get("extra", {}).items()}
    return summary


def syscall_table(records: Iterable[dict]) -> dict[str, dict[str, dict]]:
    """scenario -> target -> the syscall record."""
    table: dict[str, dict[str, dict]] = {}
    for r in records:
        if r.get("kind") == "syscalls":
            table.setdefault(r["scenario"], {})[r["target"]] = r
    return table


def ratio(summary: dict, reference: dict | None) -> float | None:
    """Target throughput over reference throughput (both medians of valid runs), else None."""
    if not reference or reference["from_rejected"] or summary["from_rejected"]:
        return None
    if not summary.get("rps") or not reference.get("rps") or reference["rps"]["median"] <= 0:
        return None
    return summary["rps"]["median"] / reference["rps"]["median"]


# -------------------------------------------------------------------------------------- markdown

def _num(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"


def _spread_text(s: dict | None, digits: int = 0, scale: float = 1.0) -> str:
    if not s:
        return "–"
    text = _num(s["median"] * scale, digits)
    if s["min"] != s["max"]:
        text += f" ({_num(s['min'] * scale, digits)}–{_num(s['max'] * scale, digits)})"
    return text


def _latency_cells(lat: dict | None) -> list[str]:
    if not lat:
        return ["–"] * 5
    return [_num(lat[p]) for p in ("p50", "p90", "p99", "p99.9", "max")]


def _status(summary: dict) -> str:
    if summary["from_rejected"]:
        return "**REJECTED**: " + ", ".join(summary["flags"])
    if summary["flags"]:
        return f"{summary['runs'] - summary['valid_runs']} of {summary['runs']} runs rejected: " + ", ".join(summary["flags"])
    return "ok"


def scenario_table(scenario: str, variants: dict, syscalls: dict[str, dict]) -> list[str]:
    if scenario == "S8":
        return _s8_table(variants)
    if scenario == "S11":
        return _s11_table(variants)
    with_probe = any("probe_latency_us" in s for v in variants.values() for s in v.values())
    with_limit = any(s.get("throttled_share") for v in variants.values() for s in v.values())
    header = ["variant", "target", "rps", "× direct", "× L4", "p50 µs", "p90 µs", "p99 µs", "p99.9 µs", "max µs"]
    if with_probe:
        header += ["probe p50", "probe p99"]
    if with_limit:
        header += ["throttled periods"]
    header += ["CPU µs/req", "of which system", "backend CPU µs/req", "RSS MiB", "peak RSS MiB", "syscalls/req", "errors", "status"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for variant, targets in variants.items():
        direct, l4 = targets.get("direct"), targets.get("l4")
        for name, s in targets.items():
            sys_record = syscalls.get(name)
            sys_text = _num(sys_record["syscalls_per_req"]["total"], 1) \
                if sys_record and sys_record.get("syscalls_per_req") else "–"
            row = [variant, name, _spread_text(s["rps"]), _num(ratio(s, direct), 2) if name != "direct" else "1",
                   _num(ratio(s, l4), 2) if name != "l4" else "1", *_latency_cells(s.get("latency_us"))]
            if with_probe:
                probe = s.get("probe_latency_us")
                row += [_num(probe["p50"]) if probe else "–", _num(probe["p99"]) if probe else "–"]
            if with_limit:
                row += [_spread_text(s["throttled_share"], 0, 100) + " %" if s.get("throttled_share") else "–"]
            row += [_spread_text(s["cpu_us_per_req"], 1) if s["is_proxy"] else "–",
                    _spread_text(s.get("cpu_sys_us_per_req"), 1) if s["is_proxy"] else "–",
                    _spread_text(s["backend_cpu_us_per_req"], 1),
                    _spread_text(s["rss_kb"], 1, 1 / 1024), _spread_text(s["hwm_kb"], 1, 1 / 1024),
                    sys_text, str(s["errors"]), _status(s)]
            lines.append("| " + " | ".join(row) + " |")
    return lines


def _s8_table(variants: dict) -> list[str]:
    header = ["connections", "target", "RSS before MiB", "RSS after MiB", "bytes per idle connection",
              "not opened", "closed by peer", "status"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for variant, targets in variants.items():
        for name, s in targets.items():
            extra = s["extra"]
            lines.append("| " + " | ".join([
                variant, name, _spread_text(s["rss_before_kb"], 1, 1 / 1024), _spread_text(s["rss_kb"], 1, 1 / 1024),
                _spread_text(s["bytes_per_conn"]), str(extra.get("not_opened", "–")),
                str(extra.get("closed_by_peer", "–")), _status(s)]) + " |")
    return lines


#: S11 figures in display order: (extra key, label). A key a record lacks is left out.
S11_FIGURES = (
    ("creates_per_s", "agent creates per second (sequential, each fsync'd)"),
    ("create_ms_p50_last_1000", "agent create latency p50, last 1,000 (ms)"),
    ("create_ms_p99_last_1000", "agent create latency p99, last 1,000 (ms)"),
    ("agent_rss_mib", "agent RSS (MiB)"),
    ("agent_peak_rss_mib", "agent peak RSS (MiB)"),
    ("seconds_from_start", "proxy start to synced and ready (s)"),
    ("rebuild_ms", "proxy table build for the first sync (ms)"),
    ("proxy_rss_mib", "proxy RSS (MiB)"),
    ("create_ms_p50_after_return", "create → routed, p50 from the REST answer (ms)"),
    ("create_ms_p99_after_return", "create → routed, p99 from the REST answer (ms)"),
    ("create_ms_p99_after_call", "create → routed, p99 from the REST call (ms)"),
    ("delete_ms_p50_after_return", "delete → baseline, p50 from the REST answer (ms)"),
    ("delete_ms_p99_after_return", "delete → baseline, p99 from the REST answer (ms)"),
    ("delete_ms_p99_after_call", "delete → baseline, p99 from the REST call (ms)"),
    ("create_rebuild_ms_p50", "proxy build + publish per create, p50 (ms)"),
    ("create_rebuild_ms_p99", "proxy build + publish per create, p99 (ms)"),
    ("delete_rebuild_ms_p50", "proxy build + publish per delete, p50 (ms)"),
    ("proxy_cpu_ms_per_change", "proxy CPU per change, probe requests included (ms)"),
)


def _s11_table(variants: dict) -> list[str]:
    lines = ["| step | figure | value | status |", "|---|---|---|---|"]
    for variant, targets in variants.items():
        for _name, s in targets.items():
            extra = s["extra"]
            for key, label in S11_FIGURES:
                if key in extra and extra[key] is not None:
                    lines.append(f"| {variant} | {label} | {_num(float(extra[key]), 2)} | {_status(s)} |")
    return lines


def syscall_detail_table(by_target: dict[str, dict]) -> list[str]:
    header = ["target", "tool", "requests", "total/req", "I/O/req", "epoll/poll/req", "other/req",
              "context switches/req", "most frequent (per req)", "status"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name in sorted(by_target, key=_order):
        r = by_target[name]
        per = r.get("syscalls_per_req")
        tool = r.get("syscall_tool", "strace")
        if not per:
            lines.append(f"| {name} | {tool} | {r.get('requests', 0)} | – | – | – | – | – | – | no {tool} output |")
            continue
        top = ", ".join(f"{k} {v:.2f}" for k, v in per["top"].items())
        switches = per.get("context_switches")
        lines.append("| " + " | ".join([name, tool, str(per["requests"]), _num(per["total"], 2), _num(per["io"], 2),
                                        _num(per["poll"], 2), _num(per["other"], 2),
                                        _num(switches, 2) if switches is not None else "–", top,
                                        "ok" if r["valid"] else ", ".join(r["flags"])]) + " |")
    return lines


def render_markdown(document: dict, scenario_info: dict[str, tuple[str, str]]) -> str:
    meta, records, notes = document["meta"], document["records"], document.get("notes", {})
    out = [f"# devmesh system benchmark — {meta.get('started', '')}", ""]
    out += [f"- **Mode:** {meta.get('mode')} ({meta.get('mode_detail', '')})",
            f"- **Layout:** {meta.get('layout_text')}",
            f"- **Host:** {meta.get('host')}",
            f"- **Wall time:** {meta.get('wall_seconds', '–')} s" + (" (interrupted)" if meta.get("interrupted") else ""),
            "- **Targets:** " + "; ".join(f"{n}: {t.get('version') or t.get('reason', '')}"
                                          + ("" if t.get("available") else " — **unavailable**")
                                          for n, t in meta.get("targets", {}).items()),
            "- **Tools:** " + "; ".join(f"{k}: {v}" for k, v in meta.get("tools", {}).items()),
            "",
            "Reading the tables: `rps` is the achieved rate (median of valid runs, min–max in parentheses); "
            "`× direct` and `× L4` divide it by the references' figure for the same variant. Latency comes "
            "from h2load's per-request log (open loop only; closed-loop rows have none). CPU µs/req is the "
            "proxy's user+system time (all threads, all processes) over the measured window ÷ requests, "
            "and `of which system` its kernel part. "
            "A run with any error, or below 99 % of its offered rate, is REJECTED: shown, never aggregated.",
            ""]
    summary = aggregate(records)
    syscalls = syscall_table(records)
    for scenario, variants in summary.items():
        title, what = scenario_info.get(scenario, (scenario, ""))
        out += [f"## {scenario} — {title}", "", what, ""]
        for note in notes.get(scenario, []):
            out.append(f"- {note}")
        if notes.get(scenario):
            out.append("")
        out += scenario_table(scenario, variants, syscalls.get(scenario, {}))
        out.append("")
        if scenario in syscalls:
            out += ["Syscalls per request (a separate closed-loop run of the same shape; `perf stat` counts "
                    "the syscall tracepoints in the kernel, `strace -c -f` is the fallback and slows the "
                    "proxy, which makes HTTP/2 proxies batch more than at full speed):", ""]
            out += syscall_detail_table(syscalls[scenario])
            out.append("")
    unavailable = {n: t for n, t in meta.get("targets", {}).items() if not t.get("available")}
    if unavailable:
        out += ["## Unavailable targets", ""]
        out += [f"- **{n}**: {t.get('reason')}" for n, t in unavailable.items()]
        out.append("")
    harness_errors = meta.get("harness_errors", [])
    if harness_errors:
        out += ["## Harness errors", ""] + [f"- {e}" for e in harness_errors] + [""]
    return "\n".join(out)
