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
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import Tensor, nn

from .batches import Split

if TYPE_CHECKING:
    from rich.console import Console

    from .config import RunConfig
    from .model import SequenceModel

#: Version of this contract. A plugin declares the version it was written for in
#: ``Task.api_version``; the registry refuses plugins built for another version.
TASK_API_VERSION = 1


@dataclass
class NoOptions:
    """For tasks without options of their own: an empty ``[task]`` section."""


@dataclass
class Prepared:
    """A task's data, ready for training and evaluation.

    spec:  what the model needs to know about the data (input and output sizes, kinds);
           saved with the run and handed back to :meth:`Task.input_adapter` / :meth:`Task.head`.
    state: preprocessing fitted on the training part (scalers, vocabulary, decisions made
           automatically); saved with the run. On ``eval``/``predict``/``resume`` it is given
           back in ``Context.state`` and the task must reuse it, not refit.
    extra: anything else the task wants to keep in memory between its hooks (not saved).
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
    extra: dict[str, Any] = field(default_factory=dict)
    refit_train: Split | None = None
    summary: str = ""


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
    #: where tasks cache expensive preprocessing, keyed by its inputs
    cache_dir: Path = field(default_factory=lambda: Path.home() / ".cache" / "seqsuite")
    quiet: bool = False
    #: the run given with ``--init-from`` (its config, task state and weights), if any
    source: Any = None

    @property
    def options(self) -> Any:
        """The task's own ``[task]`` section (an instance of ``Task.config_class``)."""
        return self.config.task

    @property
    def seed(self) -> int:
        return self.config.run.seed

    def path(self, name: str) -> Path:
        """A file in the run directory (``plots/loss.png``, ``forecast.csv`` ...)."""
        if self.run_dir is None:
            raise RuntimeError("this hook has no run directory")
        target = self.run_dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
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
    #: overrides for ``seqsuite compare --quick`` (fewer epochs or less data; not the backbone)
    quick: ClassVar[dict[str, dict[str, Any]]] = {}
    #: embedded data sets that work offline; the first is the default
    datasets: ClassVar[tuple[str, ...]] = ()
    #: the metric early stopping and comparisons use, and its direction
    primary_metric: ClassVar[str] = "loss"
    higher_is_better: ClassVar[bool] = False

    @property
    def default_dataset(self) -> str:
        return self.datasets[0] if self.datasets else ""

    # -- data -------------------------------------------------------------------------

    def prepare(self, ctx: Context) -> Prepared:
        """Load ``ctx.config.run.data`` (a path) or ``ctx.config.run.dataset`` (a name) and
        return the splits. Raise :class:`~seqsuite.errors.UserError` for bad data."""
        raise NotImplementedError

    # -- model ------------------------------------------------------------------------

    def input_adapter(self, ctx: Context, spec: dict[str, Any]) -> nn.Module:
        """Batch -> features (batch, time, F). The module must have ``output_size = F``."""
        raise NotImplementedError

    def head(self, ctx: Context, spec: dict[str, Any], in_features: int) -> nn.Module:
        """``head(backbone_output, batch)`` -> the task's prediction."""
        raise NotImplementedError

    def loss(self, output: Any, batch: dict[str, Any]) -> Tensor:
        raise NotImplementedError

    def finish_model(self, ctx: Context, model: SequenceModel) -> None:
        """Last touches once adapter, backbone and head are composed (optional), e.g.
        tying the output layer to the input embedding."""

    def transfer(self, ctx: Context, model: SequenceModel, prepared: Prepared, source: Any) -> str:
        """After ``--init-from`` loaded the backbone: carry over what else fits (e.g. the
        embedding rows of shared words). ``source`` is a :class:`seqsuite.transfer.Source`.
        Returns a line saying what was carried over."""
        return ""

    # -- evaluation and reports ---------------------------------------------------------

    def evaluate(
        self, ctx: Context, model: SequenceModel, prepared: Prepared, split: str
    ) -> dict[str, float]:
        """Metrics of ``model`` on ``split`` ("val" or "test"); must include ``primary_metric``."""
        raise NotImplementedError

    def baselines(self, ctx: Context, prepared: Prepared) -> dict[str, dict[str, float]]:
        """Simple models on the same test split, with the same metric names."""
        return {}

    def report(
        self, ctx: Context, model: SequenceModel, prepared: Prepared, metrics: dict[str, Any]
    ) -> None:
        """Write the task's plots and outputs into the run directory."""

    # -- inference ----------------------------------------------------------------------

    def predict(
        self, ctx: Context, model: SequenceModel, inputs: list[str], options: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Predictions as rows (printed as a table, or JSON/CSV with ``--out``)."""
        from .errors import UserError

        raise UserError(f"task {self.name!r} does not support predict")

    def generate(
        self, ctx: Context, model: SequenceModel, options: dict[str, Any]
    ) -> dict[str, Any]:
        """Generate a sample (text, notes); returns what was written and shown."""
        from .errors import UserError

        raise UserError(f"task {self.name!r} does not generate; try `seqsuite predict`")
