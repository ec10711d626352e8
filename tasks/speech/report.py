"""The speech report's picture of one example: its waveform above its features."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from seqsuite.plots import plt, save


def example_plot(
    audio: np.ndarray, features: np.ndarray, sample_rate: int, label: str, path: str | Path
) -> None:
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 5), gridspec_kw={"height_ratios": [1, 2]})
    top.plot(np.arange(len(audio)) / sample_rate, audio, linewidth=0.6)
    top.set_xlim(0, len(audio) / sample_rate)
    top.set_ylabel("amplitude")
    top.set_title(f"one example: {label!r}")
    bottom.imshow(features.T, aspect="auto", origin="lower", cmap="magma", interpolation="nearest")
    bottom.set_xlabel("frame (10 ms)")
    bottom.set_ylabel("coefficient")
    save(fig, path)
