"""seqsuite: sequence applications on one shared LSTM core.

The public Python API:

- :class:`Backbone`, :class:`BackboneConfig`: the shared LSTM/GRU stack.
- :class:`Trainer`, :class:`TrainConfig`: the training loop every task uses.
- :class:`SequenceRegressor`: a Keras-like ``fit``/``predict``/``evaluate`` on arrays.
- :class:`Task`, :class:`Prepared`, :class:`Context`, ``TASK_API_VERSION``: the plugin contract.
- :func:`run`, :func:`resume`, :func:`evaluate`, :func:`predict`: whole runs, as the CLI does them.
"""

__version__ = "0.1.0"

from .backbone import Backbone, BackboneConfig, BackboneOutput  # noqa: E402
from .batches import ArraySplit  # noqa: E402
from .errors import UserError  # noqa: E402
from .estimators import SequenceRegressor  # noqa: E402
from .model import SequenceModel  # noqa: E402
from .runner import evaluate, predict, resume, run  # noqa: E402
from .task import TASK_API_VERSION, Context, NoOptions, Prepared, Task  # noqa: E402
from .trainer import FitResult, TrainConfig, Trainer  # noqa: E402

__all__ = [
    "TASK_API_VERSION",
    "ArraySplit",
    "Backbone",
    "BackboneConfig",
    "BackboneOutput",
    "Context",
    "FitResult",
    "NoOptions",
    "Prepared",
    "SequenceModel",
    "SequenceRegressor",
    "Task",
    "TrainConfig",
    "Trainer",
    "UserError",
    "evaluate",
    "predict",
    "resume",
    "run",
]
