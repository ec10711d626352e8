"""Checkpoint files: written atomically, read without ever running code from them.

A checkpoint is a dict of tensors and plain values (numbers, strings, lists, dicts).
``torch.load(..., weights_only=True)`` refuses anything else, so a crafted file cannot
execute code when a run is evaluated, resumed or used with ``--init-from``.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch

from . import atomic
from .errors import UserError

BEST = "best.pt"  # weights with the best validation metric (what eval/predict use)
LAST = "last.pt"  # full training state after the latest epoch (what resume uses)


def save(path: str | Path, payload: dict[str, Any]) -> None:
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic.write_bytes(path, buffer.getvalue())


def load(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: checkpoint not found")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # noqa: BLE001 - any failure means the file is unusable
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(f"{path}: not a valid seqsuite checkpoint ({first})") from None
