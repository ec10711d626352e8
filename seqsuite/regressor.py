"""Keras-style estimators on plain arrays, for using the backbone and trainer from code.

    model = SequenceRegressor(input_size=1, backbone=BackboneConfig(hidden_size=50, activation="relu"))
    model.fit(X, y, TrainConfig(epochs=100, batch_size=32))
    y_hat = model.predict(X); mse = model.evaluate(X, y)
    model.save("my-regressor"); model = SequenceRegressor.load("my-regressor")

``X`` is (samples, time, features); ``y`` is (samples, outputs) or (samples,).
It is the tutorial's ``Sequential([LSTM(...), Dense(...)])`` built from seqsuite parts:
:class:`~seqsuite.adapters.FeatureInput` -> :class:`~seqsuite.backbone.Backbone` ->
:class:`~seqsuite.heads.LastStateHead`, trained by :class:`~seqsuite.trainer.Trainer`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .adapters import FeatureInput
from .backbone import Backbone, BackboneConfig
from .batches import ArraySplit
from .devices import resolve_device
from .errors import UserError
from .heads import LastStateHead
from .model import SequenceModel
from .trainer import FitResult, TrainConfig, Trainer

LOSSES = {"mse": F.mse_loss, "mae": F.l1_loss, "huber": F.huber_loss}


class SequenceRegressor:
    """Sequence -> vector regression with the shared backbone and a linear output."""

    def __init__(
        self,
        input_size: int,
        output_size: int = 1,
        backbone: BackboneConfig | None = None,
        loss: str = "mse",
        seed: int = 0,
        device: str = "cpu",
    ):
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {sorted(LOSSES)}")
        self.loss_name = loss
        self.seed = seed
        self.device = resolve_device(device)
        torch.manual_seed(seed)
        config = backbone or BackboneConfig()
        adapter = FeatureInput(input_size)
        core = Backbone(input_size, config)
        self.model = SequenceModel(adapter, core, LastStateHead(core.output_size, output_size))
        self.output_size = output_size
        self.input_size = input_size
        self.backbone_config = config

    def _split(self, X: Any, y: Any | None = None) -> ArraySplit:
        x = torch.as_tensor(np.asarray(X), dtype=torch.float32)
        if x.dim() == 2:
            x = x.unsqueeze(-1)
        tensors = {"x": x}
        if y is not None:
            target = torch.as_tensor(np.asarray(y), dtype=torch.float32)
            tensors["y"] = target.reshape(len(target), -1)
        return ArraySplit(tensors)

    def _loss(self, output: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return LOSSES[self.loss_name](output, batch["y"])

    def fit(
        self,
        X: Any,
        y: Any,
        train: TrainConfig | None = None,
        validation_data: tuple[Any, Any] | None = None,
        progress: Any = None,
    ) -> FitResult:
        """Train; with ``validation_data`` the best epoch on its loss is kept."""
        validate = None
        if validation_data is not None:
            val = self._split(*validation_data)
            validate = lambda model: {"loss": self._evaluate_split(val)}  # noqa: E731
        trainer = Trainer(train or TrainConfig(), self.device, seed=self.seed, progress=progress)
        return trainer.fit(self.model, self._split(X, y), self._loss, validate, primary="loss")

    @torch.no_grad()
    def predict(self, X: Any, batch_size: int = 1024) -> np.ndarray:
        self.model.eval()
        split = self._split(X).to(self.device)
        outputs = [self.model(batch)[0] for batch in split.batches(batch_size)]
        return torch.cat(outputs).float().cpu().numpy()

    @torch.no_grad()
    def _evaluate_split(self, split: ArraySplit) -> float:
        self.model.eval()
        split = split.to(self.device)
        total, count = 0.0, 0
        for batch in split.batches(1024):
            output, _ = self.model(batch)
            total += (
                float(LOSSES[self.loss_name](output, batch["y"], reduction="sum"))
                / self.output_size
            )
            count += len(output)
        return total / max(count, 1)

    def save(self, folder: str | Path) -> Path:
        """``folder/model.safetensors`` (weights only) and ``folder/config.json`` (what
        rebuilds the model): loading runs no code from either."""
        from . import atomic
        from .portable import save_weights

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        config = {
            "format": "seqsuite.SequenceRegressor",
            "input_size": self.input_size,
            "output_size": self.output_size,
            "loss": self.loss_name,
            "seed": self.seed,
            "backbone": dataclasses.asdict(self.backbone_config),
        }
        save_weights(folder / "model.safetensors", self.model.state_dict(), {"format": "seqsuite"})
        atomic.write_json(folder / "config.json", config)
        return folder

    @classmethod
    def load(cls, folder: str | Path, device: str = "cpu") -> SequenceRegressor:
        """A regressor written by :meth:`save`."""
        from .config import build
        from .portable import load_weights
        from .rundir import read_json

        folder = Path(folder)
        config = read_json(folder / "config.json", "regressor config")
        if config.get("format") != "seqsuite.SequenceRegressor":
            raise UserError(f"{folder / 'config.json'}: not a saved SequenceRegressor")
        backbone = build(BackboneConfig, config["backbone"], "backbone")
        model = cls(
            config["input_size"],
            config["output_size"],
            backbone,
            loss=config["loss"],
            seed=config["seed"],
            device=device,
        )
        model.model.load_state_dict(load_weights(folder / "model.safetensors"))
        model.model.to(model.device)
        return model

    def evaluate(self, X: Any, y: Any) -> float:
        """The loss (mean over samples and outputs), as Keras' ``evaluate`` returns it."""
        return self._evaluate_split(self._split(X, y))
