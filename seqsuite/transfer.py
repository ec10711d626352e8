"""``--init-from RUN_DIR``: start a run's backbone from another run's weights.

The source run's ``[backbone]`` section becomes the default of the new run (so the
weights fit), its best weights are read safely (``weights_only``), the backbone is
loaded with a shape check that names the mismatching tensor, and the task may carry
over more (:meth:`seqsuite.task.Task.transfer`, e.g. embedding rows of shared words).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import Tensor

from . import checkpoint, rundir
from .errors import UserError


@dataclass
class Source:
    path: Path
    config: dict[str, Any]  # its config.toml
    state: dict[str, Any]  # its task state (vocabulary, classes, ...)
    weights: dict[str, Tensor]  # its best weights

    @property
    def backbone(self) -> dict[str, Any]:
        return dict(self.config.get("backbone", {}))

    @property
    def input_size(self) -> int:
        """Features per step its backbone reads (its embedding size, for text)."""
        return int(self.weights["backbone.rnn.weight_ih_l0"].shape[1])


def load_source(path: str | Path) -> Source:
    """A run directory, a portable ``model/`` folder or (online) a Hub model id."""
    from .portable import WEIGHTS, is_model_dir, load_weights, resolve

    path = resolve(path, "--init-from")
    if not path.is_dir():
        raise UserError(f"--init-from {path}: not a run directory")
    if not (path / checkpoint.BEST).exists() and is_model_dir(path):
        weights = load_weights(path / WEIGHTS)
    else:
        weights = checkpoint.load(path / checkpoint.BEST, keys=checkpoint.WEIGHTS_KEYS)["model"]
    if "backbone.rnn.weight_ih_l0" not in weights:
        raise UserError(f"--init-from {path}: its checkpoint holds no seqsuite backbone")
    state_file = path / rundir.STATE
    state = rundir.read_state(path).get("state", {}) if state_file.exists() else {}
    return Source(path, rundir.read_config(path), state, weights)


def load_backbone(model: Any, source: Source) -> None:
    """Copy the source's backbone weights into ``model.backbone`` (shapes must match)."""
    weights = {
        k[len("backbone.") :]: v for k, v in source.weights.items() if k.startswith("backbone.")
    }
    own = model.backbone.state_dict()
    if set(weights) != set(own):
        extra, missing = sorted(set(weights) - set(own)), sorted(set(own) - set(weights))
        raise UserError(
            f"--init-from {source.path}: its backbone has a different structure "
            f"(only there: {extra[:2]}, only here: {missing[:2]}); layers, directions or cell differ"
        )
    for name, tensor in weights.items():
        if tensor.shape != own[name].shape:
            raise UserError(
                f"--init-from {source.path}: backbone.{name} has shape {tuple(tensor.shape)}, "
                f"this model needs {tuple(own[name].shape)} (check hidden_size, proj_size and the "
                "input size, e.g. task.embedding_dim)"
            )
    model.backbone.load_state_dict(weights)
