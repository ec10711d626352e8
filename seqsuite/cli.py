"""The ``seqsuite`` command line: parse, call :mod:`seqsuite.runner`, print.

Exit codes: 0 success; 2 the user's input or usage is wrong (one line on stderr);
1 an unexpected failure (with its traceback); 130 interrupted (resume it).
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Annotated

import click
import typer
from rich.console import Console
from rich.table import Table

from . import runner
from .errors import UserError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Sequence applications on one shared LSTM core.",
)

_ARGV: list[str] = []  # the command line, for files that say which command made them
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar, no tables.")]
Json = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")]


@app.command("tasks")
def tasks_command(as_json: Json = False) -> None:
    """List the installed task plugins (entry-point group seqsuite.tasks)."""
    from .registry import discover

    infos = discover()
    if as_json:
        print(json.dumps([i.as_json() for i in infos], indent=2))
        return
    table = Table(title="seqsuite tasks")
    for column in ("name", "summary", "distribution", "status"):
        table.add_column(column)
    for info in infos:
        status = "[green]ok[/]" if info.ok else f"[red]error:[/] {info.error}"
        table.add_row(info.name, info.summary, info.distribution, status)
    Console().print(table)


@app.command("config")
def config_command(
    task: Annotated[str, typer.Argument(help="Task name.")],
    config: Annotated[
        list[str] | None, typer.Option("--config", help="TOML config file (repeatable).")
    ] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="KEY=VALUE override.")] = None,
) -> None:
    """Print TASK's resolved configuration as TOML: a starting point to copy and edit."""
    from . import config as configs
    from .registry import get_task

    print(configs.resolve(get_task(task), config or [], set_ or []).to_toml(), end="")


@app.command("export")
def export_command(
    run_dir: Annotated[str, typer.Argument(help="A finished run directory.")],
    fmt: Annotated[str, typer.Option("--format", help="onnx or torchscript.")] = "onnx",
    out: Annotated[
        str | None, typer.Option(help="Output file (default RUN_DIR/export/model.*).")
    ] = None,
) -> None:
    """Export the trained model (input adapter + backbone + head) for serving."""
    runner.export(run_dir, fmt, out)


@app.command("new-task")
def new_task_command(
    name: Annotated[str, typer.Argument(help="The new task's name (lower case, e.g. video).")],
    dir_: Annotated[
        str | None, typer.Option("--dir", help="Where to write it (default ./seqsuite-NAME).")
    ] = None,
) -> None:
    """Write a complete, installable task plugin to start from (pip install -e it)."""
    from .scaffold import new_task

    root = new_task(name, dir_)
    print(f"wrote {root}; next: pip install -e {root} && seqsuite run {name}")


@app.command("run")
def run_command(
    task: Annotated[str, typer.Argument(help="Task name (see `seqsuite tasks`).")],
    data: Annotated[str | None, typer.Option(help="Your own data: a file or folder.")] = None,
    dataset: Annotated[str | None, typer.Option(help="A named data set.")] = None,
    config: Annotated[
        list[str] | None, typer.Option("--config", help="TOML config file (repeatable).")
    ] = None,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="KEY=VALUE override, e.g. train.lr=3e-4.")
    ] = None,
    epochs: Annotated[int | None, typer.Option(help="Maximum epochs.")] = None,
    time_budget: Annotated[
        float | None, typer.Option(help="Stop training after this many seconds.")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed for every random choice.")] = None,
    device: Annotated[str | None, typer.Option(help="auto, cpu or cuda.")] = None,
    init_from: Annotated[
        str | None, typer.Option(help="Start the backbone from this run directory.")
    ] = None,
    out: Annotated[
        str | None, typer.Option(help="Run directory (default runs/<task>-<time>).")
    ] = None,
    nproc: Annotated[
        int, typer.Option(help="Train in N processes (DDP) through torch.distributed.run.")
    ] = 1,
    quick: Annotated[
        bool, typer.Option("--quick", help="The task's quick preset: minutes, not hours.")
    ] = False,
    quiet: Quiet = False,
    as_json: Json = False,
) -> None:
    """Train and evaluate TASK; write a run directory with metrics, checkpoints and plots."""
    from . import distributed

    if nproc > 1 and not distributed.requested():
        raise typer.Exit(code=distributed.launch(nproc, _without_nproc(_ARGV)))
    result = runner.run(
        task,
        config_files=config or [],
        sets=set_ or [],
        epochs=epochs,
        time_budget=time_budget,
        seed=seed,
        device=device,
        data=data,
        dataset=dataset,
        init_from=init_from,
        out=out,
        quiet=quiet or as_json,
        quick=quick,
    )
    if not distributed.is_main():
        return
    if as_json:
        print(json.dumps({"run_dir": str(result.run_dir), **result.metrics}, indent=2))
    elif quiet:
        print(result.run_dir)


