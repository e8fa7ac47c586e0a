"""The benchmark runner: `python -m devmesh_bench [--quick|--full] [--only S1,S8] [--proxies devmesh,haproxy]`.

Normally started by scripts/bench.sh, which installs the tools and builds devmesh first. The
runner starts the backend, then runs each scenario against one target at a time (references
first), writes results.json after every scenario and results.md plus PNG plots at the end, also
after an interruption. Everything it started is stopped on the way out.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import signal
import sys
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path

from .context import Context, Progress
from .modes import MODES, Mode
from .procs import HarnessError, StartError, Supervisor
from .report import render_markdown
from .scenarios import SCENARIOS, SCENARIOS_BY_ID
from .backends import start_backend
from .targets import ALL_TARGETS, Environment, tool_version

REFERENCES = ("direct", "l4")


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="devmesh_bench", description=__doc__.splitlines()[0])
    speed = p.add_mutually_exclusive_group()
    speed.add_argument("--quick", dest="mode", action="store_const", const="quick", help="a few minutes (default)")
    speed.add_argument("--full", dest="mode", action="store_const", const="full", help="publishable run (hours)")
    p.add_argument("--only", help="comma-separated scenario ids, e.g. S1,S8")
    p.add_argument("--proxies", help="comma-separated proxies (direct and l4 always run), e.g. devmesh,haproxy")
    p.add_argument("--layout", choices=("A", "B"), default="A",
                   help="A: proxy on CPU 1, generator and backend on CPU 0 (default); B: unpinned")
    p.add_argument("--out", type=Path, help="result directory (default bench-results/<timestamp> in the repo)")
    p.add_argument("--repo", type=Path, default=Path(__file__).resolve().parents[3])
    p.add_argument("--devmesh-bin", default=os.environ.get("DEVMESH_BIN"))
    p.add_argument("--devmesh-unavailable", help="why devmesh cannot run (set by bench.sh when the build fails)")
    p.add_argument("--envoy-bin", default=os.environ.get("ENVOY_BIN"))
    p.add_argument("--repeats", type=int, help="override the mode's runs per point")
    p.add_argument("--measure-seconds", type=float, help="override the mode's measured window")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=V1,V2",
                   help="override a sweep of the mode, e.g. s6_sizes=100 or s6_rates=10000,20000 (repeatable)")
    p.add_argument("--list", action="store_true", help="list the scenarios and exit")
    p.add_argument("--estimate", action="store_true",
                   help="print how long this selection would take, per scenario, and exit")
    p.add_argument("--report", type=Path, metavar="DIR", help="only rewrite results.md and plots of a past run")
    args = p.parse_args(argv)
    args.mode = args.mode or "quick"
    return args


def select_targets(proxies: str | None) -> list:
    if not proxies:
        return list(ALL_TARGETS)
    wanted = {name.strip() for name in proxies.split(",") if name.strip()}
    unknown = wanted - {t.name for t in ALL_TARGETS}
    if unknown:
        raise SystemExit(f"unknown proxy: {', '.join(sorted(unknown))}")
    return [t for t in ALL_TARGETS if t.name in wanted or t.name in REFERENCES]


def select_scenarios(only: str | None) -> list:
    if not only:
        return list(SCENARIOS)
    by_upper = {sid.upper(): sid for sid in SCENARIOS_BY_ID}   # "s4b" and "S4B" both mean S4b
    wanted = [s.strip().upper() for s in only.split(",") if s.strip()]
    unknown = [s for s in wanted if s not in by_upper]
    if unknown:
        raise SystemExit(f"unknown scenario: {', '.join(unknown)} (known: {', '.join(SCENARIOS_BY_ID)})")
    chosen = {by_upper[s] for s in wanted}
    return [s for s in SCENARIOS if s.id in chosen]


def plan_estimate(mode: Mode, scenarios: list, targets: list) -> list[tuple[str, list[str], float]]:
    """(scenario id, the targets it runs on, seconds) for each selected scenario: the same per-step
    estimates as the progress line. Upper bounds: a sweep stops at the first rate a target misses."""
    ctx = Context(env=None, mode=mode, layout="A", results_path=Path("/nonexistent"), meta={},
                  progress=Progress(0.0))
    rows = []
    for scenario in scenarios:
        names = [t.name for t in targets if scenario.applies(t)]
        if names:
            rows.append((scenario.id, names, scenario.estimate_s(ctx) * len(names)))
    return rows


def print_estimate(mode: Mode, rows: list[tuple[str, list[str], float]]) -> None:
    print(f"{mode.name} mode: warm-up {mode.warmup_s:g} s, measure {mode.measure_s:g} s, {mode.repeats} run(s) per point")
    for sid, names, seconds in rows:
        print(f"  {sid:4} {seconds / 60:6.1f} min  {', '.join(names)}")
    print(f"  all  {sum(s for _, _, s in rows) / 60:6.1f} min (upper bound)")


def raise_fd_limit() -> int:
    """Soft RLIMIT_NOFILE up to the hard limit (inherited by every child; S8 needs 10k+ sockets)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def pin_layout(layout: str) -> tuple[str | None, str]:
    """Layout A pins this process (so the backend and the generators it starts) to CPU 0 and
    hands CPU 1 to the proxy; with fewer than two CPUs it falls back to B and says so."""
    cpus = sorted(os.sched_getaffinity(0))
    if layout == "A" and len(cpus) >= 2:
        os.sched_setaffinity(0, {cpus[0]})
        return str(cpus[1]), f"layout A: proxy on CPU {cpus[1]}, load generator and backend on CPU {cpus[0]}"
    if layout == "A":
        return None, "layout B (unpinned): only one CPU available, layout A impossible"
    return None, f"layout B: unpinned ({len(cpus)} CPUs shared)"


