"""Moving-digit clips from scikit-learn's bundled 8 x 8 digits (no download)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from seqsuite import UserError

DIRECTIONS = ("left", "right", "up", "down")
STEPS = {"left": (0, -1), "right": (0, 1), "up": (-1, 0), "down": (1, 0)}


def moving_digits(
    count: int, frames: int, size: int, noise: float, seed: int
) -> tuple[np.ndarray, list[str]]:
    """(count, frames, size, size) float32 clips and labels like "7-left"."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = digits.images / 16.0
    rng = np.random.default_rng(seed)
    clips = np.zeros((count, frames, size, size), dtype=np.float32)
    labels = []
    room = size - 8
    for i in range(count):
        k = rng.integers(len(images))
        direction = DIRECTIONS[rng.integers(4)]
        dy, dx = STEPS[direction]
        speed = rng.uniform(0.5, 1.0) * room / max(frames - 1, 1)
        y0 = rng.uniform(0, room) if dy == 0 else (room if dy < 0 else 0)
        x0 = rng.uniform(0, room) if dx == 0 else (room if dx < 0 else 0)
        for t in range(frames):
            y = int(round(np.clip(y0 + dy * speed * t, 0, room)))
            x = int(round(np.clip(x0 + dx * speed * t, 0, room)))
            clips[i, t, y : y + 8, x : x + 8] = images[k]
        labels.append(f"{digits.target[k]}-{direction}")
    clips += rng.normal(0, noise, clips.shape).astype(np.float32)
    return clips, labels


def load_folder(root: Path) -> tuple[np.ndarray, list[str]]:
    """``DATA/<label>/*.npy``, each clip (frames, height, width); all the same shape."""
    files = sorted(p for p in root.glob("*/*.npy"))
    if not files:
        raise UserError(f"{root}: no clips (expected DATA/<label>/*.npy)")
    clips, labels = [], []
    for path in files:
        try:
            clip = np.load(path, allow_pickle=False).astype(np.float32)
        except (ValueError, OSError) as err:
            raise UserError(f"{path}: not a numpy array file ({err})") from None
        if clip.ndim != 3:
            raise UserError(f"{path}: shape {clip.shape}, expected (frames, height, width)")
        if clips and clip.shape != clips[0].shape:
            raise UserError(f"{path}: shape {clip.shape} differs from {clips[0].shape}")
        clips.append(clip)
        labels.append(path.parent.name)
    return np.stack(clips), labels