@app.command("resume")
def resume_command(
    run_dir: Annotated[str, typer.Argument(help="An interrupted run directory.")],
    quiet: Quiet = False,
) -> None:
    """Continue an interrupted run from its last checkpoint."""
    result = runner.resume(run_dir, quiet=quiet)
    if quiet:
        print(result.run_dir)


@app.command("eval")
def eval_command(
    run_dir: Annotated[str, typer.Argument(help="A finished run directory.")],
    data: Annotated[str | None, typer.Option(help="Evaluate on this data instead.")] = None,
    as_json: Json = False,
) -> None:
    """Evaluate a run's best checkpoint on its test split (or on --data)."""
    metrics = runner.evaluate(run_dir, data=data, quiet=as_json)
    if as_json:
        print(json.dumps(metrics, indent=2))


@app.command("predict")
def predict_command(
    run_dir: Annotated[str, typer.Argument(help="A finished run directory.")],
    inputs: Annotated[
        list[str] | None, typer.Argument(help="Inputs (texts, files), per task.")
    ] = None,
    horizon: Annotated[
        int | None, typer.Option(help="Forecast this many steps past the data.")
    ] = None,
    data: Annotated[
        str | None, typer.Option(help="Predict for every row/file of this data.")
    ] = None,
    out: Annotated[
        str | None, typer.Option(help="Write predictions to this CSV or JSON file.")
    ] = None,
    as_json: Json = False,
) -> None:
    """Predict with a trained run: forecast ahead, classify texts or WAV files, ..."""
    options = {"horizon": horizon, "data": data}
    rows = runner.predict(
        run_dir, inputs or [], {k: v for k, v in options.items() if v is not None}, quiet=as_json
    )
    if out:
        _write_rows(out, rows)
    if as_json:
        print(json.dumps(rows, indent=2, default=str))
    else:
        from .tables import print_rows

        print_rows(Console(), rows)
        if out:
            Console().print(f"wrote {out}")


@app.command("generate")
def generate_command(
    run_dir: Annotated[str, typer.Argument(help="A finished run of a generative task.")],
    length: Annotated[int, typer.Option(help="How many tokens/events to generate.")] = 200,
    temperature: Annotated[float, typer.Option(help="Sampling temperature.")] = 1.0,
    top_k: Annotated[int, typer.Option(help="Sample among the k most likely (0 = all).")] = 0,
    prompt: Annotated[str | None, typer.Option(help="Text (or piece) to start from.")] = None,
    seed: Annotated[int, typer.Option(help="Sampling seed.")] = 0,
    out: Annotated[str | None, typer.Option(help="Write the sample to this file.")] = None,
) -> None:
    """Generate a sample from a trained generative run."""
    options = {
        "length": length,
        "temperature": temperature,
        "top_k": top_k,
        "prompt": prompt,
        "seed": seed,
        "out": out,
    }
    runner.generate(run_dir, options)


