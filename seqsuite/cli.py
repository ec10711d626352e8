"""The ``seqsuite`` command line: parse, call the library, print.

Exit codes: 0 success; 2 the user's input or usage is wrong (one line on stderr);
1 an unexpected failure (with its traceback); 130 interrupted (resume it).
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from . import boundary, inference, limits, rundir, runner
from .errors import UserError
from .json_stdout import kept_for_json

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    help="Sequence applications on one shared LSTM core.",
    epilog="Start with: seqsuite run forecast   ·   seqsuite tasks   ·   seqsuite doctor",
)

_ARGV: list[str] = []  # the command line, for files that say which command made them

# Flags show no type; values show what they are, not a Python type name.
Quiet = Annotated[
    bool, typer.Option("--quiet", "-q", metavar="", help="No progress bar, no tables.")
]
Json = Annotated[
    bool, typer.Option("--json", metavar="", help="Print the result as JSON on stdout.")
]
ConfigFiles = Annotated[
    list[str] | None,
    typer.Option("--config", metavar="FILE", help="TOML config file (repeatable)."),
]
Sets = Annotated[
    list[str] | None,
    typer.Option("--set", metavar="KEY=VALUE", help="Override, e.g. train.lr=3e-4 (repeatable)."),
]
RunDir = Annotated[str, typer.Argument(metavar="RUN_DIR", help="A run directory.")]
Threads = Annotated[
    int,
    typer.Option(metavar="N", help="CPU threads (default: chosen from the CPUs and model)."),
]


def _print_version(value: bool) -> None:
    """``seqsuite --version``: the installed version, and where it is installed (which of
    several environments a shell finds is the usual question behind it)."""
    if value:
        from . import __version__

        typer.echo(f"seqsuite {__version__} ({Path(__file__).parent})")
        raise typer.Exit()


@app.callback()
def _global_options(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            metavar="",
            callback=_print_version,
            is_eager=True,
            help="Print the version and where it is installed, then exit.",
        ),
    ] = False,
) -> None:
    """Sequence applications on one shared LSTM core."""


def _examples(*lines: str) -> str:
    """A help epilog: examples that work as printed."""
    return "Examples:\n\n" + "\n\n".join(f"  $ {line}" for line in lines)


@app.command("tasks", epilog=_examples("seqsuite tasks", "seqsuite tasks --json"))
def tasks_command(as_json: Json = False) -> None:
    """List the installed task plugins (entry-point group seqsuite.tasks)."""
    from rich.table import Table

    from .registry import discover

    with kept_for_json(as_json):
        infos = discover()
    if as_json:
        print(rundir.json_text([i.as_json() for i in infos]))
        return
    table = Table(title="seqsuite tasks")
    for column in ("name", "summary", "distribution", "status"):
        table.add_column(column, overflow="fold")
    for info in infos:
        status = "[green]ok[/]" if info.ok else f"[red]error:[/] {info.error}"
        table.add_row(info.name, info.summary, info.distribution, status)
    Console().print(table)


@app.command(
    "config",
    epilog=_examples(
        "seqsuite config forecast > my.toml", "seqsuite run forecast --config my.toml"
    ),
)
def config_command(
    task: Annotated[str, typer.Argument(metavar="TASK", help="Task name.")],
    config: ConfigFiles = None,
    set_: Sets = None,
) -> None:
    """Print TASK's resolved configuration as TOML: a starting point to copy and edit."""
    from . import config as configs
    from .registry import get_task

    print(configs.resolve(get_task(task), config or [], set_ or []).to_toml(), end="")


@app.command(
    "export",
    epilog=_examples(
        "seqsuite export runs/forecast-20261128-120000",
        "seqsuite export RUN_DIR --format torchscript --out model.pt",
    ),
)
def export_command(
    run_dir: RunDir,
    fmt: Annotated[
        str, typer.Option("--format", metavar="onnx|torchscript", help="Format.")
    ] = "onnx",
    out: Annotated[
        str | None,
        typer.Option(metavar="FILE", help="Output file (default RUN_DIR/export/model.*)."),
    ] = None,
) -> None:
    """Export the trained model (input adapter + backbone + head) for serving."""
    inference.export(run_dir, fmt, out)


