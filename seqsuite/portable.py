"""Portable models: a run's ``model/`` folder, and finding a model by path or Hub id.

``model/`` holds what another machine needs to use a trained model, and nothing that runs
code when it is read::

    model.safetensors   the evaluated weights only (safetensors: tensors, no pickle)
    config.toml         the run's resolved configuration (rebuilds the model)
    task_state.json     the model's spec and the task's fitted state (vocabulary, scaler)
    metrics.json        the run's metrics (what the model card shows)
    README.md           the model card: task, data, metrics against baselines, how to load

``seqsuite eval``, ``predict``, ``generate``, ``--init-from`` and ``seqsuite.load`` take a
run directory, such a folder, or (online) a Hub model id ``owner/name``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from . import atomic, hub, rundir
from .checkpoint import check_finite
from .errors import UserError
from .input_files import regular_file

MODEL_DIR = "model"
WEIGHTS = "model.safetensors"
CARD = "README.md"


def save_weights(path: str | Path, state: dict[str, Tensor], metadata: dict[str, str]) -> None:
    """Tensors to a safetensors file, atomically. Tied weights (one tensor under two names)
    are stored once per name: safetensors refuses shared memory, and loading sets both."""
    from safetensors.torch import save

    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in state.items()}
    atomic.write_bytes(path, save(tensors, metadata=metadata))


def load_weights(path: str | Path) -> dict[str, Tensor]:
    """The tensors of a safetensors file (a damaged file is one clear line)."""
    from safetensors.torch import load

    path = regular_file(path, "weights file")  # a FIFO or device would block or never end
    try:
        tensors = load(path.read_bytes())
    except OSError as err:
        raise UserError(f"{path}: cannot read ({err.strerror})") from None
    except Exception as err:  # noqa: BLE001 - safetensors raises its own error types
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(f"{path}: not a valid safetensors file ({first[:160]})") from None
    check_finite(tensors, path)
    return tensors


def is_model_dir(path: str | Path) -> bool:
    return (Path(path) / WEIGHTS).is_file() and (Path(path) / rundir.CONFIG).is_file()


def write_model_dir(
    run_dir: Path, model: torch.nn.Module, metrics: dict[str, Any], files: tuple[str, ...] = ()
) -> Path:
    """``RUN_DIR/model/``: weights, config, task state, metrics, the model card, and the
    run's ``files`` that inference reads (``Task.model_files``) where they exist."""
    folder = atomic.folder_inside(run_dir, MODEL_DIR)
    meta = {"format": "seqsuite", "task": str(metrics.get("task", ""))}
    save_weights(folder / WEIGHTS, model.state_dict(), meta)
    for name in (rundir.CONFIG, rundir.STATE, *files):
        if (run_dir / name).is_file() and Path(name).name == name:
            atomic.write_bytes(folder / name, (run_dir / name).read_bytes())
    atomic.write_json(folder / rundir.METRICS, rundir.clean_json(metrics))
    atomic.write_text(folder / CARD, model_card(metrics, rundir.read_config(run_dir)))
    return folder


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else ("" if value is None else str(value))


