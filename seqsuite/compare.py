"""``seqsuite compare``: several tasks on one backbone configuration, side by side.

Each (task, backbone) pair runs as its own ``seqsuite run`` in a child process, so a
failing task (bad data, a broken plugin, a crash) only fails its row, and the peak
memory of each run is measured on its own. The backbone is the same for every task:
the core defaults, overlaid with ``[backbone]`` of ``--config`` files, then one of
``--backbones``/``--sweep``; task-specific backbone defaults do not apply here.

Settings: ``--set backbone.hidden_size=128`` applies to all tasks, ``--set
forecast.lookback=24`` to the forecast task's ``[task]`` section only, ``--set
textgen.train.epochs=3`` to one section of one task. ``--quick`` first applies each
task's ``quick`` preset (small epochs or data) so the comparison takes minutes.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import tomli_w

from . import atomic, runs
from . import config as configs
from .backbone import BackboneConfig
from .errors import UserError
from .registry import discover

COLUMNS = [
    "task",
    "backbone",
    "status",
    "dataset",
    "primary_metric",
    "higher_is_better",
    "value",
    "best_baseline",
    "baseline_value",
    "improvement",
    "backbone_params",
    "head_params",
    "train_seconds",
    "samples_per_second",
    "timesteps_per_second",
    "peak_memory_mb",
    "run_dir",
    "error",
]


@dataclass
class Row:
    task: str
    backbone: str
    status: str = "error"
    dataset: str = ""
    primary_metric: str = ""
    higher_is_better: bool | None = None
    value: float | None = None
    best_baseline: str = ""
    baseline_value: float | None = None
    improvement: float | None = None  # relative, positive = better than the best baseline
    backbone_params: int | None = None
    head_params: int | None = None  # the task's own parts: input adapter + head
    train_seconds: float | None = None
    samples_per_second: float | None = None
    timesteps_per_second: float | None = None
    peak_memory_mb: float | None = None
    run_dir: str = ""
    error: str = ""

    @classmethod
    def from_metrics(
        cls, task: str, backbone: str, metrics: dict[str, Any], run_dir: Path, peak_mb: float
    ) -> Row:
        primary, higher = metrics["primary_metric"], metrics["higher_is_better"]
        value = metrics["test"].get(primary)
        best_name, best = "", None
        for name, scores in metrics.get("baselines", {}).items():
            score = scores.get(primary)
            if score is None:
                continue
            if best is None or (score > best if higher else score < best):
                best_name, best = name, score
        improvement = None
        if value is not None and best:
            improvement = (value - best) / abs(best) if higher else (best - value) / abs(best)
        parts = metrics.get("params_by_part", {})
        return cls(
            task=task,
            backbone=backbone,
            status="ok",
            dataset=metrics.get("dataset", ""),
            primary_metric=primary,
            higher_is_better=higher,
            value=value,
            best_baseline=best_name,
            baseline_value=best,
            improvement=improvement,
            backbone_params=parts.get("backbone"),
            head_params=(parts.get("adapter", 0) + parts.get("head", 0)) if parts else None,
            train_seconds=metrics.get("train_seconds"),
            samples_per_second=metrics.get("samples_per_second"),
            timesteps_per_second=metrics.get("timesteps_per_second"),
            peak_memory_mb=peak_mb,
            run_dir=str(run_dir),
        )


@dataclass
class Plan:
    """What to compare: tasks x backbones, with the settings for each run."""

    tasks: list[str]
    backbones: list[tuple[str, dict[str, Any]]]  # (label, full [backbone] values)
    config_files: list[str] = field(default_factory=list)
    common_sets: list[str] = field(default_factory=list)
    task_sets: dict[str, list[str]] = field(default_factory=dict)
    quick: bool = False
    seed: int | None = None
    device: str | None = None


def route_sets(sets: list[str], tasks: list[str]) -> tuple[list[str], dict[str, list[str]]]:
    """Split ``--set`` pairs into those for every task and those for one task."""
    common, per_task = [], {t: [] for t in tasks}
    for pair in sets:
        if "=" not in pair:
            raise UserError(f"--set {pair!r}: expected KEY=VALUE")
        key, value = pair.split("=", 1)
        head, _, rest = key.partition(".")
        if head in configs.SECTIONS:
            common.append(pair)
        elif head in per_task:
            section_key = rest if rest.split(".")[0] in configs.SECTIONS else f"task.{rest}"
            per_task[head].append(f"{section_key}={value}")
        else:
            raise UserError(
                f"--set {pair!r}: {head!r} is neither a section ({', '.join(configs.SECTIONS)}) "
                f"nor one of the compared tasks ({', '.join(tasks)})"
            )
    return common, per_task


def backbone_variants(
    config_files: list[str], backbone_files: list[str], sweep: str | None
) -> list[tuple[str, dict[str, Any]]]:
    """The backbone configurations to compare, each complete (every field set)."""
    base = dataclasses.asdict(BackboneConfig())
    for path in config_files:
        base.update(configs.read_toml(path).get("backbone", {}))
    variants: list[tuple[str, dict[str, Any]]] = []
    for path in backbone_files:
        values = dict(base)
        values.update(configs.read_toml(path).get("backbone", {}))
        variants.append((Path(path).stem, values))
    if sweep:
        if "=" not in sweep or not sweep.startswith("backbone."):
            raise UserError(f"--sweep {sweep!r}: expected backbone.KEY=V1,V2,...")
        key, values = sweep[len("backbone.") :].split("=", 1)
        if key not in base:
            raise UserError(
                configs.unknown_key_message(f"backbone.{key}", [f"backbone.{k}" for k in base])
            )
        for raw in values.split(","):
            variants.append(
                (f"{key}={raw.strip()}", {**base, key: configs.parse_value(raw.strip())})
            )
    if not variants:
        variants = [("default", base)]
    for label, values in variants:  # check each once, before hours of training
        try:
            configs.build(BackboneConfig, values, "backbone")
        except UserError as err:
            raise UserError(f"backbone {label!r}: {err}") from None
    return variants


def run_one(
    plan: Plan, task: str, label: str, backbone: dict[str, Any], out: Path, quick_preset: dict
) -> Row:
    run_dir = out / (task if len(plan.backbones) == 1 else f"{task}-{label}")
    layers = out / ".configs"
    layers.mkdir(parents=True, exist_ok=True)
    files: list[str] = []
    if plan.quick and quick_preset:
        quick_file = layers / f"{task}-quick.toml"
        atomic.write_text(quick_file, tomli_w.dumps(quick_preset))
        files.append(str(quick_file))
    files += plan.config_files
    backbone_file = layers / f"backbone-{label}.toml"
    atomic.write_text(backbone_file, tomli_w.dumps({"backbone": backbone}))
    files.append(str(backbone_file))
    command = [sys.executable, "-m", "seqsuite", "run", task, "--out", str(run_dir), "--quiet"]
    for path in files:
        command += ["--config", path]
    for pair in plan.common_sets + plan.task_sets.get(task, []):
        command += ["--set", pair]
    if plan.seed is not None:
        command += ["--seed", str(plan.seed)]
    if plan.device:
        command += ["--device", plan.device]
    child = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy()
    )
    _, stderr = child.communicate()
    if child.returncode != 0 or not runs.is_finished(run_dir):
        lines = [line for line in stderr.strip().splitlines() if line.strip()]
        message = next(
            (line for line in reversed(lines) if line.startswith("error:")),
            lines[-1] if lines else "",
        )
        return Row(
            task=task,
            backbone=label,
            status="error",
            run_dir=str(run_dir),
            error=f"exit {child.returncode}: {message.removeprefix('error: ')}"[:300],
        )
    metrics = json.loads((run_dir / runs.METRICS).read_text())
    return Row.from_metrics(task, label, metrics, run_dir, metrics.get("peak_memory_mb"))


def compare(plan: Plan, out: Path, progress=None) -> list[Row]:
    infos = {i.name: i for i in discover()}
    rows = []
    for label, backbone in plan.backbones:
        for task in plan.tasks:
            info = infos.get(task)
            if info is None:
                rows.append(Row(task=task, backbone=label, error="not installed"))
                continue
            if not info.ok:
                rows.append(
                    Row(task=task, backbone=label, error=f"plugin failed to load: {info.error}")
                )
                continue
            if progress:
                progress(f"{task} / {label}")
            started = time.perf_counter()
            row = run_one(plan, task, label, backbone, out, getattr(info.task, "quick", {}) or {})
            if progress:
                progress(f"{task} / {label}: {row.status} in {time.perf_counter() - started:.0f} s")
            rows.append(row)
    return rows


def default_out(root: str | Path = "runs") -> Path:
    return Path(root) / f"compare-{datetime.now().strftime('%Y%m%d-%H%M%S')}"


# -- outputs ------------------------------------------------------------------------------


def _fmt(value: Any, kind: str = "") -> str:
    if value is None or value == "":
        return "–"
    if kind == "pct":
        return f"{100 * value:+.1f} %"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def markdown(rows: list[Row], command: str) -> str:
    lines = [
        f"Command: `{command}`",
        "",
        "| task | backbone | data | metric | seqsuite | best baseline | vs baseline | backbone / task params | train s | samples/s | peak MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r.status != "ok":
            lines.append(f"| {r.task} | {r.backbone} | – | – | **failed**: {r.error} | | | | | | |")
            continue
        arrow = "↑" if r.higher_is_better else "↓"
        lines.append(
            f"| {r.task} | {r.backbone} | {r.dataset} | {r.primary_metric} {arrow} | {_fmt(r.value)} | "
            f"{r.best_baseline} {_fmt(r.baseline_value)} | {_fmt(r.improvement, 'pct')} | "
            f"{_fmt(r.backbone_params)} / {_fmt(r.head_params)} | {_fmt(r.train_seconds)} | "
            f"{_fmt(r.samples_per_second)} | {_fmt(r.peak_memory_mb)} |"
        )
    return "\n".join(lines) + "\n"


def write_outputs(rows: list[Row], out: Path, command: str) -> None:
    data = [dataclasses.asdict(r) for r in rows]
    atomic.write_json(out / "compare.json", runs.clean_json({"command": command, "rows": data}))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(data)
    atomic.write_text(out / "compare.csv", buffer.getvalue())
    atomic.write_text(out / "compare.md", markdown(rows, command))
    plot(rows, out / "plots" / "compare.png")


def table(rows: list[Row]) -> Any:
    from rich.table import Table

    out = Table(title="seqsuite compare (test split)")
    for column in (
        "task",
        "backbone",
        "data",
        "metric",
        "seqsuite",
        "best baseline",
        "vs baseline",
        "params (backbone/task)",
        "train s",
        "samples/s",
        "peak MB",
    ):
        out.add_column(
            column,
            justify="right"
            if column not in ("task", "backbone", "data", "metric", "best baseline")
            else "left",
        )
    for r in rows:
        if r.status != "ok":
            out.add_row(
                r.task, r.backbone, "", "", f"[red]failed[/]: {r.error}", "", "", "", "", "", ""
            )
            continue
        gain = _fmt(r.improvement, "pct")
        color = "green" if (r.improvement or 0) >= 0 else "red"
        out.add_row(
            r.task,
            r.backbone,
            r.dataset,
            f"{r.primary_metric} {'↑' if r.higher_is_better else '↓'}",
            _fmt(r.value),
            f"{r.best_baseline} {_fmt(r.baseline_value)}",
            f"[{color}]{gain}[/]",
            f"{_fmt(r.backbone_params)} / {_fmt(r.head_params)}",
            _fmt(r.train_seconds),
            _fmt(r.samples_per_second),
            _fmt(r.peak_memory_mb),
        )
    return out


def plot(rows: list[Row], path: Path) -> None:
    """Left: each run's relative improvement over its best baseline; right: its cost."""
    from .plots import plt, save

    ok = [r for r in rows if r.status == "ok"]
    labels = [
        f"{r.task}" + (f"\n{r.backbone}" if len({x.backbone for x in rows}) > 1 else "") for r in ok
    ]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 0.6 * max(len(ok), 2) + 1.8), sharey=True)
    if ok:
        y = range(len(ok))
        gains = [100 * (r.improvement or 0.0) for r in ok]
        left.barh(list(y), gains, color=["tab:green" if g >= 0 else "tab:red" for g in gains])
        for i, (r, g) in enumerate(zip(ok, gains, strict=True)):
            # labels start right of the bar or of zero, never over the task names
            left.text(max(g, 0), i, f" {g:+.1f} % vs {r.best_baseline}", va="center", fontsize=8)
        low, high = min(gains + [0]), max(gains + [0])
        span = (high - low) or 1.0
        left.set_xlim(low - 0.05 * span, high + 0.6 * span)
        left.set_yticks(list(y), labels)
        right.barh(list(y), [r.train_seconds or 0 for r in ok], color="tab:blue")
        right.set_xlim(0, 1.35 * max([r.train_seconds or 0 for r in ok] + [1e-9]))
        for i, r in enumerate(ok):
            right.text(
                r.train_seconds or 0,
                i,
                f" {(r.backbone_params or 0) + (r.head_params or 0):,} params",
                va="center",
                fontsize=8,
            )
    left.axvline(0, color="black", linewidth=0.8)
    left.set_xlabel("improvement over the best baseline (%, on each task's primary metric)")
    right.set_xlabel("training time (s)")
    failed = [r for r in rows if r.status != "ok"]
    title = "seqsuite compare" + (
        f" ({len(failed)} failed: {', '.join(r.task for r in failed)})" if failed else ""
    )
    fig.suptitle(title)
    save(fig, path)
