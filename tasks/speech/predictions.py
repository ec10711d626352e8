"""Reading the files ``seqsuite predict`` is given, with its rules for bad ones: a file
named on the command line that breaks a ``[data]`` limit is refused (exit 2), and so is a
lone file that cannot be read; among several (or in ``--data FOLDER``) an unusable file
gets a row saying why."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from seqsuite.config import DataSettings
from seqsuite.errors import UserError

from .audio import AudioLimit, BadAudio, check_long_enough, read_clip
from .features import FeatureSettings, LogMel


def read_inputs(
    named: list[Path],
    listed: list[Path],
    settings: FeatureSettings,
    limits: DataSettings,
    keep_seconds: float,
) -> tuple[list[dict[str, Any]], list[torch.Tensor], list[int]]:
    """Rows (one per file, ``error`` filled for unusable ones), the log-mel frames of the
    usable files and which rows they belong to."""
    paths = named + listed
    if not paths:
        raise UserError("give audio files to classify, e.g. seqsuite predict RUN_DIR a.wav b.wav")
    extractor = LogMel(settings)
    rows: list[dict[str, Any]] = []
    frames, kept = [], []
    for k, path in enumerate(paths):
        try:
            clip = read_clip(path, settings.sample_rate, limits, keep_seconds)
            check_long_enough(clip, settings.sample_rate, settings.window)
        except BadAudio as err:
            if k < len(named) and (isinstance(err, AudioLimit) or len(paths) == 1):
                raise UserError(f"{path}: {err}") from None
            rows.append({"file": str(path), "label": None, "probability": None, "error": str(err)})
            continue
        frames.append(torch.from_numpy(extractor(clip.samples)))
        kept.append(len(rows))
        rows.append({"file": str(path)})
    if not frames:  # nothing to classify is the input's fault, not a result
        raise UserError(
            f"none of the {len(paths)} files could be read ({rows[0]['file']}: {rows[0]['error']})"
        )
    return rows, frames, kept


def same_speaker_option(options: dict[str, Any]) -> bool:
    """``--option same_speaker=true``: the files are one speaker's, normalised together."""
    value = options.get("same_speaker", False)
    if not isinstance(value, bool):
        raise UserError(f"--option same_speaker: got {value!r}, expected true or false")
    return value
