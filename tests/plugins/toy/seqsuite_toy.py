"""A third-party task plugin used by the tests: predict the mean of a random sequence.

It lives in its own distribution (``seqsuite-toy``, see the ``.dist-info`` folder beside
it) and is found only through the ``seqsuite.tasks`` entry point, as after ``pip install``.
"""

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from seqsuite import ArraySplit, Prepared, Task
from seqsuite.adapters import FeatureInput
from seqsuite.heads import LastStateHead


@dataclass
class ToyConfig:
    examples: int = field(default=256, metadata={"min": 8})
    length: int = field(default=12, metadata={"min": 1})


class ToyTask(Task):
    name = "toy"
    summary = "mean of a random sequence (test plugin)"
    config_class = ToyConfig
    datasets = ("random",)
    primary_metric = "mse"
    defaults = {"train": {"epochs": 3, "batch_size": 32}, "backbone": {"hidden_size": 16}}

    def prepare(self, ctx):
        o = ctx.options
        g = torch.Generator().manual_seed(ctx.seed)
        lengths = torch.randint(1, o.length + 1, (o.examples,), generator=g)
        x = torch.randn(o.examples, o.length, 1, generator=g)
        mask = torch.arange(o.length)[None, :] < lengths[:, None]
        x = x * mask[..., None]
        y = x.sum(1) / lengths[:, None]
        cut1, cut2 = int(0.6 * o.examples), int(0.8 * o.examples)

        def part(a, b):
            return ArraySplit({"x": x[a:b], "y": y[a:b], "lengths": lengths[a:b]})

        return Prepared(
            part(0, cut1),
            part(cut1, cut2),
            part(cut2, None),
            spec={"features": 1},
            dataset="random",
            refit_train=part(0, cut2),
        )

    def input_adapter(self, ctx, spec):
        return FeatureInput(spec["features"])

    def head(self, ctx, spec, in_features):
        return LastStateHead(in_features, 1)

    def loss(self, output, batch):
        return F.mse_loss(output, batch["y"])

    def evaluate(self, ctx, model, prepared, split):
        data = getattr(prepared, split)
        total = 0.0
        for batch in data.to(ctx.device).batches(512):
            total += float(F.mse_loss(model(batch)[0], batch["y"], reduction="sum"))
        return {"mse": total / data.size}

    def baselines(self, ctx, prepared):
        mean = prepared.train["y"].mean()
        return {"train_mean": {"mse": float(((prepared.test["y"] - mean) ** 2).mean())}}

    def predict(self, ctx, model, inputs, options):
        rows = []
        for text in inputs:
            values = torch.tensor([float(v) for v in text.split(",")]).view(1, -1, 1)
            rows.append({"input": text, "mean": float(model({"x": values.to(ctx.device)})[0])})
        return rows
