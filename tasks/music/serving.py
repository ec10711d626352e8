"""Music over HTTP (``seqsuite serve``'s /generate): events or piano-roll frames as they
are sampled, each with the notes it starts, nothing written to disk."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import torch

from seqsuite.errors import FieldError
from seqsuite.stepping import stepper
from seqsuite.vocab import Vocabulary, saved_vocabulary

from . import rolls
from .events import REST, sample_events

#: prompt events read at most (a melody's opening is enough to set its key and pace)
PROMPT_EVENTS = 64


def stream(ctx: Any, model: Any, options: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """``{"event": "60:1", "note": {...}}`` per event, or ``{"frame": [keys], ...}`` per
    piano-roll frame; ``prompt`` (events only): a list of ``"pitch:duration"`` events."""
    if ctx.options.representation == "pianoroll":
        if options.get("prompt"):
            raise FieldError("prompt", "a piano-roll run generates from silence; leave it out")
        yield from _frames(ctx, model, options)
    else:
        yield from _events(ctx, model, options)


def _prompt(value: Any, vocab: Vocabulary) -> list[int]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > PROMPT_EVENTS:
        raise FieldError("prompt", f'expected a list of at most {PROMPT_EVENTS} events like "60:1"')
    unknown = [k for k, e in enumerate(value) if not isinstance(e, str) or e not in vocab.index]
    if unknown:
        raise FieldError(
            f"prompt[{unknown[0]}]", f"{value[unknown[0]]!r} is not an event this run knows"
        )
    return [vocab.index[e] for e in value]


def _events(ctx: Any, model: Any, options: dict[str, Any]) -> Iterator[dict[str, Any]]:
    vocab = saved_vocabulary(ctx)
    ids = sample_events(ctx, model, vocab, _prompt(options.get("prompt"), vocab), options)
    now = 0.0
    for token in (vocab.tokens[i] for i in itertools.islice(ids, options["length"])):
        pitch, duration = token.split(":")
        piece: dict[str, Any] = {"event": token}
        if pitch != REST:
            piece["note"] = {"pitch": int(pitch), "start": now, "duration": float(duration)}
        now += float(duration)
        yield piece


def _frames(ctx: Any, model: Any, options: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Each frame's sounding keys (MIDI numbers), sampled as ``generate`` does."""
    generator = torch.Generator().manual_seed(options["seed"])
    steps = stepper(model, key="x")
    logits = steps.prime({"x": torch.zeros(1, 1, rolls.KEYS, device=ctx.device)})
    temperature = options["temperature"]
    for k in range(options["length"]):
        probs = torch.sigmoid(logits[0].float().cpu() / max(temperature, 1e-6))
        if temperature > 0:
            frame = (torch.rand(rolls.KEYS, generator=generator) < probs).float()
        else:
            frame = (probs > 0.5).float()
        keys = (torch.nonzero(frame).flatten() + rolls.LOW).tolist()
        yield {"frame": keys, "start": k * ctx.options.step}
        logits = steps.step(frame.view(1, -1).to(ctx.device))
