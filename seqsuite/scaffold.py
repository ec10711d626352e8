"""``seqsuite new-task NAME``: a complete, installable task plugin to start from.

The generated package runs right after ``pip install -e PATH``: its task makes a small
data set itself (noisy waves: is the frequency high or low?), shows every hook of the
task contract with a docstring that says when the core calls it, and has a test.
"""

from __future__ import annotations

import keyword
import re
from pathlib import Path
from string import Template

from . import TASK_API_VERSION, __version__, atomic, registry
from .errors import UserError

PYPROJECT = Template("""[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "seqsuite-$name"
version = "0.1.0"
description = "A seqsuite task plugin: $name"
requires-python = ">=3.11"
dependencies = ["seqsuite>=$version"]

[project.optional-dependencies]
test = ["pytest"]

# seqsuite finds tasks only through this entry-point group
[project.entry-points."seqsuite.tasks"]
$name = "$package.task:${classname}"

[tool.setuptools]
packages = ["$package"]

[tool.setuptools.package-data]
$package = ["*.toml"]
""")

README = Template("""# seqsuite-$name

A seqsuite task plugin (install seqsuite from its wheel or checkout first).

```sh
pip install -e ".[test]"         # registers the task (seqsuite.tasks entry point), and pytest
seqsuite tasks                   # lists it
seqsuite run $name               # trains on the small data set the task makes itself
seqsuite run $name --config $package/$name.toml --set backbone.hidden_size=64
seqsuite predict runs/$name-*/ "0.1,0.5,0.9,0.4"
python -m pytest tests
```

Edit `$package/task.py`: `prepare` loads your data, `input_adapter` and `head` wrap the shared
backbone, `loss`, `evaluate`, `baselines`, `report`, `predict` and `generate` do the rest.
""")

CONFIG = Template("""# Options of the $name task; pass with: seqsuite run $name --config THIS_FILE
[task]
examples = 600
length = 40

[train]
epochs = 8
""")

TASK = Template('''"""The $name task: is a noisy wave's frequency high or low?

Replace the data with yours; keep the hooks. The core calls them in this order:
``prepare`` -> ``input_adapter`` + backbone + ``head`` -> training with ``loss`` and
``evaluate(..., "val")`` -> ``evaluate(..., "test")``, ``baselines``, ``report``.
Later, on a finished run: ``predict`` and ``generate``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from seqsuite import ArraySplit, Evaluation, Prepared, Results, Task, UserError
from seqsuite.adapters import FeatureInput
from seqsuite.heads import PooledHead
from seqsuite.metrics import classification
from seqsuite.plots import plt, save

CLASSES = ["low", "high"]


@dataclass
class ${classname}Config:
    """The [task] section: every field has a default and is set with --set task.NAME=VALUE."""

    examples: int = field(default=600, metadata={"min": 10, "help": "waves to make"})
    length: int = field(default=40, metadata={"min": 4, "help": "steps per wave"})
    noise: float = field(default=0.3, metadata={"min": 0.0})


def make_waves(examples: int, length: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(examples, length) waves and their labels: 0 = low frequency, 1 = high."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, examples)
    freq = np.where(labels == 1, rng.uniform(0.25, 0.4, examples), rng.uniform(0.05, 0.2, examples))
    t = np.arange(length)
    waves = np.sin(freq[:, None] * t[None, :] * 2 * np.pi / 4 + rng.uniform(0, 6.3, (examples, 1)))
    return (waves + rng.normal(0, noise, waves.shape)).astype(np.float32), labels


class ${classname}(Task):
    api_version = $api_version  # the task contract this plugin was written for
    name = "$name"
    summary = "is a noisy wave's frequency high or low? (a seqsuite plugin template)"
    config_class = ${classname}Config
    datasets = ("waves",)
    primary_metric = "accuracy"
    higher_is_better = True
    defaults = {"backbone": {"hidden_size": 32}, "train": {"epochs": 8, "batch_size": 32}}
    quick = {"train": {"epochs": 2}}  # for seqsuite compare --quick

    def prepare(self, ctx) -> Prepared:
        """Load the data (ctx.config.run.data is a path, ctx.config.run.dataset a name) and
        return train/val/test splits. Raise UserError for bad input: the CLI exits with 2."""
        o = ctx.options
        if ctx.config.run.data:
            raise UserError(f"{ctx.config.run.data}: this template only makes its own waves")
        waves, labels = make_waves(o.examples, o.length, o.noise, ctx.seed)
        x = torch.from_numpy(waves).unsqueeze(-1)  # (examples, time, 1 feature)
        y = torch.from_numpy(labels)
        cut1, cut2 = int(0.7 * len(y)), int(0.85 * len(y))
        split = lambda a, b: ArraySplit({"x": x[a:b], "label": y[a:b]})  # noqa: E731
        return Prepared(
            train=split(0, cut1), val=split(cut1, cut2), test=split(cut2, None),
            spec={"features": 1, "classes": len(CLASSES)},  # saved: rebuilds the model later
            state={"classes": CLASSES},  # saved: what predict needs to know
            dataset="waves",
        )

    def input_adapter(self, ctx, spec: dict[str, Any]):
        """batch -> (batch, time, features) for the backbone; any nn.Module with output_size."""
        return FeatureInput(spec["features"])

    def head(self, ctx, spec: dict[str, Any], in_features: int):
        """(backbone output, batch) -> predictions."""
        return PooledHead(in_features, spec["classes"], pooling="mean")

    def loss(self, output: torch.Tensor, batch: dict[str, Any]) -> torch.Tensor:
        return F.cross_entropy(output, batch["label"])

    @torch.no_grad()
    def evaluate(self, ctx, model, prepared: Prepared, split: str) -> Evaluation:
        """Metrics on "val" (early stopping, every epoch) or "test" (primary_metric among
        them), and the predictions, which report() receives for the test split."""
        data = getattr(prepared, split).to(ctx.device)
        batch = next(data.batches(data.size))
        predicted = model(batch)[0].argmax(-1).cpu().numpy()[np.argsort(batch["index"].cpu().numpy())]
        metrics = classification(data["label"].cpu().numpy(), predicted, len(CLASSES))
        return Evaluation(metrics, outputs=predicted)

    def baselines(self, ctx, prepared: Prepared) -> dict[str, Evaluation]:
        """Simple models on the same test split, with the same metric names."""
        test = prepared.test["label"].numpy()
        majority = np.full(len(test), np.bincount(prepared.train["label"].numpy()).argmax())
        return {"majority": Evaluation(classification(test, majority, len(CLASSES)), majority)}

    def report(self, ctx, model, prepared: Prepared, results: Results) -> None:
        """Plots and outputs into the run directory (ctx.path makes folders as needed);
        results holds the metrics (read-only) and each model's test outputs."""
        fig, ax = plt.subplots(figsize=(8, 3.2))
        x, truth = prepared.test["x"][:, :, 0].numpy(), prepared.test["label"].numpy()
        for k in range(4):
            said = CLASSES[int(results.test.outputs[k])]
            ax.plot(x[k], marker=".", label=f"true {CLASSES[int(truth[k])]}, predicted {said}")
        ax.set_xlabel("time step")
        ax.set_ylabel("value")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
        ax.set_title(f"test examples; accuracy {results.metrics['test']['accuracy']:.3f}")
        save(fig, ctx.path("plots/examples.png"))

    @torch.no_grad()
    def predict(self, ctx, model, inputs: list[str], options: dict[str, Any]) -> list[dict[str, Any]]:
        """One row per input: `seqsuite predict RUN_DIR "0.1,0.5,0.9"` prints them as a table."""
        rows = []
        for text in inputs:
            try:
                values = torch.tensor([float(v) for v in text.split(",")]).view(1, -1, 1)
                if not torch.isfinite(values).all():
                    raise ValueError
            except ValueError:
                raise UserError(f"input {text!r}: expected finite numbers separated by commas") from None
            probs = torch.softmax(model({"x": values.to(ctx.device)})[0][0], -1)
            rows.append({"input": text, "label": ctx.state["classes"][int(probs.argmax())], "probability": round(float(probs.max()), 4)})
        return rows

    def generate(self, ctx, model, options: dict[str, Any]) -> dict[str, Any]:
        """Generative tasks sample here (seqsuite generate RUN_DIR); this one does not."""
        raise UserError(f"task {self.name!r} classifies waves; it does not generate")
''')

