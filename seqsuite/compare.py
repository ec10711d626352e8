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

import dataclasses
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import tomli_w

from . import atomic, rundir
from . import config as configs
from .backbone import BackboneConfig
from .console_tables import format_value
from .errors import UserError
from .registry import discover, get_task

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
    if backbone_files and sweep:
        raise UserError("compare: --backbones and --sweep each name the backbones; give one")
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
    labels = [label for label, _ in variants]
    twice = sorted({label for label in labels if labels.count(label) > 1})
    if twice:  # each label is a run folder: the second would reuse the first
        raise UserError(
            f"compare: two backbones are both called {twice[0]!r} (files of one name, or a "
            "value given twice); give each its own name"
        )
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
    layers = atomic.folder_inside(out, ".configs")
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
    _, stderr = _wait_for(child)
    if child.returncode != 0 or not rundir.is_finished(run_dir):
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
    try:
        metrics = rundir.read_metrics(run_dir)
    except UserError as err:  # an earlier run in --out, its metrics.json edited since
        return Row(task=task, backbone=label, status="error", run_dir=str(run_dir), error=str(err))
    return Row.from_metrics(task, label, metrics, run_dir, metrics.get("peak_memory_mb"))


def _wait_for(child: subprocess.Popen) -> tuple[str, str]:
    """The child's output when it ends. Interrupted (Ctrl-C, or SIGTERM from ``timeout``,
    ``docker stop`` or a supervisor, which signal this process alone), the child is stopped
    too: it would otherwise train on, with nobody to read its result."""
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        return child.communicate()
    except BaseException:
        child.terminate()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        raise
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _terminated(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def make_plan(
    tasks: list[str],
    *,
    all_tasks: bool = False,
    config_files: list[str] = (),
    sets: list[str] = (),
    backbone_files: list[str] = (),
    sweep: str | None = None,
    quick: bool = False,
    seed: int | None = None,
    device: str | None = None,
) -> Plan:
    """A checked plan: every task installed and loading, no task twice, and every
    setting valid for every task and backbone, before anything trains."""
    infos = {i.name: i for i in discover()}
    if all_tasks:
        names = [n for n, i in infos.items() if i.ok and getattr(i.task, "comparable", True)]
    else:
        names = list(tasks)
    if not names:
        raise UserError(
            "name the tasks to compare (e.g. seqsuite compare forecast textgen) or use --all"
        )
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise UserError(f"compare: task {twice[0]!r} is named twice; name each task once")
    for name in names:
        if not getattr(get_task(name), "comparable", True):  # unknown or broken: exit 2 too
            raise UserError(
                f"compare: task {name!r} needs a backbone of its own shape and cannot share "
                f"one; train it with seqsuite run {name}"
            )
    common, per_task = route_sets(list(sets), names)
    plan = Plan(
        tasks=names,
        backbones=backbone_variants(list(config_files), list(backbone_files), sweep),
        config_files=list(config_files),
        common_sets=common,
        task_sets=per_task,
        quick=quick,
        seed=seed,
        device=device,
    )
    for name in names:
        check_settings(plan, infos[name].task)
    return plan


def check_settings(plan: Plan, task: Any) -> None:
    """Resolve the task's configuration as each child run will: a bad key or value fails
    here, naming the task, not after the tasks before it have trained."""
    quick = [(getattr(task, "quick", {}) or {}, "quick preset")] if plan.quick else []
    for label, backbone in plan.backbones:
        base = [*quick, ({"backbone": backbone}, f"backbone {label!r}")]
        try:
            configs.resolve(
                task, plan.config_files, plan.common_sets + plan.task_sets[task.name], base=base
            )
        except UserError as err:
            raise UserError(f"compare {task.name}: {err}") from None


def compare(plan: Plan, out: Path, progress=None) -> list[Row]:
    """Run every (task, backbone) pair of ``plan`` in turn, each in its own process."""
    infos = {i.name: i for i in discover()}
    rows = []
    for label, backbone in plan.backbones:
        for task in plan.tasks:
            if progress:
                progress(f"{task} / {label}")
            started = time.perf_counter()
            quick = getattr(infos[task].task, "quick", {}) or {}
            row = run_one(plan, task, label, backbone, out, quick)
            if progress:
                progress(f"{task} / {label}: {row.status} in {time.perf_counter() - started:.0f} s")
            rows.append(row)
    return rows


def run_comparison(plan: Plan, out: Path, command: str, progress=None) -> list[Row]:
    """The whole of ``seqsuite compare``: run the plan, then write compare.json, .csv,
    .md and plots/compare.png into ``out``."""
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise UserError(f"--out {out}: is not a folder; give a folder for the comparison")
    _check_earlier_comparison(out, command)
    out.mkdir(parents=True, exist_ok=True)
    rows = compare(plan, out, progress)
    write_outputs(rows, out, command)
    return rows


def _check_earlier_comparison(out: Path, command: str) -> None:
    """An ``--out`` that holds the summary of a comparison made by another command is
    refused before anything runs: its runs would refuse this one's settings, and the
    summary of their results would be replaced by rows of that refusal. The same command
    again finds its runs finished and writes the same summary."""
    earlier = out / "compare.json"
    if not earlier.exists():
        left = [name for name in ("compare.csv", "compare.md") if (out / name).exists()]
        if left:
            raise UserError(
                f"--out {out}: holds an earlier comparison's {left[0]} but not the "
                "compare.json that says which command made it; give another --out, or "
                "remove the folder to run this one there"
            )
        return
    saved = rundir.read_json(earlier, "an earlier comparison's summary")
    made_by = saved.get("command") if isinstance(saved, dict) else None
    if made_by != command:
        raise UserError(
            f"--out {out}: holds a comparison made by another command ({made_by!r}); "
            "give another --out, or remove the folder to run this one there"
        )


def default_out(root: str | Path = "runs") -> Path:
    return Path(root) / f"compare-{datetime.now().strftime('%Y%m%d-%H%M%S')}"


# -- outputs ------------------------------------------------------------------------------

#: the summary table's columns (terminal and Markdown); every field is in compare.csv/json
HEADERS = [
    "task",
    "backbone",
    "data",
    "metric",
    "seqsuite",
    "best baseline",
    "vs baseline",
    "params (backbone / task)",
    "train s",
    "samples/s",
    "peak MB",
]
NARROW = ["task", "backbone", "metric", "seqsuite", "best baseline", "vs baseline", "train s"]


def cells(r: Row) -> dict[str, str]:
    """One row of the summary table as plain text, by header."""
    if r.status != "ok":
        return {"task": r.task, "backbone": r.backbone, "seqsuite": f"failed: {r.error}"}
    return {
        "task": r.task,
        "backbone": r.backbone,
        "data": r.dataset,
        "metric": f"{r.primary_metric} {'↑' if r.higher_is_better else '↓'}",
        "seqsuite": format_value(r.value),
        "best baseline": f"{r.best_baseline} {format_value(r.baseline_value)}",
        "vs baseline": format_value(r.improvement, "pct"),
        "params (backbone / task)": f"{format_value(r.backbone_params)} / {format_value(r.head_params)}",
        "train s": format_value(r.train_seconds),
        "samples/s": format_value(r.samples_per_second),
        "peak MB": format_value(r.peak_memory_mb),
    }


def markdown(rows: list[Row], command: str) -> str:
    lines = [f"Command: `{command}`", "", "| " + " | ".join(HEADERS) + " |"]
    lines.append("|" + "---|" * len(HEADERS))
    for r in rows:
        row = cells(r)
        lines.append("| " + " | ".join(row.get(h, "") for h in HEADERS) + " |")
    return "\n".join(lines) + "\n"


def write_outputs(rows: list[Row], out: Path, command: str) -> None:
    data = [dataclasses.asdict(r) for r in rows]
    atomic.write_json(out / "compare.json", rundir.clean_json({"command": command, "rows": data}))
    atomic.write_csv(out / "compare.csv", data, COLUMNS)
    atomic.write_text(out / "compare.md", markdown(rows, command))
    plot(rows, out / "plots" / "compare.png")
    from .report_html import write_compare_report

    write_compare_report(out, data, command)


def table(rows: list[Row], width: int | None = None) -> Any:
    """The summary table for a terminal; below 120 columns only the columns that matter
    most (every figure is in compare.csv), so no cell is cut to a few letters."""
    import shutil

    from rich.table import Table

    width = width or shutil.get_terminal_size((100, 24)).columns
    headers = HEADERS if width >= 120 else NARROW
    if len({r.backbone for r in rows}) == 1:
        headers = [h for h in headers if h != "backbone"]
    out = Table(title="seqsuite compare (test split)")
    left = {"task", "backbone", "data", "metric", "best baseline"}
    for header in headers:
        out.add_column(header, justify="left" if header in left else "right", overflow="fold")
    for r in rows:
        row = cells(r)
        if r.status == "ok":
            color = "green" if (r.improvement or 0) >= 0 else "red"
            row["vs baseline"] = f"[{color}]{row['vs baseline']}[/]"
        else:
            row["seqsuite"] = f"[red]failed[/]: {r.error}"
        out.add_row(*(row.get(h, "") for h in headers))
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
        seconds = [max(r.train_seconds or 0, 1e-3) for r in ok]
        right.barh(list(y), seconds, color="tab:blue")
        if max(seconds) / min(seconds) > 20:  # spans decades: a 2 s bar stays visible beside 600 s
            right.set_xscale("log")
            right.set_xlim(min(seconds) / 2, max(seconds) * 8)
        else:
            right.set_xlim(0, 1.35 * max(seconds))
        for i, r in enumerate(ok):
            right.text(
                seconds[i],
                i,
                f" {(r.backbone_params or 0) + (r.head_params or 0):,} params",
                va="center",
                fontsize=8,
            )
    left.axvline(0, color="black", linewidth=0.8)
    left.set_xlabel("improvement over the best baseline (%, on each task's primary metric)")
    right.set_xlabel("training time (s)" + (", log scale" if right.get_xscale() == "log" else ""))
    failed = [r for r in rows if r.status != "ok"]
    title = "seqsuite compare" + (
        f" ({len(failed)} failed: {', '.join(r.task for r in failed)})" if failed else ""
    )
    fig.suptitle(title)
    save(fig, path)