def host_text() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} vCPU {model}, kernel {platform.release()}, {platform.freedesktop_os_release().get('PRETTY_NAME', '')}"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.list:
        for s in SCENARIOS:
            print(f"{s.id:4} {s.title}\n     {s.what}")
        return 0
    if args.report:
        write_reports(args.report.resolve())
        return 0
    try:
        mode = MODES[args.mode].with_overrides(args.repeats, args.measure_seconds).with_settings(args.set)
    except ValueError as error:
        raise SystemExit(f"devmesh bench: {error}")
    if args.estimate:
        print_estimate(mode, plan_estimate(mode, select_scenarios(args.only), select_targets(args.proxies)))
        return 0
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    run_dir = (args.out or args.repo / "bench-results" / stamp).resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    # The backend nginx's workers run as `nobody` when the harness runs as root, and read the
    # data files under run_dir: a directory made by `mktemp -d` (0700) would answer 403.
    run_dir.chmod(0o755)
    scenarios, targets = select_scenarios(args.only), select_targets(args.proxies)

    nofile = raise_fd_limit()
    proxy_cpus, layout_text = pin_layout(args.layout)
    supervisor = Supervisor(run_dir)
    env = Environment(run_dir=run_dir, supervisor=supervisor, proxy_cpus=proxy_cpus, nofile=nofile,
                      envoy_bin=args.envoy_bin, devmesh_bin=args.devmesh_bin,
                      devmesh_unavailable_reason=args.devmesh_unavailable, grpc_sizes=mode.s6_sizes)

    # SIGTERM (and SIGHUP from a closed terminal) end the run like Ctrl-C: through the finally below.
    def interrupted(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGHUP, interrupted)

    meta: dict = {"started": stamp, "mode": mode.name, "layout": args.layout, "layout_text": layout_text,
                  "mode_detail": f"warm-up {mode.warmup_s:g} s, measure {mode.measure_s:g} s, "
                                 f"{mode.repeats} run(s) per point"
                                 + (f", narrowed: {' '.join(args.set)}" if args.set else ""),
                  "host": host_text(), "fd_limit": nofile, "targets": {}, "tools": {}, "harness_errors": []}
    available = {}
    for target in targets:
        reason = target.unavailable_reason(env)
        available[target.name] = reason is None
        meta["targets"][target.name] = {"available": reason is None, "reason": reason,
                                        "version": target.version(env) if reason is None else None}
    for tool, argv_ in (("h2load", ["h2load", "--version"]), ("wrk", ["wrk", "-v"]), ("strace", ["strace", "-V"]),
                        ("perf", ["perf", "version"]),
                        ("grpcio", [sys.executable, "-c", "import grpc; print(grpc.__version__)"])):
        meta["tools"][tool] = tool_version(argv_)

    plan = [(s, t) for s in scenarios for t in targets if s.applies(t)]
    ctx = Context(env=env, mode=mode, layout=args.layout, results_path=run_dir / "results.json", meta=meta,
                  progress=Progress(0.0))
    ctx.progress = Progress(sum(s.estimate_s(ctx) for s, t in plan))
    print(f"devmesh bench: {mode.name} mode, {len(plan)} scenario×target steps, results in {run_dir}\n"
          f"  {layout_text}", file=sys.stderr)
    started = time.monotonic()
    try:
        ctx.progress.step("starting the backend")
        start_backend(env)
        for scenario, target in plan:
            estimate = scenario.estimate_s(ctx)
            if not available[target.name]:
                ctx.progress.step(f"{scenario.id} {target.name}: skipped (unavailable)")
                ctx.progress.total_estimate_s -= estimate
                continue
            ctx.progress.step(f"{scenario.id} {scenario.title} — {target.name}", estimate)
            if not (env.backend_child and env.backend_child.alive()):
                # Seen on a shared box: something outside the run ended the backend. Runs it
                # spoiled are flagged `backend-died`; the next target gets a fresh one.
                message = f"backend had exited before {scenario.id} {target.name}; restarted"
                print(f"devmesh bench: {message}", file=sys.stderr)
                meta["harness_errors"].append(message)
                start_backend(env)
            try:
                scenario.run(ctx, target)
            except StartError as e:
                if not env.backend_child.alive():
                    meta["harness_errors"].append(f"{scenario.id} {target.name}: backend exited: {e}")
                    continue
                # A target that cannot start (devmesh not wired yet, a bad binary) is skipped for
                # the rest of the run instead of failing once per scenario.
                print(f"devmesh bench: {e}; marking {target.name} unavailable", file=sys.stderr)
                available[target.name] = False
                meta["targets"][target.name].update(available=False, reason=str(e))
            except HarnessError as e:
                message = f"{scenario.id} {target.name}: {e}"
                print(f"devmesh bench: {message}", file=sys.stderr)
                meta["harness_errors"].append(message)
                if target.name == "devmesh" and not ctx.records_for(scenario.id, "devmesh"):
                    ctx.note(scenario.id, f"devmesh failed in this scenario: {e}")
            ctx.save()
    except KeyboardInterrupt as e:
        meta["interrupted"] = True
        print(f"devmesh bench: interrupted ({e or 'Ctrl-C'}); stopping everything", file=sys.stderr)
    except Exception:  # noqa: BLE001 - still clean up and write what was measured
        meta["harness_errors"].append(traceback.format_exc(limit=5))
        traceback.print_exc()
    finally:
        # A second signal must not cut the cleanup short.
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)
        supervisor.stop_all()
        meta["wall_seconds"] = round(time.monotonic() - started)
        ctx.save()
        write_reports(run_dir)
    print(f"devmesh bench: done in {meta['wall_seconds']} s; see {run_dir}/results.md", file=sys.stderr)
    return 1 if meta.get("interrupted") else 0


def write_reports(run_dir: Path) -> None:
    """results.md and the plots from results.json (also usable on an old run: `--report DIR`)."""
    document = json.loads((run_dir / "results.json").read_text())
    info = {s.id: (s.title, s.what) for s in SCENARIOS}
    (run_dir / "results.md").write_text(render_markdown(document, info))
    try:
        from .plots import make_plots
        make_plots(document, run_dir)
    except ImportError as e:
        print(f"devmesh bench: no plots ({e}); install matplotlib", file=sys.stderr)
