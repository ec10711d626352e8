"""The video task: a small CNN per frame -> the shared LSTM backbone -> which digit, which way.

Written only against seqsuite's public task contract: the input adapter here is a whole
convolutional network; the core never knows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from seqsuite import ArraySplit, Evaluation, Prepared, Task, UserError
from seqsuite.heads import PooledHead
from seqsuite.metrics import classification
from seqsuite.plots import confusion_plot, plt, save
from seqsuite.splits import stratified_split

from .clips import load_folder, moving_digits


@dataclass
class VideoConfig:
    clips: int = field(default=3000, metadata={"min": 40, "help": "clips to make (default data)"})
    frames: int = field(default=10, metadata={"min": 2})
    size: int = field(default=16, metadata={"min": 9, "help": "frame height and width (pixels)"})
    noise: float = field(default=0.1, metadata={"min": 0.0})
    channels: int = field(default=16, metadata={"min": 1, "help": "first convolution's channels"})
    frame_code: int = field(
        default=64, metadata={"min": 1, "help": "features per frame for the backbone"}
    )


class SpatialPool(nn.Module):
    """Mean and max over space: any frame size, and it exports to ONNX (adaptive pooling does not)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x.mean(dim=(2, 3)), x.amax(dim=(2, 3))], dim=1)


