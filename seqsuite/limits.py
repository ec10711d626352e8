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
