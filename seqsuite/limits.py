"""Limits on what a command may be asked to produce, checked before any work starts.

The limits on what input files may *declare* (rows, sample rates, array shapes, MIDI
lengths) are the ``[data]`` section's ``max_*`` settings (:class:`seqsuite.config.DataSettings`);
these are the limits of the inference commands' own options.
"""

from __future__ import annotations

import math
from typing import Any

from .atomic import check_target
from .errors import UserError

#: generation streams its output to disk as it goes; beyond this a typo is more likely
MAX_GENERATE_LENGTH = 1_000_000
#: steps ``predict`` forecasts ahead of a series
MAX_FORECAST_HORIZON = 100_000
MAX_TEMPERATURE = 100.0


def generation_options(length: int, temperature: float, top_k: int, seed: int) -> dict[str, Any]:
    """``generate``'s options, each checked: one line naming the option if it is wrong."""
    if not 1 <= length <= MAX_GENERATE_LENGTH:
        raise UserError(f"--length: got {length}, expected 1 to {MAX_GENERATE_LENGTH:,}")
    if not math.isfinite(temperature) or not 0 <= temperature <= MAX_TEMPERATURE:
        raise UserError(
            f"--temperature: got {temperature}, expected 0 (most likely) to {MAX_TEMPERATURE:g}"
        )
    if top_k < 0:
        raise UserError(f"--top-k: got {top_k}, expected 0 (all) or more")
    if not 0 <= seed < 2**63:
        raise UserError(f"--seed: got {seed}, expected 0 to 2**63 - 1")
    return {"length": length, "temperature": temperature, "top_k": top_k, "seed": seed}


def horizon(value: Any, default: int) -> int:
    """A forecast horizon from ``--option horizon=N``: a whole number of steps, bounded."""
    steps = default if value is None else value
    if isinstance(steps, bool) or not isinstance(steps, int | float) or steps != int(steps):
        raise UserError(f"--option horizon: got {value!r}, expected a whole number of steps")
    steps = int(steps)
    if not 1 <= steps <= MAX_FORECAST_HORIZON:
        raise UserError(f"--option horizon: got {steps}, expected 1 to {MAX_FORECAST_HORIZON:,}")
    return steps


def check_output_path(path: str, option: str) -> None:
    """An output path must be new or a regular file: never a link, device, FIFO or folder."""
    try:
        check_target(path)
    except UserError as err:
        raise UserError(f"{option} {err}") from None


# -- seqsuite serve: what one request may ask for ---------------------------------------

#: a request body larger than this is refused (413) before it is read to the end
MAX_REQUEST_BYTES = 8 * 2**20
#: tokens or notes one /generate request may ask for (the CLI's limit is for files)
MAX_SERVE_GENERATE_LENGTH = 10_000
#: items (texts, files, values of a series) in one request
MAX_REQUEST_ITEMS = 100_000
#: characters of one text in a request (longer texts are cut to the run's max_length anyway)
MAX_TEXT_CHARS = 100_000


def items(value: Any, field: str, kind: type | tuple[type, ...], what: str) -> list[Any]:
    """A request's list field: a non-empty JSON list of ``kind``, at most
    :data:`MAX_REQUEST_ITEMS` long; :class:`~seqsuite.errors.FieldError` naming it otherwise."""
    from .errors import FieldError

    if not isinstance(value, list) or not value:
        raise FieldError(field, f"expected a non-empty list of {what}")
    if len(value) > MAX_REQUEST_ITEMS:
        raise FieldError(field, f"{len(value):,} items, at most {MAX_REQUEST_ITEMS:,}")
    kinds = set(kind) if isinstance(kind, tuple) else {kind}
    if set(map(type, value)) <= kinds:  # the usual case, in one pass of C (JSON's own types)
        return value
    for k, item in enumerate(value):
        if isinstance(item, bool) or not isinstance(item, kind):
            raise FieldError(f"{field}[{k}]", f"got {type(item).__name__}, expected {what}")
    return value


def serve_generation(body: dict[str, Any], default_length: int) -> dict[str, Any]:
    """A /generate request's ``length``, ``temperature``, ``top_k``, ``seed``, ``stream``,
    each checked as ``generate``'s options are; the task checks ``prompt``."""
    from .errors import FieldError

    def number(name: str, default: Any, kind: type) -> Any:
        value = body.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise FieldError(name, f"got {value!r}, expected a number")
        if not math.isfinite(value):
            raise FieldError(name, f"got {value!r}, expected a finite number")
        if kind is int and value != int(value):
            raise FieldError(name, f"got {value!r}, expected a whole number")
        return kind(value)

    length = number("length", default_length, int)
    if not 1 <= length <= MAX_SERVE_GENERATE_LENGTH:
        raise FieldError("length", f"got {length}, expected 1 to {MAX_SERVE_GENERATE_LENGTH:,}")
    options = {
        "length": length,
        "temperature": number("temperature", 1.0, float),
        "top_k": number("top_k", 0, int),
        "seed": number("seed", 0, int),
    }
    try:
        generation_options(**options)
    except UserError as err:  # "--temperature: ..." -> the request's field name
        name = str(err).split(":", 1)[0].lstrip("-").replace("-", "_")
        raise FieldError(name, str(err).split(":", 1)[1].strip()) from None
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise FieldError("stream", f"got {stream!r}, expected true or false")
    return {**options, "stream": stream, "prompt": body.get("prompt")}
