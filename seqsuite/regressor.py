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
from sklearn.base import BaseEstimator, RegressorMixin

from .adapters import FeatureInput
from .backbone import Backbone, BackboneConfig
from .batches import ArraySplit
from .devices import resolve_device
from .errors import UserError
from .heads import LastStateHead
from .model import SequenceModel
from .trainer import FitResult, TrainConfig, Trainer

LOSSES = {"mse": F.mse_loss, "mae": F.l1_loss, "huber": F.huber_loss}


class SequenceRegressor(RegressorMixin, BaseEstimator):
    """Sequence -> vector regression with the shared backbone and a linear output.

    A scikit-learn estimator as well (its tags, ``clone``, ``GridSearchCV``), with
    Keras' ways where the two differ: ``fit`` returns the history and goes on from the
    weights already trained."""

    def __init__(
        self,
        input_size: int,
        output_size: int = 1,
        backbone: BackboneConfig | None = None,
        loss: str = "mse",
        seed: int = 0,
        device: str = "cpu",
        train: TrainConfig | dict[str, Any] | None = None,
    ):
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {sorted(LOSSES)}")
        self.loss_name = loss
        self.seed = seed
        self.device_name, self.train, self.backbone = device, train, backbone  # get_params
        self.device = resolve_device(device)
        config = backbone or BackboneConfig()
        with torch.random.fork_rng(devices=[]):  # the caller's random stream is left as it was
            torch.manual_seed(seed)
            adapter = FeatureInput(input_size)
            core = Backbone(input_size, config)
            head = LastStateHead(core.output_size, output_size)
        self.model = SequenceModel(adapter, core, head)
        self.output_size = output_size
        self.input_size = input_size
        self.backbone_config = config

    def _split(self, X: Any, y: Any | None = None) -> ArraySplit:
        x = torch.as_tensor(self._inputs(X))
        tensors = {"x": x}
        if y is not None:
            tensors["y"] = torch.as_tensor(self._targets(y, len(x)))
        return ArraySplit(tensors)

    def _inputs(self, X: Any) -> np.ndarray:
        """``X`` as float32 (samples, time, features); ValueError naming what is wrong."""
        x = _numbers(X, "X")
        if x.ndim == 2 and self.input_size == 1:
            x = x[..., None]  # (samples, time) of one feature
        if x.ndim != 3 or x.shape[-1] != self.input_size:
            raise ValueError(
                f"X: shape {x.shape}; expected (samples, time, {self.input_size})"
                + (" or (samples, time)" if self.input_size == 1 else "")
            )
        if not len(x) or not x.shape[1]:
            raise ValueError(f"X: shape {x.shape}; expected at least one sample of one step")
        return x

    def _targets(self, y: Any, samples: int) -> np.ndarray:
        """``y`` as float32 (samples, outputs), matching ``X`` and ``output_size``."""
        target = _numbers(y, "y")
        if target.ndim == 0 or len(target) != samples:
            raise ValueError(f"y: shape {target.shape}; X has {samples} samples")
        target = target.reshape(samples, -1)
        if target.shape[1] != self.output_size:
            raise ValueError(
                f"y: {target.shape[1]} values per sample; this regressor has output_size="
                f"{self.output_size}"
            )
        return target

    def _loss(self, output: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return LOSSES[self.loss_name](output, batch["y"])

    def fit(
        self,
        X: Any,
        y: Any,
        train: TrainConfig | dict[str, Any] | None = None,
        validation_data: tuple[Any, Any] | None = None,
        progress: Any = None,
    ) -> FitResult:
        """Train (a second call goes on from the weights trained so far, as Keras does);
        with ``validation_data`` the best epoch on its loss is kept. ``train``: a
        :class:`TrainConfig` or a dict of its fields (default: the constructor's)."""
        validate = None
        if validation_data is not None:
            val = self._split(*validation_data)
            validate = lambda model: {"loss": self._evaluate_split(val)}  # noqa: E731
        train = train if train is not None else self.train
        if isinstance(train, dict):
            from .config import build

            train = build(TrainConfig, train, "train")
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

    # -- scikit-learn's estimator protocol: clone, GridSearchCV, cross_val_score (score,
    # R², is RegressorMixin's) -----------------------------------------------------------

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's arguments, as scikit-learn's ``clone`` rebuilds from them."""
        return {
            "input_size": self.input_size,
            "output_size": self.output_size,
            "backbone": self.backbone,
            "loss": self.loss_name,
            "seed": self.seed,
            "device": self.device_name,
            "train": self.train,
        }

    def set_params(self, **params: Any) -> SequenceRegressor:
        """New constructor arguments: the model is built anew (its training is dropped)."""
        unknown = sorted(set(params) - set(self.get_params()))
        if unknown:
            raise ValueError(f"set_params: unknown parameter(s) {unknown}")
        self.__init__(**{**self.get_params(), **params})
        return self

    def evaluate(self, X: Any, y: Any) -> float:
        """The loss (mean over samples and outputs), as Keras' ``evaluate`` returns it."""
        return self._evaluate_split(self._split(X, y))


def _numbers(values: Any, name: str) -> np.ndarray:
    """``values`` as a float32 array of finite numbers; ValueError naming ``name``."""
    try:
        array = np.asarray(values, dtype=np.float32)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name}: expected an array of numbers ({err})") from None
    bad = np.argwhere(~np.isfinite(array))
    if len(bad):
        raise ValueError(f"{name}: NaN or infinite value at index {tuple(int(i) for i in bad[0])}")
    return array
