"""PNG plots of a run (matplotlib, headless): latency against offered rate, CPU per request, memory.

Only valid runs are drawn; every chart names the CPU layout, since numbers from different layouts
are not comparable.
"""

from __future__ import annotations

from pathlib import Path

from .report import TARGET_ORDER, aggregate

COLORS = {"direct": "#555555", "l4": "#999999", "nginx": "#2a9d4b", "haproxy": "#1f6fb4",
          "envoy": "#d9822b", "nghttpx": "#8e44ad", "devmesh": "#c0392b"}


def make_plots(document: dict, out_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    summary = aggregate(document["records"])
    layout = document["meta"].get("layout_text", "")
    made = []
    if "S1" in summary:
        made += _latency_vs_rate(summary["S1"], layout, out_dir)
    cpu = _cpu_per_request(summary, layout, out_dir)
    if cpu:
        made.append(cpu)
    if "S8" in summary:
        made.append(_memory_per_connection(summary["S8"], layout, out_dir))
    return made


def _latency_vs_rate(s1: dict, layout: str, out_dir: Path) -> list[Path]:
    import matplotlib.pyplot as plt

    by_clients: dict[int, dict[str, list[tuple[float, dict]]]] = {}
    for variant, targets in s1.items():
        if not variant.endswith(tuple(f"c{c}" for c in range(1, 10000))) or "rps" not in variant:
            continue
        clients = int(variant.rsplit("c", 1)[1])
        for name, s in targets.items():
            if s["from_rejected"] or not s.get("latency_us") or not s.get("offered_rps"):
                continue
            by_clients.setdefault(clients, {}).setdefault(name, []).append((s["offered_rps"], s["latency_us"]))
    paths = []
    for clients, series in sorted(by_clients.items()):
        fig, axes = plt.subplots(1, 4, figsize=(18, 4.8), sharex=True)
        for ax, percentile in zip(axes, ("p50", "p99", "p99.9", "max")):
            for name in sorted(series, key=lambda n: TARGET_ORDER.index(n) if n in TARGET_ORDER else 99):
                points = sorted(series[name], key=lambda p: p[0])
                ax.plot([p[0] for p in points], [p[1][percentile] for p in points], marker="o",
                        label=name, color=COLORS.get(name))
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_title(f"{percentile} latency")
            ax.set_xlabel("offered rate (req/s)")
            ax.grid(True, which="both", alpha=0.3)
        axes[0].set_ylabel("µs")
        axes[0].legend()
        fig.suptitle(f"S1 keep-alive GET, {clients} connections, open loop (h2load); rejected runs omitted. {layout}",
                     fontsize=10)
        fig.tight_layout()
        path = out_dir / f"s1_latency_vs_rate_c{clients}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths


def _cpu_per_request(summary: dict, layout: str, out_dir: Path) -> Path | None:
    import matplotlib.pyplot as plt

    panels = [(sc, v) for sc in ("S1", "S2", "S3", "S4", "S4b", "S6", "S7", "S9") if sc in summary
              for v in [summary[sc]]]
    panels = [(sc, v) for sc, v in panels
              if any(s["is_proxy"] and not s["from_rejected"] and s.get("cpu_us_per_req")
                     for targets in v.values() for s in targets.values())]
    if not panels:
        return None
    fig, axes = plt.subplots(len(panels), 1, figsize=(14, 3.6 * len(panels)), squeeze=False)
    for ax, (scenario, variants) in zip(axes[:, 0], panels):
        proxies = sorted({n for t in variants.values() for n, s in t.items() if s["is_proxy"]},
                         key=lambda n: TARGET_ORDER.index(n) if n in TARGET_ORDER else 99)
        width = 0.8 / max(len(proxies), 1)
        labels = list(variants)
        for i, name in enumerate(proxies):
            xs, ys = [], []
            for j, variant in enumerate(labels):
                s = variants[variant].get(name)
                if s and not s["from_rejected"] and s.get("cpu_us_per_req"):
                    xs.append(j + i * width)
                    ys.append(s["cpu_us_per_req"]["median"])
            ax.bar(xs, ys, width=width, label=name, color=COLORS.get(name))
        ax.set_xticks([j + 0.4 - width / 2 for j in range(len(labels))])
        ax.set_xticklabels(labels, fontsize=8)
        heights = [bar.get_height() for bar in ax.patches if bar.get_height() > 0]
        if heights and max(heights) > 20 * min(heights):
            ax.set_yscale("log")  # S2: 1 MiB bodies cost 30x a 1 KiB one; keep the small bars readable
        ax.set_ylabel("proxy CPU µs / request")
        ax.set_title(f"{scenario}: CPU per request (user+system, all threads)", fontsize=10)
        ax.grid(True, axis="y", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(layout, fontsize=9)
    fig.tight_layout()
    path = out_dir / "cpu_per_request.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _memory_per_connection(s8: dict, layout: str, out_dir: Path) -> Path:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4.5))
    levels = list(s8)
    names = sorted({n for t in s8.values() for n in t}, key=lambda n: TARGET_ORDER.index(n) if n in TARGET_ORDER else 99)
    width = 0.8 / max(len(names), 1)
    for i, name in enumerate(names):
        xs, ys = [], []
        for j, level in enumerate(levels):
            s = s8[level].get(name)
            if s and not s["from_rejected"] and s.get("bytes_per_conn"):
                xs.append(j + i * width)
                ys.append(s["bytes_per_conn"]["median"] / 1024)
        ax.bar(xs, ys, width=width, label=name, color=COLORS.get(name))
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(levels))])
    ax.set_xticklabels(levels)
    ax.set_ylabel("KiB of RSS per idle connection")
    ax.set_title(f"S8 memory per idle keep-alive connection. {layout}", fontsize=9)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = out_dir / "s8_memory_per_connection.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
