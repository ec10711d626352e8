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
    start: float = 0.0,
) -> None:
    """``audio`` (samples at ``front.sample_rate``) and ``features`` (frames, size), the
    first of them ``start`` seconds into the audio (the silence before it trimmed)."""
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(8, 5.5), gridspec_kw={"height_ratios": [1, 2]}, sharex=True
    )
    seconds = len(audio) / front.sample_rate
    top.plot(np.arange(len(audio)) / front.sample_rate, audio, linewidth=0.6)
    end = start + len(features) * hop_ms / 1000
    top.set_xlim(0, max(seconds, end))
    cut = start > 0 or end < seconds
    for left, right in ((0, start), (end, seconds)):  # the trimmed silence, greyed
        if right > left:
            top.axvspan(left, right, color="0.85", zorder=0)
    finish_axes(top, "", "amplitude", f"one example: {label!r}")
    top.tick_params(labelbottom=True)
    top.set_xlabel("time (s)")
    extent = (start, end, -0.5, features.shape[1] - 0.5)
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
    trimmed = " (grey: silence trimmed, task.trim_db)" if cut else ""
    bottom.set_title(f"what the model reads (after the front end){trimmed}")
    fig.tight_layout()
    save(fig, path)
