"""seqsuite: sequence applications on one shared LSTM core.

The public Python API:

- :class:`Backbone`, :class:`BackboneConfig`: the shared LSTM/GRU stack.
- :class:`Trainer`, :class:`TrainConfig`: the training loop every task uses.
- :class:`SequenceRegressor`: a Keras-like ``fit``/``predict``/``evaluate`` on arrays.
- :class:`Task`, :class:`Prepared`, :class:`Evaluation`, :class:`Results`, :class:`Context`,
  ``TASK_API_VERSION``: the plugin contract.
- :func:`run`, :func:`resume`, :func:`evaluate`, :func:`predict`, :func:`generate`: whole runs,
  as the CLI does them.
- :func:`fit`, :func:`load`, :class:`Run`: the notebook API on data in memory (DataFrames,
  arrays, lists of texts or waveforms, Hugging Face data sets).
"""

__version__ = "0.1.0"

from .api import Run, fit, load  # noqa: E402
from .backbone import Backbone, BackboneConfig, BackboneOutput  # noqa: E402
from .batches import ArraySplit  # noqa: E402
from .errors import UserError  # noqa: E402
from .inference import evaluate, generate, predict  # noqa: E402
from .model import SequenceModel  # noqa: E402
from .regressor import SequenceRegressor  # noqa: E402
from .runner import resume, run  # noqa: E402
from .task import (  # noqa: E402
    TASK_API_VERSION,
    Context,
    Evaluation,
    InputAdapter,
    NoOptions,
    Prepared,
    Results,
    Task,
)
from .trainer import FitResult, TrainConfig, Trainer  # noqa: E402

__all__ = [
    "TASK_API_VERSION",
    "ArraySplit",
    "Run",
    "Backbone",
    "BackboneConfig",
    "BackboneOutput",
    "Context",
    "Evaluation",
    "InputAdapter",
    "FitResult",
    "NoOptions",
    "Prepared",
    "Results",
    "SequenceModel",
    "SequenceRegressor",
    "Task",
    "TrainConfig",
    "Trainer",
    "UserError",
    "evaluate",
    "fit",
    "load",
    "generate",
    "predict",
    "resume",
    "run",
]