@app.command("compare")
def compare_command(
    tasks: Annotated[list[str] | None, typer.Argument(help="Tasks to compare (or --all).")] = None,
    all_tasks: Annotated[bool, typer.Option("--all", help="Every installed task.")] = False,
    config: Annotated[
        list[str] | None, typer.Option("--config", help="TOML config file (repeatable).")
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="KEY=VALUE for all; TASK.KEY=VALUE for one task."),
    ] = None,
    backbones: Annotated[
        list[str] | None, typer.Option("--backbones", help="Backbone TOML files to compare.")
    ] = None,
    sweep: Annotated[str | None, typer.Option(help="e.g. backbone.hidden_size=64,128,256")] = None,
    quick: Annotated[
        bool, typer.Option("--quick", help="Small epochs/data: minutes, not hours.")
    ] = False,
    seed: Annotated[int | None, typer.Option(help="Seed for every task.")] = None,
    device: Annotated[str | None, typer.Option(help="auto, cpu or cuda.")] = None,
    out: Annotated[
        str | None, typer.Option(help="Output folder (default runs/compare-<time>).")
    ] = None,
    as_json: Json = False,
) -> None:
    """Train and evaluate several tasks on one backbone configuration; table, files, plot."""
    from . import compare as comparing
    from .registry import discover

    names = [i.name for i in discover()] if all_tasks else list(tasks or [])
    if not names:
        raise UserError(
            "name the tasks to compare (e.g. seqsuite compare forecast textgen) or use --all"
        )
    common, per_task = comparing.route_sets(set_ or [], names)
    plan = comparing.Plan(
        tasks=names,
        backbones=comparing.backbone_variants(config or [], backbones or [], sweep),
        config_files=config or [],
        common_sets=common,
        task_sets=per_task,
        quick=quick,
        seed=seed,
        device=device,
    )
    folder = Path(out) if out else comparing.default_out()
    folder.mkdir(parents=True, exist_ok=True)
    console = Console(stderr=True, quiet=as_json)
    rows = comparing.compare(
        plan, folder, progress=lambda line: console.print(line, highlight=False)
    )
    command = "seqsuite " + " ".join(shlex.quote(a) for a in _ARGV)
    comparing.write_outputs(rows, folder, command)
    if as_json:
        print(
            json.dumps(
                {"out": str(folder), "rows": [r.__dict__ for r in rows]}, indent=2, default=str
            )
        )
    else:
        Console().print(comparing.table(rows))
        Console().print(f"wrote {folder}/compare.json, compare.csv, compare.md, plots/compare.png")
    failed = [r for r in rows if r.status != "ok"]
    if failed:
        raise typer.Exit(code=1)


def _write_rows(path: str, rows: list[dict]) -> None:
    import csv
    import io
    from pathlib import Path

    from . import atomic

    if path.endswith(".json"):
        atomic.write_text(path, json.dumps(rows, indent=2, default=str) + "\n")
        return
    if not path.endswith(".csv"):
        raise UserError(f"--out {path}: expected a .csv or .json file name")
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    atomic.write_text(Path(path), buffer.getvalue())


def _without_nproc(argv: list[str]) -> list[str]:
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--nproc":
            skip = True
        elif not arg.startswith("--nproc="):
            out.append(arg)
    return out


def _spread_backbones(argv: list[str]) -> list[str]:
    """``--backbones A.toml B.toml`` (several values after one option) -> repeated options."""
    out, i = [], 0
    while i < len(argv):
        out.append(argv[i])
        if argv[i] == "--backbones":
            i += 1
            values = []
            while i < len(argv) and argv[i].endswith(".toml"):
                values.append(argv[i])
                i += 1
            for k, value in enumerate(values):
                out += ([] if k == 0 else ["--backbones"]) + [value]
            continue
        i += 1
    return out


def main(argv: list[str] | None = None) -> None:
    """Console entry point: maps errors to exit codes."""
    argv = _spread_backbones(list(sys.argv[1:] if argv is None else argv))
    _ARGV[:] = argv
    try:
        code = app(args=argv, prog_name="seqsuite", standalone_mode=False)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    except click.exceptions.Exit as err:
        sys.exit(err.exit_code)
    except click.ClickException as err:
        err.show()
        sys.exit(err.exit_code)
    except (KeyboardInterrupt, click.exceptions.Abort):
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)
