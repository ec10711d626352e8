"""The speech report's picture of one example: its waveform above the features the model
reads (after the front end: normalised per coefficient, so no coefficient's scale swamps
the others), both against time in seconds."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from seqsuite.plots import finish_axes, image, plt, save

from .frontend import FrontEndSettings


def example_plot(
    audio: np.ndarray,
    features: np.ndarray,
    front: FrontEndSettings,
    hop_ms: float,
    label: str,
    path: str | Path,
) -> None:
    """``audio`` (samples at ``front.sample_rate``) and ``features`` (frames, size)."""
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(8, 5.5), gridspec_kw={"height_ratios": [1, 2]}, sharex=True
    )
    seconds = len(audio) / front.sample_rate
    top.plot(np.arange(len(audio)) / front.sample_rate, audio, linewidth=0.6)
    top.set_xlim(0, max(seconds, len(features) * hop_ms / 1000))
    finish_axes(top, "", "amplitude", f"one example: {label!r}")
    top.tick_params(labelbottom=True)
    top.set_xlabel("time (s)")
    extent = (0, len(features) * hop_ms / 1000, -0.5, features.shape[1] - 0.5)
    limit = float(np.percentile(np.abs(features), 99)) or 1.0
    image(
        fig,
        bottom,
        features.T,
        "normalised value (per coefficient)",
        cmap="RdBu_r",
        vmin=-limit,
        vmax=limit,
        interpolation="nearest",
        extent=extent,
    )
    base = front.base
    name = "MFCC" if front.kind == "mfcc" else "log-mel band"
    blocks = [name, "delta", "delta-delta"][: 1 + front.deltas]
    for k in range(1, len(blocks)):
        bottom.axhline(k * base - 0.5, color="black", linewidth=0.8)
    bottom.set_yticks([k * base + (base - 1) / 2 for k in range(len(blocks))], blocks)
    bottom.set_xlabel("time (s)")
    bottom.set_ylabel(f"{base} coefficients each")
    bottom.set_title("what the model reads (after the front end)")
    fig.tight_layout()
    save(fig, path)
