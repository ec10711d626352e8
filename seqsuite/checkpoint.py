"""Checkpoint files: written atomically, verified, read without ever running code.

A checkpoint is a dict of tensors and plain values (numbers, strings, lists, dicts).
``torch.load(..., weights_only=True)`` refuses anything else, so a crafted file cannot
execute code when a run is evaluated, resumed or used with ``--init-from``.

Each ``X.pt`` has a digest file ``X.pt.sha256`` holding the SHA-256 of the previous and
of the new version; it is written (atomically) before the new ``X.pt`` replaces the old
one, so whenever a process is killed, the file on disk matches one of the two digests. A
file that matches neither (torn, truncated, modified) is refused, never read as valid.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from pathlib import Path
from typing import Any

import torch

from . import atomic
from .errors import UserError
from .input_files import regular_file

BEST = "best.pt"  # weights with the best validation metric (what eval/predict use)
LAST = "last.pt"  # full training state after the latest epoch (what resume uses)


def _digest_file(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _digests(path: Path) -> list[str]:
    sidecar = _digest_file(path)
    if not sidecar.exists() and not sidecar.is_symlink():
        return []
    with regular_file(sidecar, "checksum file").open("rb") as handle:
        return handle.read(4096).decode("ascii", errors="replace").split()  # two digests


def save(path: str | Path, payload: dict[str, Any]) -> None:
    path = Path(path)
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    data = buffer.getvalue()
    new = hashlib.sha256(data).hexdigest()
    atomic.check_target(path)  # a FIFO or device there is refused before it is read
    previous = hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else ""
    atomic.write_text(_digest_file(path), f"{previous}\n{new}\n" if previous else f"{new}\n")
    atomic.write_bytes(path, data)


#: what every seqsuite checkpoint holds; ``last.pt`` also the training state
WEIGHTS_KEYS = ("model",)
RESUME_KEYS = (
    *WEIGHTS_KEYS, "optimizer", "schedule", "scaler", "rng_torch", "rng_shuffle", "rng_epoch",
    "loop", "history",
)  # fmt: skip


def load(
    path: str | Path, map_location: str | torch.device = "cpu", keys: tuple[str, ...] = ()
) -> dict[str, Any]:
    """A checkpoint's contents (never running code from the file); with ``keys``, one
    line unless it is a dict holding them, its ``model`` a dict of tensors (a plain
    ``torch.save(model.state_dict())`` or a list is not a seqsuite checkpoint)."""
    saved = _load(Path(path), map_location)
    _check_layout(Path(path), saved, keys)
    return saved


def _check_layout(path: Path, saved: Any, keys: tuple[str, ...]) -> None:
    if not keys:
        return
    if not isinstance(saved, dict):
        raise UserError(
            f"{path}: not a seqsuite checkpoint (holds a {type(saved).__name__}, not a dict "
            f"with {', '.join(keys)})"
        )
    missing = [key for key in keys if key not in saved]
    if missing:
        hint = " (a model's state_dict alone?)" if "model" in missing else ""
        raise UserError(f"{path}: not a seqsuite checkpoint: no {missing[0]!r}{hint}")
    weights = saved["model"]
    if not isinstance(weights, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in weights.items()
    ):
        raise UserError(f"{path}: not a seqsuite checkpoint: 'model' is not named tensors")


def _load(path: Path, map_location: str | torch.device) -> Any:
    if not path.exists():
        raise UserError(f"{path}: checkpoint not found")
    data = regular_file(path, "checkpoint").read_bytes()  # a FIFO would never end
    known = _digests(path)
    if known and hashlib.sha256(data).hexdigest() not in known:
        raise UserError(
            f"{path}: checksum does not match {_digest_file(path).name}: the file is torn or was changed"
        )
    if not data.startswith((b"PK\x03\x04", b"\x80")):  # torch's zip, or a bare pickle
        raise UserError(f"{path}: not a PyTorch checkpoint (empty, or bytes of another kind)")
    try:
        with warnings.catch_warnings():  # torch's notes on a foreign file would be extra lines
            warnings.simplefilter("ignore")
            return torch.load(io.BytesIO(data), map_location=map_location, weights_only=True)
    except Exception as err:  # noqa: BLE001 - any failure means the file is unusable
        raise UserError(f"{path}: not a valid seqsuite checkpoint ({_why(err)})") from None


def _why(err: Exception) -> str:
    """Why a checkpoint was refused, in seqsuite's words: torch's own message suggests
    loading with ``weights_only=False``, which would run the code a crafted file holds."""
    text = str(err)
    if "weights_only" in text or "Unsupported global" in text or "Unpickler" in text:
        return "it holds objects other than tensors and plain values, which seqsuite never loads"
    first = text.strip().splitlines()[0] if text.strip() else type(err).__name__
    return first[:200]


def check_finite(weights: dict[str, Any], path: str | Path) -> None:
    """Refuse weights holding NaN or infinity: a model of them answers NaN, it does not fail."""
    for name, tensor in weights.items():
        if isinstance(tensor, torch.Tensor) and tensor.is_floating_point():
            if not bool(torch.isfinite(tensor).all()):
                raise UserError(f"{path}: tensor {name!r} holds NaN or infinite values")


def put_weights(module: torch.nn.Module, weights: dict[str, Any], path: str | Path) -> None:
    """``module.load_state_dict(weights)``, or one line naming ``path`` when the weights
    are another model's (a file copied from another run, a config edited after training)
    or not finite."""
    check_finite(weights, path)
    try:
        module.load_state_dict(weights)
    except RuntimeError as err:
        lines = [line.strip() for line in str(err).splitlines()[1:] if line.strip()]
        first = lines[0] if lines else str(err).splitlines()[0]
        raise UserError(
            f"{path}: these weights are not this run's model ({first}); the file comes from "
            "another run, or the run's config.toml was edited after training"
        ) from None