class FrameEncoder(nn.Module):
    """The input adapter: a CNN applied to every frame, (batch, time, H, W) -> (batch, time, code)."""

    def __init__(self, channels: int, code: int):
        super().__init__()
        self.output_size = code
        self.cnn = nn.Sequential(
            nn.Conv2d(1, channels, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(channels, 2 * channels, 3, padding=1),
            nn.ReLU(),
            SpatialPool(),
            nn.Linear(4 * channels, code),
            nn.ReLU(),
        )

    def forward(self, batch: dict[str, Any]) -> torch.Tensor:
        clips = batch["clips"]
        b, t, h, w = clips.shape
        return self.cnn(clips.reshape(b * t, 1, h, w)).view(b, t, -1)


class VideoTask(Task):
    name = "video"
    summary = "moving digits: which digit, which direction (per-frame CNN + LSTM; example plugin)"
    config_class = VideoConfig
    datasets = ("moving-digits",)
    primary_metric = "accuracy"
    higher_is_better = True
    defaults = {
        "backbone": {"hidden_size": 64},
        "train": {"epochs": 15, "batch_size": 32, "lr": 2e-3, "patience": 4},
    }
    quick = {"task": {"clips": 800}, "train": {"epochs": 3}}

    def prepare(self, ctx) -> Prepared:
        o = ctx.options
        if ctx.config.run.data:
            clips, labels = load_folder(Path(ctx.config.run.data))
            name = Path(ctx.config.run.data).name
        else:
            clips, labels = moving_digits(o.clips, o.frames, o.size, o.noise, ctx.seed)
            name = "moving-digits"
        classes = list((ctx.state or {}).get("classes") or sorted(set(labels)))
        index = {c: i for i, c in enumerate(classes)}
        if any(lab not in index for lab in labels):
            raise UserError(f"{name}: labels not among the run's classes")
        y = np.array([index[lab] for lab in labels])
        parts = stratified_split(y, 0.15, 0.15, ctx.seed)
        x = torch.from_numpy(clips)

        def split(rows: list[int]) -> ArraySplit:
            return ArraySplit(
                {"clips": x[rows], "label": torch.from_numpy(y[rows])}, seq_key="clips"
            )

        return Prepared(
            train=split(parts["train"]),
            val=split(parts["val"]),
            test=split(parts["test"]),
            spec={"classes": len(classes), "frame_shape": list(clips.shape[2:])},
            state={"classes": classes},
            dataset=name,
            data={"clips": clips, "y": y, "parts": parts, "classes": classes},
        )

    def export_inputs(self, ctx, spec):
        """Example inputs for `seqsuite export`: clips (batch, frames, height, width)."""
        return {"clips": torch.randn(2, 5, *spec["frame_shape"])}

    def input_adapter(self, ctx, spec):
        return FrameEncoder(ctx.options.channels, ctx.options.frame_code)

    def head(self, ctx, spec, in_features):
        return PooledHead(in_features, spec["classes"], pooling="last")

    def loss(self, output, batch):
        return F.cross_entropy(output, batch["label"])

    @torch.no_grad()
    def _predict(self, ctx, model, split: ArraySplit) -> np.ndarray:
        model.eval()
        out = np.zeros(split.size, dtype=int)
        for batch in split.to(ctx.device).batches(256):
            out[batch["index"].numpy()] = model(batch)[0].argmax(-1).cpu().numpy()
        return out

    def _scores(
        self, classes: list[str], truth: np.ndarray, predicted: np.ndarray
    ) -> dict[str, float]:
        scores = classification(truth, predicted, len(classes))

        def parts(ids: np.ndarray, k: int) -> np.ndarray:
            return np.array(
                [classes[i].split("-")[k] if "-" in classes[i] else classes[i] for i in ids]
            )

        scores["digit_accuracy"] = float((parts(truth, 0) == parts(predicted, 0)).mean())
        scores["direction_accuracy"] = float((parts(truth, -1) == parts(predicted, -1)).mean())
        return scores

    def evaluate(self, ctx, model, prepared, split):
        data = getattr(prepared, split)
        predicted = self._predict(ctx, model, data)
        scores = self._scores(prepared.data["classes"], data["label"].numpy(), predicted)
        return Evaluation(scores, outputs=predicted)

    def baselines(self, ctx, prepared):
        from sklearn.linear_model import LogisticRegression

        clips, y, parts, classes = (prepared.data[k] for k in ("clips", "y", "parts", "classes"))
        train, test = parts["train"], parts["test"]
        average = clips.mean(axis=1).reshape(len(clips), -1)  # one still image per clip
        still = (
            LogisticRegression(max_iter=1000, random_state=ctx.seed)
            .fit(average[train], y[train])
            .predict(average[test])
        )
        majority = np.full(len(test), np.bincount(y[train]).argmax())
        return {
            "majority": self._scores(classes, y[test], majority),
            "average_frame_logreg": self._scores(classes, y[test], still),
        }

    def report(self, ctx, model, prepared, results):
        from seqsuite.metrics import confusion_matrix

        classes = prepared.data["classes"]
        truth = prepared.test["label"].numpy()
        confusion_plot(
            confusion_matrix(truth, results.test.outputs, len(classes)),
            classes,
            ctx.path("plots/confusion.png"),
            "video (test)",
        )
        clip = prepared.test["clips"][0].numpy()
        fig, axes = plt.subplots(1, len(clip), figsize=(1.2 * len(clip), 1.6))
        for t, ax in enumerate(np.atleast_1d(axes)):
            ax.imshow(clip[t], cmap="gray")
            ax.axis("off")
        fig.suptitle(f"a test clip: {classes[int(truth[0])]}")
        save(fig, ctx.path("plots/clip.png"))

    @torch.no_grad()
    def predict(self, ctx, model, inputs, options):
        if not inputs:
            raise UserError("give clips to classify: seqsuite predict RUN_DIR clip.npy ...")
        rows = []
        for path in inputs:
            try:
                clip = torch.from_numpy(np.load(path, allow_pickle=False).astype(np.float32))
            except (ValueError, OSError) as err:
                raise UserError(f"{path}: not a numpy array file ({err})") from None
            probs = torch.softmax(model({"clips": clip[None].to(ctx.device)})[0][0], -1)
            rows.append(
                {
                    "clip": path,
                    "label": ctx.state["classes"][int(probs.argmax())],
                    "probability": round(float(probs.max()), 4),
                }
            )
        return rows
