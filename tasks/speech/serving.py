"""Recordings over HTTP (``seqsuite serve``): base64 audio (or a multipart upload, which
the server hands over base64-encoded) classified by the task's own ``predict``, so that
every check it makes of a file (format, length, sample rate) applies to uploads too."""

from __future__ import annotations

import base64
import binascii
import tempfile
from pathlib import Path
from typing import Any

from seqsuite import limits, served_rows
from seqsuite.errors import FieldError, UserError


def parse(body: dict[str, Any]) -> list[bytes]:
    """``{"audio": "<base64 WAV>"}`` or a list of them -> the files' bytes."""
    given = body.get("audio")
    clips = [given] if isinstance(given, str) else given
    clips = limits.items(clips, "audio", str, "base64-encoded audio files")
    out = []
    for k, clip in enumerate(clips):
        try:
            data = base64.b64decode(clip, validate=True)
        except (binascii.Error, ValueError):
            raise FieldError(f"audio[{k}]", "not valid base64") from None
        if not data:
            raise FieldError(f"audio[{k}]", "empty")
        out.append(data)
    return out


def classify_uploads(task: Any, ctx: Any, model: Any, requests: list[list[bytes]]) -> list[dict]:
    """Every request's clips in one ``predict`` over temporary files, removed afterwards."""
    every = {"probabilities": True} if "probabilities" in task.predict_options else {}
    with tempfile.TemporaryDirectory(prefix="seqsuite-serve-") as folder:
        paths = []
        for k, data in enumerate(clip for clips in requests for clip in clips):
            path = Path(folder) / f"clip{k}.wav"
            path.write_bytes(data)
            paths.append(str(path))
        try:
            rows = task.predict(ctx, model, paths, every)
        except UserError as err:  # one clip alone, unusable: say why without the path
            raise FieldError("audio", str(err).replace(f"{paths[0]}: ", "")) from None
    return served_rows.split_answers(rows, [len(clips) for clips in requests])
