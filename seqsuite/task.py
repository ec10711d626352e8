"""The task contract: what a task plugin provides, and what the core hands it.

A task holds only what is specific to it: data loading and preprocessing
(:meth:`Task.prepare`), the input adapter and the head around the shared backbone, the
loss, metrics, baselines, inference and its report. The core does the rest: config,
training, checkpoints, run directories, the CLI.

Plugins register a :class:`Task` subclass under the entry-point group
``seqsuite.tasks`` (built-in tasks do exactly the same)::

    [project.entry-points."seqsuite.tasks"]
    mytask = "my_package.task:MyTask"

Every hook receives a :class:`Context`. Everything a task returns to be saved
(``Prepared.spec``, ``Prepared.state``) must be JSON-serialisable.

Version 2 of the contract (``TASK_API_VERSION``) made the flow between hooks explicit:
``evaluate`` returns an :class:`Evaluation` (metrics, and the outputs the report shows)
instead of writing into a scratch dictionary, ``baselines`` return the same, ``report``
receives them in :class:`Results` and cannot change the metrics, ``Prepared.data`` holds
the task's loaded data read-only, ``Prepared.info`` the facts about the data that
``metrics.json`` records, and the input adapter declares ``output_size``
(:class:`InputAdapter`). ``docs/plugins.md`` shows the migration from version 1.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

import torch
from torch import Tensor, nn

from .batches import Split

if TYPE_CHECKING:
    from rich.console import Console

    from .config import RunConfig
    from .model import SequenceModel

#: Version of this contract. A plugin declares the version it was written for in
#: ``Task.api_version``; the registry refuses plugins built for another version.
TASK_API_VERSION = 2


@dataclass
class NoOptions:
    """For tasks without options of their own: an empty ``[task]`` section."""


@dataclass
class Prepared:
    """A task's data, ready for training and evaluation.

    spec:  what the model needs to know about the data (input and output sizes, kinds);
           saved with the run and handed back to :meth:`Task.input_adapter` / :meth:`Task.head`.
    state: preprocessing fitted on the training part (scalers, vocabulary, decisions made
           automatically) and whatever ``predict`` needs later (e.g. the end of a series);
           saved with the run. On ``eval``/``predict``/``resume`` it is given back in
           ``Context.state`` and the task must reuse it, not refit.
    data:  the task's own view of the loaded data (series, texts, items) for its later
           hooks; kept in memory only, and read-only once ``prepare`` returns.
    info:  facts about the data worth recording (files skipped, examples truncated,
           seconds spent preparing); ``metrics.json`` keeps them under ``"data"``.
    refit_train: the training data *including* the validation part, for ``train.refit``
           (retrain on everything before the test part once early stopping has chosen
           the number of epochs). None if the task cannot merge them.
    summary: one line describing the splits (default: example counts).
    """

    train: Split
    val: Split
    test: Split
    spec: dict[str, Any]
    state: dict[str, Any] = field(default_factory=dict)
    dataset: str = ""
    data: Any = None
    info: dict[str, Any] = field(default_factory=dict)
    refit_train: Split | None = None
    summary: str = ""


@dataclass
class Evaluation:
    """What :meth:`Task.evaluate` and each baseline return.

    metrics: metric name -> value (the task's ``primary_metric`` among them).
    outputs: what the report shows of this model on the split (forecasts, predicted
             classes, ...); None when there is nothing to show.
    """

    metrics: dict[str, float]
    outputs: Any = None
    #: what the model is called in tables and metrics.json when it is more than its
    #: backbone (e.g. an LSTM combined with classical forecasts); "" = the cell's name
    name: str = ""


@dataclass
class DataFiles:
    """What :meth:`Task.write_data` wrote: the file or folder ``prepare`` reads as
    ``run.data``, and settings that go with it (layered under the user's own), e.g. the
    sizes of the data set's own validation and test parts: ``{"task": {"test_size": 24}}``."""

    path: str
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: facts about where the data came from (rows per split), recorded in metrics.json
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Results:
    """Everything :meth:`Task.report` may show: read-only.

    metrics:   what ``metrics.json`` holds (a read-only mapping).
    test:      the model's evaluation on the test split, with its outputs.
    baselines: each baseline's evaluation on the same split.
    """

    metrics: Mapping[str, Any]
    test: Evaluation
    baselines: Mapping[str, Evaluation]


@runtime_checkable
class InputAdapter(Protocol):
    """What :meth:`Task.input_adapter` returns: an ``nn.Module`` mapping a batch (a dict of
    tensors) to features (batch, time, ``output_size``); the backbone is sized from it."""

    output_size: int

    def __call__(self, batch: dict[str, Any]) -> Tensor: ...


@dataclass
class Context:
    """What the core hands every hook."""

    config: RunConfig
    device: torch.device
    console: Console
    run_dir: Path | None = None
    #: the run's fitted preprocessing state: None while ``prepare`` fits it anew, the saved
    #: state when an existing run is evaluated, resumed or used; set for every later hook
    state: dict[str, Any] | None = None
    quiet: bool = False
    #: the run given with ``--init-from`` (its config, task state and weights), if any
    source: Any = None
    #: what :meth:`derived` built, with the state it was built from
    _derived: dict[str, tuple[Any, Any]] = field(default_factory=dict, repr=False)

    @property
    def options(self) -> Any:
        """The task's own ``[task]`` section (an instance of ``Task.config_class``)."""
        return self.config.task

    @property
    def seed(self) -> int:
        return self.config.run.seed

    def derived(self, key: str, make: Callable[[dict[str, Any]], Any]) -> Any:
        """``make(state)``, built once per saved state and kept while this context lives:
        what a loaded run reads on every call (a vocabulary's lookup table of tens of
        thousands of words took 2 ms to rebuild, more than the model's own work for one
        served text). Built again if ``state`` is replaced."""
        built = self._derived.get(key)
        if built is None or built[0] is not self.state:
            built = (self.state, make(self.state))
            self._derived[key] = built
        return built[1]

    def path(self, name: str) -> Path:
        """A file in the run directory (``plots/loss.png``, ``forecast.csv`` ...)."""
        if self.run_dir is None:
            raise RuntimeError("this hook has no run directory")
        from .atomic import folder_inside

        # samples/, plots/ ...: made where missing, never a planted link
        return folder_inside(self.run_dir, Path(name).parent) / Path(name).name

    def new_path(self, name: str) -> Path:
        """Like :meth:`path`, but never an existing file: ``samples/x.txt`` becomes
        ``samples/x-2.txt``, ``-3`` ... so that an earlier output is never overwritten."""
        target = self.path(name)
        stem, suffix, n = target.stem, target.suffix, 2
        while target.exists() or target.is_symlink():
            target = target.with_name(f"{stem}-{n}{suffix}")
            n += 1
        return target


class Task:
    """Base class of task plugins. Override the hooks; the defaults say what is optional."""

    api_version: ClassVar[int] = TASK_API_VERSION
    #: the name users type (``seqsuite run NAME``); equals the entry point's name
    name: ClassVar[str] = ""
    #: one line for ``seqsuite tasks``
    summary: ClassVar[str] = ""
    #: dataclass of the ``[task]`` section, with defaults
    config_class: ClassVar[type] = NoOptions
    #: overrides of the core defaults, e.g. ``{"train": {"epochs": 50}}``
    defaults: ClassVar[dict[str, dict[str, Any]]] = {}
    #: overrides for ``--quick`` runs: fewer epochs or steps, less data, never a time
    #: budget (a quick run gives the same result on any machine); not the backbone
    quick: ClassVar[dict[str, dict[str, Any]]] = {}
    #: whether the task can train on the one backbone ``seqsuite compare`` gives every
    #: task; False for a task that needs its own backbone shape (``compare --all`` leaves
    #: it out, naming it is refused before anything trains)
    comparable: ClassVar[bool] = True
    #: embedded data sets that work offline; the first is the default
    datasets: ClassVar[tuple[str, ...]] = ()
    #: the metric early stopping and comparisons use, and its direction
    primary_metric: ClassVar[str] = "loss"
    higher_is_better: ClassVar[bool] = False
    #: options ``seqsuite predict --option KEY=VALUE`` accepts: name -> one line of help
    predict_options: ClassVar[dict[str, str]] = {}
    #: files of the run directory (besides the weights, ``config.toml`` and
    #: ``task_state.json``) that ``predict``/``generate`` read; the portable ``model/``
    #: folder carries them. Better kept in ``Prepared.state``; this is for what ``report``
    #: computes after training (e.g. combination weights chosen on validation)
    model_files: ClassVar[tuple[str, ...]] = ()

    @property
    def default_dataset(self) -> str:
        return self.datasets[0] if self.datasets else ""

    # -- data -------------------------------------------------------------------------

    def prepare(self, ctx: Context) -> Prepared:
        """Load ``ctx.config.run.data`` (a path) or ``ctx.config.run.dataset`` (a name) and
        return the splits. Raise :class:`~seqsuite.errors.UserError` for bad data."""
        raise NotImplementedError

    def prepare_eval(self, ctx: Context) -> Prepared:
        """``seqsuite eval RUN_DIR --data FILE``: the whole of ``ctx.config.run.data`` as the
        test split, read with the run's saved state (no new split, nothing refitted).
        The default says the task cannot; ``val``/``train`` of the result are not used."""
        from .errors import UserError

        raise UserError(f"task {self.name!r} cannot evaluate another file (eval --data)")

    # -- model ------------------------------------------------------------------------

    def input_adapter(self, ctx: Context, spec: dict[str, Any]) -> nn.Module:
        """An :class:`InputAdapter`: batch -> features (batch, time, ``output_size``)."""
        raise NotImplementedError

    def head(self, ctx: Context, spec: dict[str, Any], in_features: int) -> nn.Module:
        """``head(backbone_output, batch)`` -> the task's prediction."""
        raise NotImplementedError

    def loss(self, output: Any, batch: dict[str, Any]) -> Tensor:
        raise NotImplementedError

    def finish_model(self, ctx: Context, model: SequenceModel) -> None:
        """Last touches once adapter, backbone and head are composed (optional), e.g.
        tying the output layer to the input embedding."""

    def initialise(self, ctx: Context, model: SequenceModel, prepared: Prepared) -> str:
        """Before training starts (and before a refit), set weights that come from the
        prepared data rather than from chance: pretrained word vectors, statistics of
        the training split. Not called when a run resumes or is loaded. Returns a line
        saying what was set ("" for nothing)."""
        return ""

    def transfer(self, ctx: Context, model: SequenceModel, prepared: Prepared, source: Any) -> str:
        """After ``--init-from`` loaded the backbone: carry over what else fits (e.g. the
        embedding rows of shared words). ``source`` is a :class:`seqsuite.transfer.Source`.
        Returns a line saying what was carried over."""
        return ""

    def export_inputs(self, ctx: Context, spec: dict[str, Any]) -> dict[str, Tensor] | None:
        """Example inputs (batch 2, a few steps) for ``seqsuite export``, by batch key.
        None (the default): made from the adapter (``TokenInput`` / ``FeatureInput``)."""
        return None

    # -- evaluation and reports ---------------------------------------------------------

    def evaluate(
        self, ctx: Context, model: SequenceModel, prepared: Prepared, split: str
    ) -> Evaluation:
        """``model`` on ``split`` ("val" or "test"): metrics (``primary_metric`` among them)
        and, for the report, its outputs. A plain dict of metrics is accepted too."""
        raise NotImplementedError

    def baselines(self, ctx: Context, prepared: Prepared) -> dict[str, Evaluation]:
        """Simple models on the same test split, with the same metric names."""
        return {}

    def report(
        self, ctx: Context, model: SequenceModel, prepared: Prepared, results: Results
    ) -> None:
        """Write the task's plots and outputs into the run directory (``ctx.path``)."""

    # -- inference ----------------------------------------------------------------------

    def predict(
        self, ctx: Context, model: SequenceModel, inputs: list[Any], options: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Predictions as rows (printed as a table, or JSON/CSV with ``--out``). ``options``
        holds ``--option`` pairs, checked against :attr:`predict_options`."""
        from .errors import UserError

        raise UserError(f"task {self.name!r} does not support predict")

    def backtest(
        self, ctx: Context, model: SequenceModel, prepared: Prepared, windows: int, stride: int
    ) -> dict[str, Any]:
        """``seqsuite backtest``: evaluate over ``windows`` rolling origins ``stride`` apart
        (0 = the task's default), write the results into the run directory, return them."""
        from .errors import UserError

        raise UserError(f"task {self.name!r} does not support backtest")

    def generate(
        self, ctx: Context, model: SequenceModel, options: dict[str, Any]
    ) -> dict[str, Any]:
        """Generate a sample (text, notes); returns what was written and shown."""
        from .errors import UserError

        raise UserError(f"task {self.name!r} does not generate; try `seqsuite predict`")

    # -- in-memory data (contract additions of version 2; both optional) ----------------

    def write_data(self, ctx: Context, data: Any, folder: Path) -> DataFiles:
        """In-memory data -> files in this task's own format in ``folder``, which
        ``prepare`` then reads as ``run.data`` (so ``eval`` and ``resume`` work as for any
        run). ``data`` is a :class:`seqsuite.memory.Table` (a DataFrame or a Hugging Face
        data set, with its own splits and class names) or an object the task knows (a list
        of texts, of waveforms, of scores). Used by ``seqsuite.fit`` and ``--dataset``
        with a Hugging Face data set. The default says the task cannot."""
        from .errors import UserError

        raise UserError(
            f"task {self.name!r} cannot take in-memory data or Hugging Face data sets; "
            "give a file with --data"
        )

    def predict_inputs(
        self, ctx: Context, obj: Any, folder: Path
    ) -> tuple[list[Any], dict[str, Any]]:
        """In-memory predict inputs (``Run.predict(obj)``, serving) -> the ``inputs`` and
        ``options`` :meth:`predict` reads; a task may write files into ``folder`` (a
        temporary folder). The default takes a text or a list of texts or file paths."""
        from .errors import UserError

        items = [obj] if isinstance(obj, str | Path) else obj
        if getattr(items, "ndim", None) == 1 and hasattr(items, "tolist"):
            items = items.tolist()  # a pandas Series or a 1-D numpy array of texts
        if not isinstance(items, list | tuple):
            raise UserError(
                f"task {self.name!r}: predict takes texts or file paths here, "
                f"got {type(obj).__name__}"
            )
        for k, item in enumerate(items):
            if not isinstance(item, str | Path):
                raise UserError(
                    f"task {self.name!r}: predict takes texts or file paths here; "
                    f"item [{k}] is {type(item).__name__}"
                )
        return [str(i) for i in items], {}

    # -- serving (``seqsuite serve``) ----------------------------------------------------

    #: an example body for each route the task serves ("predict", "generate"): /docs shows it
    serve_examples: ClassVar[dict[str, dict[str, Any]]] = {}

    def ready(self, ctx: Context) -> None:
        """Called once when ``seqsuite serve`` has loaded the run: read here every file of
        the run that answering needs (through :meth:`Context.derived`), so that the server
        answers from what it loaded, whatever later happens to the folder. The default
        reads nothing (the saved state and weights are already in memory)."""

    def parse_request(self, ctx: Context, body: dict[str, Any]) -> Any:
        """One ``POST /v1/RUN/predict`` JSON body -> a checked request, before it joins a
        batch. Raise :class:`~seqsuite.errors.FieldError` naming the wrong field (the
        answer is 422). The default takes what ``seqsuite predict`` takes:
        ``{"inputs": ["text or value", ...], "options": {"key": value}}``."""
        from .errors import FieldError
        from .limits import items

        inputs = body.get("inputs", [])
        if inputs != []:
            items(inputs, "inputs", (str, int, float), "strings")
        options = body.get("options", {})
        if not isinstance(options, dict):
            raise FieldError("options", "expected an object of predict options")
        unknown = sorted(set(options) - set(self.predict_options))
        if unknown:
            accepted = ", ".join(sorted(self.predict_options)) or "none"
            raise FieldError(f"options.{unknown[0]}", f"unknown option; accepted: {accepted}")
        return PredictCall([str(i) for i in inputs], dict(options))

    def predict_batch(
        self, ctx: Context, model: SequenceModel, requests: list[Any]
    ) -> list[dict[str, Any]]:
        """Answers to several parsed requests at once, one JSON object each, in order: the
        server gathers concurrent requests into one call (``--max-batch``), so a task
        whose requests can share one forward pass answers them together here. The default
        calls :meth:`predict` once per request: ``{"predictions": rows}``."""
        return [{"predictions": self.predict(ctx, model, r.inputs, r.options)} for r in requests]

    def generate_stream(
        self, ctx: Context, model: SequenceModel, options: dict[str, Any]
    ) -> Iterator[dict[str, Any]]:
        """Generated pieces, one JSON object each, as they come (``POST /v1/RUN/generate``:
        ``length``, ``temperature``, ``top_k`` and ``seed`` checked, ``prompt`` as sent).
        Streamed as Server-Sent Events, or joined into one answer (``text`` concatenated,
        any other field gathered into a list under its plural: ``note`` -> ``notes``).
        Nothing is written to disk. The
        default: the task does not generate over HTTP (no /generate route)."""
        from .errors import UserError

        raise UserError(f"task {self.name!r} does not stream generation")


@dataclass
class PredictCall:
    """What :meth:`Task.parse_request` returns by default: ``predict``'s arguments."""

    inputs: list[str]
    options: dict[str, Any]


def serves(task: Task, route: str) -> bool:
    """Whether ``task`` answers ``route`` ("predict" or "generate"): it overrides the hooks."""
    kind = type(task)
    if route == "predict":
        return kind.predict is not Task.predict or kind.predict_batch is not Task.predict_batch
    return kind.generate_stream is not Task.generate_stream


def as_evaluation(value: Evaluation | Mapping[str, float]) -> Evaluation:
    """A hook's result as an :class:`Evaluation` (tasks may return a plain metrics dict),
    its metrics Python numbers: a plugin's ``(pred == y).float().mean()`` or numpy scalar
    would drive early stopping for a whole run and then fail to be written as JSON."""
    evaluation = value if isinstance(value, Evaluation) else Evaluation(dict(value))
    evaluation.metrics = {k: metric_number(k, v) for k, v in evaluation.metrics.items()}
    return evaluation


def metric_number(name: str, value: Any) -> Any:
    """A metric's value as a Python number; a tensor or array of one element is one,
    one of several is refused (what the task returned is a bug, said before the run goes on)."""
    if isinstance(value, bool | int | float | str | dict | list | type(None)):
        return value
    numel = getattr(value, "numel", None)  # a tensor's; numpy's arrays and scalars: size
    count = numel() if callable(numel) else int(getattr(value, "size", 0))
    if not hasattr(value, "item") or count != 1:
        from .errors import UserError

        held = f" of {count} values" if hasattr(value, "item") else ""
        raise UserError(
            f"evaluate returned metric {name!r} as {type(value).__name__}{held}; "
            "expected one number (reduce it, e.g. .mean(), and return float(...))"
        )
    return value.item()
