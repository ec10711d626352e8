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

from . import torch_threads_default as _torch_threads_default  # noqa: E402

_torch_threads_default.watch()  # to tell a user's torch.set_num_threads from the default

#: the public names and the module each comes from: imported when first used, so that
#: ``import seqsuite.entry`` (the command) and plugins importing ``seqsuite.task`` do not
#: pay for PyTorch and every other module at once
_EXPORTS = {
    "Run": "api",
    "fit": "api",
    "load": "api",
    "Backbone": "backbone",
    "BackboneConfig": "backbone",
    "BackboneOutput": "backbone",
    "ArraySplit": "batches",
    "UserError": "errors",
    "evaluate": "inference",
    "generate": "inference",
    "predict": "inference",
    "SequenceModel": "model",
    "SequenceRegressor": "regressor",
    "resume": "runner",
    "run": "runner",
    "TASK_API_VERSION": "task",
    "Context": "task",
    "Evaluation": "task",
    "InputAdapter": "task",
    "NoOptions": "task",
    "Prepared": "task",
    "Results": "task",
    "Task": "task",
    "FitResult": "trainer",
    "TrainConfig": "trainer",
    "Trainer": "trainer",
}


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'seqsuite' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


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
