"""How long and how often: the quick mode (a few minutes, every day, CI smoke) and the full mode.

The full mode follows notes/benchmarks.md §1: warm up 5 s, measure 30 s, three runs per point.
The quick mode keeps every scenario and every measurement but shortens and thins them, so its
numbers show trends and catch breakage; publish only full-mode numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

KIB = 1024
MIB = 1024 * 1024


@dataclass(frozen=True)
class BodyCase:
    """One S2 point: a method and a body size, at a fixed offered rate."""

    method: str        # "GET": the response carries the body; "POST": the request does
    size: int
    rate: int

    @property
    def label(self) -> str:
        size = f"{self.size // MIB} MiB" if self.size >= MIB else f"{self.size // KIB} KiB"
        return f"{self.method} {size}"


@dataclass(frozen=True)
class Mode:
    name: str
    warmup_s: float            # a separate, unmeasured run before each measured one
    measure_s: float
    repeats: int               # runs per point (min / median / max are shown)
    s0_repeats: int            # calibration runs of direct and the L4 floor
    s0_rate: int               # a low open-loop rate for the calibration latency
    s1_max_connections: int    # wrk closed-loop connections for S1-max
    s1_rates: tuple[int, ...]  # open-loop sweep (total rps); stops at the first rate a target misses
    s1_connections: tuple[int, ...]
    strace_requests: int       # requests traced for syscalls per request
    s2_cases: tuple[BodyCase, ...]
    s2_connections: int
    s3_connections: int
    s8_levels: tuple[int, ...]
    s9_route_counts: tuple[int, ...]
    s9_rate: int
    s10_measure_s: float
    s10_reload_every_s: float
    s10_fallback_rate: int     # used when no S1-max figure is known for the run
    # HTTP/2 and gRPC (notes/benchmarks.md §3). A shape is (connections, streams per connection).
    s4_max_shapes: tuple[tuple[int, int], ...]   # closed-loop maximum (h2load without --rps)
    s4_rates: tuple[int, ...]                    # open-loop sweep at the headline shape
    s4b_rates: tuple[int, ...]                   # open-loop points of each S4b hop
    s6_sizes: tuple[int, ...]                    # protobuf message bytes (request and response)
    s6_rates: tuple[int, ...]                    # open-loop sweep per size, stops at the first miss
    s6l_millicores: tuple[int, ...]              # CPU limits (thousandths of a core) for S6L's closed loop
    s7_points: tuple[tuple[int, int, int], ...]  # (connections, streams, messages/s per stream)
    s11_sandboxes: int = 10_000  # sandboxes in the agent for the control-plane scenario
    s11_changes: int = 50        # delete + create rounds timed at that size

    def with_overrides(self, repeats: int | None, measure_s: float | None) -> "Mode":
        mode = self
        if repeats is not None:
            mode = replace(mode, repeats=repeats, s0_repeats=max(repeats, 1))
        if measure_s is not None:
            mode = replace(mode, measure_s=measure_s)
        return mode

    def with_settings(self, settings: list[str]) -> "Mode":
        """`FIELD=V1,V2,…` overrides of integer tuples (a sweep's rates, sizes, connection counts)
        and integers, to narrow a run to the points being studied, e.g. `s6_rates=10000,20000`."""
        mode = self
        for setting in settings:
            name, _, text = setting.partition("=")
            current = getattr(mode, name, None)
            try:
                values = tuple(int(v) for v in text.split(",") if v.strip())
            except ValueError:
                raise ValueError(f"--set {setting}: values must be integers") from None
            if isinstance(current, tuple) and all(isinstance(v, int) for v in current) and values:
                mode = replace(mode, **{name: values})
            elif isinstance(current, int) and not isinstance(current, bool) and len(values) == 1:
                mode = replace(mode, **{name: values[0]})
            else:
                raise ValueError(f"--set {setting}: {name!r} is not an integer or integer-list setting of the mode")
        return mode


#: The issue's headline HTTP/2 point: 16 connections × 32 streams.
S4_HEADLINE = (16, 32)
#: The gRPC unary load shape of the notes' example command (h2load -c4 -m32).
S6_SHAPE = (4, 32)
#: The notes' S4 matrix: streams per connection 1/10/100 × clients 1/4/16, plus the headline.
_S4_MATRIX = tuple((c, m) for c in (1, 4, 16) for m in (1, 10, 100)) + (S4_HEADLINE,)

_BODIES = (BodyCase("GET", KIB, 2000), BodyCase("GET", 64 * KIB, 1000), BodyCase("GET", MIB, 100),
           BodyCase("POST", KIB, 2000), BodyCase("POST", 64 * KIB, 1000), BodyCase("POST", MIB, 100))

QUICK = Mode(name="quick", warmup_s=1, measure_s=2, repeats=1, s0_repeats=3, s0_rate=1000,
             s1_max_connections=64, s1_rates=(1000, 5000, 20000), s1_connections=(16,),
             strace_requests=5000, s2_cases=_BODIES, s2_connections=16, s3_connections=32,
             s8_levels=(1000, 10000), s9_route_counts=(1, 100, 10000), s9_rate=2000,
             s10_measure_s=8, s10_reload_every_s=2, s10_fallback_rate=2000,
             s4_max_shapes=((1, 1), (4, 10), S4_HEADLINE, (16, 100)), s4_rates=(5000, 20000),
             s4b_rates=(5000,), s6_sizes=(100, 4096), s6_rates=(2000, 10000), s6l_millicores=(250,),
             s7_points=((2, 16, 50),),
             s11_sandboxes=10_000, s11_changes=50)

FULL = Mode(name="full", warmup_s=5, measure_s=30, repeats=3, s0_repeats=5, s0_rate=1000,
            s1_max_connections=64, s1_rates=(1000, 2000, 5000, 10000, 20000, 40000),
            s1_connections=(16, 64, 256), strace_requests=50000, s2_cases=_BODIES, s2_connections=16,
            s3_connections=32, s8_levels=(1000, 10000), s9_route_counts=(1, 100, 10000), s9_rate=5000,
            s10_measure_s=60, s10_reload_every_s=5, s10_fallback_rate=5000,
            s4_max_shapes=_S4_MATRIX, s4_rates=(5000, 10000, 20000, 40000, 80000), s4b_rates=(5000, 20000),
            s6_sizes=(100, 4096), s6_rates=(1000, 2500, 5000, 10000, 20000, 40000), s6l_millicores=(250, 500),
            s7_points=((2, 16, 50), (4, 64, 25)),
            s11_sandboxes=10_000, s11_changes=200)

MODES = {m.name: m for m in (QUICK, FULL)}