@app.command("new-task", epilog=_examples("seqsuite new-task video --dir seqsuite-video"))
def new_task_command(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The new task's name (lower case).")],
    dir_: Annotated[
        str | None, typer.Option("--dir", metavar="PATH", help="Where (default ./seqsuite-NAME).")
    ] = None,
) -> None:
    """Write a complete, installable task plugin to start from."""
    from .scaffold import new_task, next_steps

    root = new_task(name, dir_)
    print(f"wrote {root}; next:\n{next_steps(root, name)}")


@app.command(
    "run",
    epilog=_examples(
        "seqsuite run forecast",
        "seqsuite run forecast --data sales.csv --set task.column=units --set task.horizon=12",
        "seqsuite run textgen --quick",
        "seqsuite run sentiment --data reviews.csv --epochs 5 --threads 1",
    ),
)
def run_command(
    task: Annotated[str, typer.Argument(metavar="TASK", help="Task name (see `seqsuite tasks`).")],
    data: Annotated[
        str | None, typer.Option(metavar="PATH", help="Your own data: a file or folder.")
    ] = None,
    dataset: Annotated[str | None, typer.Option(metavar="NAME", help="A named data set.")] = None,
    config: ConfigFiles = None,
    set_: Sets = None,
    epochs: Annotated[int | None, typer.Option(metavar="N", help="Maximum epochs.")] = None,
    time_budget: Annotated[
        float | None, typer.Option(metavar="SECONDS", help="Stop training after this long.")
    ] = None,
    seed: Annotated[
        int | None, typer.Option(metavar="N", help="Seed for every random choice.")
    ] = None,
    device: Annotated[str | None, typer.Option(metavar="auto|cpu|cuda", help="Device.")] = None,
    threads: Annotated[
        int | None,
        typer.Option(metavar="N", help="CPU threads (default: chosen from the CPUs and model)."),
    ] = None,
    init_from: Annotated[
        str | None, typer.Option(metavar="RUN_DIR", help="Start the backbone from this run.")
    ] = None,
    out: Annotated[
        str | None, typer.Option(metavar="DIR", help="Run directory (default runs/<task>-<time>).")
    ] = None,
    nproc: Annotated[
        int, typer.Option(metavar="N", help="Train in N processes (DDP) via torch.distributed.run.")
    ] = 1,
    quick: Annotated[
        bool,
        typer.Option("--quick", metavar="", help="The task's quick preset: same on any machine."),
    ] = False,
    quiet: Quiet = False,
    as_json: Json = False,
) -> None:
    """Train and evaluate TASK; write a run directory with metrics, checkpoints and plots."""
    from . import distributed

    if nproc > 1 and not distributed.requested():
        raise typer.Exit(code=distributed.launch(nproc, _without_nproc(_ARGV)))
    with kept_for_json(as_json):
        result = runner.run(
            task,
            config_files=config or [],
            sets=set_ or [],
            epochs=epochs,
            time_budget=time_budget,
            seed=seed,
            device=device,
            threads=threads,
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
        print(rundir.json_text({"run_dir": str(result.run_dir), **result.metrics}))
    elif quiet:
        print(result.run_dir)


@app.command("resume", epilog=_examples("seqsuite resume runs/forecast-20261128-120000"))
def resume_command(run_dir: RunDir, quiet: Quiet = False) -> None:
    """Continue an interrupted run from its last checkpoint."""
    result = runner.resume(run_dir, quiet=quiet)
    if quiet:
        print(result.run_dir)


@app.command(
    "eval",
    epilog=_examples(
        "seqsuite eval runs/forecast-20261128-120000", "seqsuite eval RUN_DIR --data new.csv --json"
    ),
)
def eval_command(
    run_dir: RunDir,
    data: Annotated[
        str | None,
        typer.Option(metavar="PATH", help="Score the whole of this file with the run's state."),
    ] = None,
    threads: Threads = 0,
    as_json: Json = False,
) -> None:
    """Evaluate a run's weights on its test split, or on all of --data."""
    with kept_for_json(as_json):
        metrics = inference.evaluate(run_dir, data=data, quiet=as_json, threads=threads)
    if as_json:
        print(rundir.json_text(metrics))


@app.command(
    "predict",
    epilog=_examples(
        "seqsuite predict runs/forecast-20261128-120000 --option horizon=12",
        'seqsuite predict runs/sentiment-20261128-120000 "a fine film" "dull"',
        "seqsuite predict runs/speech-20261128-120000 yes.wav --out labels.csv",
    ),
)
def predict_command(
    run_dir: RunDir,
    inputs: Annotated[
        list[str] | None, typer.Argument(metavar="INPUT...", help="Texts or files, per task.")
    ] = None,
    option: Annotated[
        list[str] | None,
        typer.Option(
            "--option", metavar="KEY=VALUE", help="A task's predict option (e.g. horizon=12)."
        ),
    ] = None,
    horizon: Annotated[
        int | None, typer.Option(hidden=True, help="Same as --option horizon=N.")
    ] = None,
    data: Annotated[
        str | None, typer.Option(metavar="PATH", help="Predict for every row/file of this data.")
    ] = None,
    out: Annotated[
        str | None, typer.Option(metavar="FILE", help="Write predictions to a .csv or .json file.")
    ] = None,
    threads: Threads = 0,
    as_json: Json = False,
) -> None:
    """Predict with a trained run: forecast ahead, classify texts or WAV files, ..."""
    from . import config as configs

    pairs = configs.parse_pairs(option or [], "--option")
    keys = [key for key, _ in pairs]
    twice = sorted({key for key in keys if keys.count(key) > 1})
    if twice:
        raise UserError(f"--option {twice[0]} given twice; give each option once")
    options = dict(pairs)
    if horizon is not None:
        options["horizon"] = horizon
    if data is not None:
        options["data"] = data
    if out:
        limits.check_output_path(out, "--out")
    with kept_for_json(as_json):
        rows = inference.predict(run_dir, inputs or [], options, quiet=as_json, threads=threads)
    if out:
        _write_rows(out, rows)
    if as_json:
        print(rundir.json_text(rows))
    else:
        from .console_tables import print_rows

        print_rows(Console(), rows)
        if out:
            Console().print(f"wrote {out}")


@app.command(
    "generate",
    epilog=_examples(
        "seqsuite generate runs/textgen-20261128-120000 --prompt 'ROMEO:' --length 300",
        "seqsuite generate runs/music-20261128-120000 --seed 3 --out song.mid",
    ),
)
def generate_command(
    run_dir: RunDir,
    length: Annotated[int, typer.Option(metavar="N", help="Tokens or events to generate.")] = 200,
    temperature: Annotated[
        float, typer.Option(metavar="T", help="Sampling temperature (0 = most likely).")
    ] = 1.0,
    top_k: Annotated[
        int, typer.Option(metavar="K", help="Sample among the K most likely (0 = all).")
    ] = 0,
    prompt: Annotated[
        str | None, typer.Option(metavar="TEXT|FILE", help="Text (or piece) to start from.")
    ] = None,
    seed: Annotated[int, typer.Option(metavar="N", help="Sampling seed.")] = 0,
    out: Annotated[
        str | None,
        typer.Option(metavar="FILE", help="Write the sample here (default: a new file)."),
    ] = None,
    threads: Threads = 0,
) -> None:
    """Generate a sample from a trained generative run."""
    options = limits.generation_options(length, temperature, top_k, seed)
    if out:
        limits.check_output_path(out, "--out")
    inference.generate(run_dir, {**options, "prompt": prompt, "out": out}, threads=threads)


@app.command("backtest", epilog=_examples("seqsuite backtest runs/forecast-X --windows 6"))
def backtest_command(
    run_dir: RunDir,
    windows: Annotated[int, typer.Option(metavar="N", help="Rolling origins to evaluate.")] = 5,
    stride: Annotated[
        int, typer.Option(metavar="S", help="Steps between origins (0 = the test length).")
    ] = 0,
    threads: Threads = 0,
    as_json: Json = False,
) -> None:
    """Evaluate the model and every baseline over N rolling origins (tasks that support it)."""
    with kept_for_json(as_json):
        result = inference.backtest(run_dir, windows, stride, quiet=as_json, threads=threads)
    if as_json:  # NaN (a metric a window cannot have) is null, as in backtest.json
        print(rundir.json_text(result))


@app.command(
    "compare",
    epilog=_examples(
        "seqsuite compare forecast textgen --quick",
        "seqsuite compare --all --quick --sweep backbone.cell=lstm,gru",
        "seqsuite compare forecast sentiment --set backbone.hidden_size=128 --set forecast.lookback=24",
    ),
)
def compare_command(
    tasks: Annotated[
        list[str] | None, typer.Argument(metavar="TASK...", help="Tasks to compare (or --all).")
    ] = None,
    all_tasks: Annotated[
        bool, typer.Option("--all", metavar="", help="Every installed task.")
    ] = False,
    config: ConfigFiles = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", metavar="KEY=VALUE", help="For all; TASK.KEY=VALUE for one task."),
    ] = None,
    backbones: Annotated[
        list[str] | None,
        typer.Option("--backbones", metavar="FILE.toml...", help="Backbone files to compare."),
    ] = None,
    sweep: Annotated[
        list[str] | None,
        typer.Option(metavar="backbone.KEY=V1,V2", help="Backbone values to compare."),
    ] = None,
    quick: Annotated[
        bool, typer.Option("--quick", metavar="", help="Each task's quick preset.")
    ] = False,
    seed: Annotated[int | None, typer.Option(metavar="N", help="Seed for every task.")] = None,
    device: Annotated[str | None, typer.Option(metavar="auto|cpu|cuda", help="Device.")] = None,
    out: Annotated[
        str | None, typer.Option(metavar="DIR", help="Output folder (default runs/compare-<time>).")
    ] = None,
    as_json: Json = False,
) -> None:
    """Train and evaluate several tasks on one backbone configuration; table, files, plot."""
    from . import compare as comparing

    plan = comparing.make_plan(
        list(tasks or []),
        all_tasks=all_tasks,
        config_files=config or [],
        sets=set_ or [],
        backbone_files=backbones or [],
        sweep=_one_sweep(sweep or []),
        quick=quick,
        seed=seed,
        device=device,
    )
    folder = Path(out) if out else comparing.default_out()
    console = Console(stderr=True, quiet=as_json)
    command = "seqsuite " + " ".join(shlex.quote(a) for a in _ARGV)
    with kept_for_json(as_json):
        rows = comparing.run_comparison(
            plan, folder, command, progress=lambda line: console.print(line, highlight=False)
        )
    if as_json:
        data = {"out": str(folder), "rows": [r.__dict__ for r in rows]}
        print(rundir.json_text(data))
    else:
        Console().print(comparing.table(rows))
        Console().print(
            f"wrote {folder}/compare.json, compare.csv, compare.md, report.html, plots/compare.png"
        )
    if any(r.status != "ok" for r in rows):
        raise typer.Exit(code=1)