TEST = Template('''"""The $name plugin: installed, discovered, trained, used."""

import json
import subprocess
import sys


def seqsuite(*args, cwd):
    return subprocess.run([sys.executable, "-m", "seqsuite", *args], cwd=cwd, capture_output=True, text=True, timeout=600)


def test_task_is_discovered_trains_and_predicts(tmp_path):
    listed = seqsuite("tasks", "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert any(t["name"] == "$name" and t["ok"] for t in json.loads(listed.stdout))
    run = seqsuite("run", "$name", "--out", "run", "--set", "train.epochs=3", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["test"]["accuracy"] >= metrics["baselines"]["majority"]["accuracy"]
    predicted = seqsuite("predict", "run", "0.0,1.0,0.0,-1.0,0.0,1.0", "--json", cwd=tmp_path)
    assert predicted.returncode == 0, predicted.stderr
    assert json.loads(predicted.stdout)[0]["label"] in ("low", "high")


def test_bad_input_is_a_clear_user_error(tmp_path):
    result = seqsuite("run", "$name", "--set", "task.examples=-5", cwd=tmp_path)
    assert result.returncode == 2 and "task.examples" in result.stderr
''')


def next_steps(root: Path, name: str) -> str:
    """The commands that install and run the new plugin, for the interpreter running now
    (so they work as printed inside a virtual environment that is not activated)."""
    import shlex
    import sys

    python = shlex.quote(sys.executable)
    return (
        f"  {python} -m pip install -e {shlex.quote(str(root))}\n  {python} -m seqsuite run {name}"
    )


def _classname(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_")) + "Task"


def new_task(name: str, where: str | Path | None = None) -> Path:
    """Write the plugin package for task ``name`` into ``where`` (default ``./seqsuite-NAME``)."""
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise UserError(
            f"task name {name!r}: use lower-case letters, digits and underscores, starting with a letter"
        )
    if keyword.iskeyword(name):
        raise UserError(
            f"task name {name!r}: a Python keyword cannot name a module; choose another"
        )
    if name in registry.task_names():
        raise UserError(
            f"task name {name!r}: an installed task has it (a plugin never takes an installed "
            "task's name); choose another"
        )
    root = Path(where) if where else Path(f"seqsuite-{name}")
    if root.exists() and any(root.iterdir()):
        raise UserError(f"--dir {root}: exists and is not empty")
    package = f"seqsuite_{name}"
    values = {
        "name": name,
        "package": package,
        "classname": _classname(name),
        "version": __version__,
        "api_version": TASK_API_VERSION,
    }
    files = {
        "pyproject.toml": PYPROJECT,
        "README.md": README,
        f"{package}/__init__.py": Template('"""The $name task plugin for seqsuite."""\n'),
        f"{package}/task.py": TASK,
        f"{package}/$name.toml".replace("$name", name): CONFIG,
        f"tests/test_{name}.py": TEST,
    }
    for relative, template in files.items():
        atomic.write_text(root / relative, template.substitute(values))
    return root
