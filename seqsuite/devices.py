"""Choosing the device and seeding every random generator."""

from __future__ import annotations

import random

import numpy as np
import torch

from .errors import UserError


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when present; asking for CUDA without it is a user error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda: no CUDA device is available here; use --device cpu or auto")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    """Same seed, same data splits, initial weights and batches (on CPU: same metrics)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