@app.command(
    "serve",
    epilog=_examples(
        "seqsuite serve runs/forecast-20261128-120000",
        "seqsuite serve runs/sentiment-1 runs/textgen-1 --port 8080 --max-batch 64",
    ),
)
def serve_command(
    run_dirs: Annotated[
        list[str], typer.Argument(metavar="RUN_DIR...", help="Run directories to serve.")
    ],
    host: Annotated[str, typer.Option(metavar="HOST", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(metavar="N", help="Port (0: any free one).")] = 8000,
    workers: Annotated[int, typer.Option(metavar="N", help="Processes, each with the runs.")] = 1,
    max_batch: Annotated[
        int, typer.Option(metavar="B", help="Requests answered together at most.")
    ] = 32,
    max_wait_ms: Annotated[
        float, typer.Option(metavar="W", help="How long a short batch waits for more.")
    ] = 2.0,
    timeout: Annotated[
        float, typer.Option(metavar="SECONDS", help="A request's time limit (504 after).")
    ] = 30.0,
    threads: Annotated[
        int, typer.Option(metavar="N", help="PyTorch threads per worker (default 1).")
    ] = 0,
) -> None:
    """Answer HTTP requests with trained runs: POST /v1/RUN/predict and /generate."""
    from .serve import ServeSettings, serve

    settings = ServeSettings(max_batch=max_batch, max_wait_ms=max_wait_ms, timeout_s=timeout)
    serve(run_dirs, host=host, port=port, workers=workers, threads=threads, settings=settings)


@app.command(
    "push",
    epilog=_examples(
        "seqsuite push runs/forecast-20261128-120000 my-name/co2-forecaster",
        "seqsuite push RUN_DIR my-name/private-model --private",
    ),
)
def push_command(
    run_dir: RunDir,
    repo_id: Annotated[
        str, typer.Argument(metavar="OWNER/NAME", help="Hub model repository (created if new).")
    ],
    private: Annotated[
        bool, typer.Option("--private", metavar="", help="Create the repository private.")
    ] = False,
) -> None:
    """Upload a run's portable model (RUN_DIR/model/) to the Hugging Face Hub (online only)."""
    from . import portable

    url = portable.push(run_dir, repo_id, private=private)
    Console().print(f"uploaded {portable.model_folder(run_dir)} to {url}")


@app.command("doctor", epilog=_examples("seqsuite doctor", "seqsuite doctor --json"))
def doctor_command(as_json: Json = False) -> None:
    """Print the environment for a bug report: versions, threads, cache, device, plugins."""
    from . import doctor

    with kept_for_json(as_json):
        report = doctor.collect()
    if as_json:
        print(rundir.json_text(report))
    else:
        doctor.show(Console(), report)


def _write_rows(path: str, rows: list[dict]) -> None:
    from . import atomic

    if path.lower().endswith(".json"):
        atomic.write_text(path, rundir.json_text(rows) + "\n")
        return
    if not path.lower().endswith(".csv"):
        raise UserError(f"--out {path}: expected a .csv or .json file name")
    atomic.write_csv(path, rows)


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


def _one_sweep(sweeps: list[str]) -> str | None:
    """``--sweep`` names one backbone setting; a second would be dropped without a word."""
    if len(sweeps) > 1:
        raise UserError(
            f"--sweep given {len(sweeps)} times; compare one backbone setting at a time "
            "(--sweep backbone.KEY=V1,V2), or name complete backbones with --backbones"
        )
    return sweeps[0] if sweeps else None


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


def command() -> Any:
    """The click command behind ``app``, its help showing no Python type names: ``--help``
    is a flag, and an argument's metavar (``RUN_DIR``, ``TASK``) already says what it is."""
    group = typer.main.get_command(app)
    for each in [group, *group.commands.values()]:
        option = each.get_help_option(typer.Context(each))
        if option is not None:
            option.metavar = ""
        for param in each.params:
            if param.param_type_name == "argument":
                param.display_type_rich = _no_type
    return group


def _no_type(ctx: Any) -> None:
    return None


def _tolerant_output() -> None:
    """Output that cannot show a character (a table's arrow in a cp1252 or ASCII console,
    ``> log.txt`` on Windows) shows ``?`` instead: the work is not thrown away at its last
    line, and the failure is not blamed on the user's data."""
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure") and "utf" not in (stream.encoding or "").lower():
            stream.reconfigure(errors="replace")


def main(argv: list[str] | None = None) -> None:
    """Console entry point: maps errors to exit codes (see :mod:`seqsuite.boundary`)."""
    argv = _spread_backbones(list(sys.argv[1:] if argv is None else argv))
    _ARGV[:] = argv
    _tolerant_output()
    group = command()
    before = _stdout_now()
    try:
        code = boundary.call(
            lambda: group.main(args=argv, prog_name="seqsuite", standalone_mode=False)
        )
        sys.stdout.flush()  # what is still buffered meets a reader that left here, not at exit
    except BrokenPipeError:
        code = _discard_output()
    except SystemExit:
        if not _reader_gone(before):
            raise
        code = 0
    sys.exit(code)


def _stdout_now() -> tuple[Any, tuple[int, int] | None]:
    """Python's standard output, and what descriptor 1 is (device, inode; None: closed)."""
    try:
        info = os.fstat(1)
    except OSError:
        return sys.stdout, None
    return sys.stdout, (info.st_dev, info.st_ino)


def _reader_gone(before: tuple[Any, tuple[int, int] | None]) -> bool:
    """Whether a broken-pipe handler ended the command with exit 1 (``seqsuite --help |
    head -1``, ``predict --json | head -1``): typer's swaps ``sys.stdout`` for a wrapper
    that drops everything, rich's points descriptor 1 at the null device. A reader that
    stopped early is no failure of the command, which then exits 0."""
    stream, descriptor = before
    if sys.stdout is not stream:
        return True
    null = os.stat(os.devnull)
    return descriptor != (null.st_dev, null.st_ino) == _stdout_now()[1]


def _discard_output() -> int:
    """The reader left before the last buffered output: the rest goes nowhere, exit 0."""
    nowhere = os.open(os.devnull, os.O_WRONLY)
    os.dup2(nowhere, 1)
    os.close(nowhere)
    return 0
