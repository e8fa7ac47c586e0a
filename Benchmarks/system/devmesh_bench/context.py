"""The state of one benchmark run: environment, mode, collected records, progress line."""

from __future__ import annotations

import json
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from .modes import Mode
from .procs import HarnessError, StartError
from .targets import H1_TO_H1, Environment, Hop, Routes, Running, Target


@dataclass
class Progress:
    """One line per step on stderr: position in the plan, elapsed time and an estimate of what is left."""

    total_estimate_s: float
    started: float = field(default_factory=time.monotonic)
    done_estimate_s: float = 0.0

    def step(self, label: str, estimate_s: float = 0.0) -> None:
        elapsed = time.monotonic() - self.started
        left = max(0.0, self.total_estimate_s - self.done_estimate_s)
        # Scale what is left by how far the real pace is from the estimated one.
        pace = elapsed / self.done_estimate_s if self.done_estimate_s > 30 else 1.0
        percent = 100.0 * min(1.0, self.done_estimate_s / max(self.total_estimate_s, 1.0))
        print(f"[bench {percent:3.0f}% | {_clock(elapsed)} elapsed | ~{_clock(left * pace)} left] {label}",
              file=sys.stderr, flush=True)
        self.done_estimate_s += estimate_s


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}"


@dataclass
class Context:
    env: Environment
    mode: Mode
    layout: str
    results_path: Path
    meta: dict[str, object]
    progress: Progress
    records: list[dict[str, object]] = field(default_factory=list)
    scenario_notes: dict[str, list[str]] = field(default_factory=dict)

    def add(self, record: dict[str, object]) -> None:
        self.records.append(record)

    def note(self, scenario: str, text: str) -> None:
        self.scenario_notes.setdefault(scenario, []).append(text)

    def records_for(self, scenario: str, target: str | None = None, variant: str | None = None) -> list[dict]:
        return [r for r in self.records if r["scenario"] == scenario
                and (target is None or r["target"] == target) and (variant is None or r["variant"] == variant)]

    @contextmanager
    def started(self, target: Target, routes: Routes | None = None, hop: Hop = H1_TO_H1) -> Iterator[Running]:
        """Start `target` fresh for one scenario (on `hop`) and stop it afterwards, whatever happens."""
        try:
            running = target.start(self.env, routes, hop)
        except HarnessError as e:
            # Leave nothing half-started behind (a proxy that runs but failed its checks).
            for child in [c for c in self.env.supervisor.children if c.name == target.name]:
                self.env.supervisor.stop(child)
            raise StartError(f"{target.name} failed to start: {e}") from e
        try:
            yield running
        finally:
            target.stop(self.env, running)

    def save(self) -> None:
        """Write results.json (after every scenario, so an interrupted run keeps what it measured)."""
        document = {"meta": self.meta, "records": self.records, "notes": self.scenario_notes}
        tmp = self.results_path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(document, indent=1, sort_keys=False))
        tmp.replace(self.results_path)