def metrics_markdown(metrics: dict[str, Any]) -> str:
    """The test metrics of the model and its baselines as a Markdown table."""
    test = metrics.get("test", {})
    names = list(test)
    rows = [("model (" + str(metrics.get("model", "lstm")) + ")", test)]
    rows += list(metrics.get("baselines", {}).items())
    lines = ["| | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for label, values in rows:
        lines.append(f"| {label} | " + " | ".join(_fmt(values.get(n)) for n in names) + " |")
    return "\n".join(lines)


def model_card(metrics: dict[str, Any], config: dict[str, Any]) -> str:
    """README.md of ``model/``: what the model is, how good against simple baselines, how
    to load it. Written from ``metrics.json``: every number in it was measured by the run."""
    task, data = metrics.get("task", "?"), metrics.get("dataset", "") or "the user's data"
    backbone = config.get("backbone", {})
    direction = "higher" if metrics.get("higher_is_better") else "lower"
    shape = (
        f"{backbone.get('num_layers', 1)} x {backbone.get('hidden_size', '?')} "
        f"{'bidirectional ' if backbone.get('bidirectional') else ''}{backbone.get('cell', 'lstm')}"
    )
    return f"""---
library_name: seqsuite
tags: [seqsuite, {task}, lstm]
---

# seqsuite {task} model

A `{task}` model trained with [seqsuite](https://pypi.org/project/seqsuite/) on **{data}**:
task adapter, a {shape} backbone, task head; {metrics.get("params", "?")} parameters,
{metrics.get("epochs", "?")} epochs (best: {metrics.get("best_epoch", "?")}), seed {metrics.get("seed", "?")},
seqsuite {metrics.get("seqsuite_version", "?")}.

## Test metrics against baselines

Primary metric: `{metrics.get("primary_metric", "?")}` ({direction} is better), on the run's
held-out test split; the baselines were fitted on the same training split.

{metrics_markdown(metrics)}

## Use

```python
import seqsuite

run = seqsuite.load("path/to/this/folder")   # or a Hub id: seqsuite.load("owner/name")
run.metrics
```

```sh
seqsuite eval MODEL_DIR
seqsuite predict MODEL_DIR ...      # or: seqsuite generate MODEL_DIR
seqsuite run OTHER_TASK --init-from MODEL_DIR
```

Files: `model.safetensors` (weights only), `config.toml` (the resolved configuration),
`task_state.json` (model spec and fitted preprocessing), `metrics.json`.
"""


def looks_like_hub_id(text: str) -> bool:
    parts = str(text).split("/")
    return len(parts) == 2 and all(parts) and not str(text).startswith((".", "/", "~"))


def resolve(where: str | Path, what: str = "RUN_DIR") -> Path:
    """A local folder holding a run or a model: ``where`` itself, or the Hub model
    ``owner/name`` downloaded into the cache (online only; offline, one line at once)."""
    path = Path(where).expanduser()
    if path.exists() or not looks_like_hub_id(str(where)):
        return path
    if not hub.hub_reachable():
        raise UserError(
            f"{what} {where}: no such folder, and the Hugging Face Hub cannot be reached "
            "(offline) to download a model of that id"
        )
    return download(str(where))


def download(repo_id: str) -> Path:
    """Hub model ``repo_id`` into ``SEQSUITE_CACHE/hub-models`` (a folder seqsuite may
    write into: ``eval`` and ``generate`` leave their outputs beside the model)."""
    from huggingface_hub import snapshot_download

    from .cache import cache_dir

    target = cache_dir() / "hub-models" / repo_id.replace("/", "--")
    try:
        snapshot_download(repo_id, local_dir=target)
    except Exception as err:  # noqa: BLE001 - network, missing or private repository
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(f"{repo_id}: could not download from the Hub ({first[:160]})") from None
    if not is_model_dir(target):
        raise UserError(f"{repo_id}: the Hub repository holds no seqsuite model ({WEIGHTS})")
    return target


def model_folder(run_or_model: str | Path) -> Path:
    """The ``model/`` folder of a run directory, or the folder itself if it is one."""
    path = Path(run_or_model)
    if is_model_dir(path):
        return path
    if is_model_dir(path / MODEL_DIR):
        return path / MODEL_DIR
    raise UserError(
        f"{path}: holds no portable model (model/{WEIGHTS}); runs write it when they finish"
    )


def copy_model(run_or_model: str | Path, target: str | Path) -> Path:
    """Copy a run's ``model/`` folder to ``target`` (which must not hold other files)."""
    source, target = model_folder(run_or_model), Path(target)
    if target.exists() and any(target.iterdir()) and not is_model_dir(target):
        raise UserError(f"{target}: exists and holds other files; give an empty or new folder")
    target.mkdir(parents=True, exist_ok=True)
    for item in source.iterdir():
        if item.is_file() and not item.is_symlink():
            atomic.write_bytes(target / item.name, item.read_bytes())  # never through a link
    return target


def push(run_or_model: str | Path, repo_id: str, *, private: bool = False) -> str:
    """Upload a run's ``model/`` to the Hub model repository ``repo_id``; returns its URL.
    Offline, one line at once (nothing is attempted)."""
    folder = model_folder(run_or_model)
    if not looks_like_hub_id(repo_id):
        raise UserError(f"{repo_id}: expected a Hub repository id OWNER/NAME")
    if not hub.hub_reachable():
        raise UserError(
            f"push {repo_id}: the Hugging Face Hub cannot be reached (offline); nothing was uploaded"
        )
    from huggingface_hub import HfApi

    api = HfApi()
    try:
        api.create_repo(repo_id, private=private, exist_ok=True)
        info = api.upload_folder(
            folder_path=str(folder), repo_id=repo_id, commit_message="seqsuite push"
        )
    except Exception as err:  # noqa: BLE001 - authentication, network, permissions
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(f"push {repo_id}: the upload failed ({first[:200]})") from None
    return str(getattr(info, "repo_url", "") or f"https://huggingface.co/{repo_id}")
