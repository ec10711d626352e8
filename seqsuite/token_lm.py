"""What every next-token model needs: stream likelihood and stateful sampling (with an
optional stop token and minimum length, as note events end a piece).

Shared by the language-model tasks (characters, words, note events). The model is a
:class:`~seqsuite.model.SequenceModel` whose head returns logits (batch, time, vocab).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from .batches import StreamSplit
from .stepping import stepper


@torch.no_grad()
def stream_nll(
    model: Any, split: StreamSplit, device: torch.device, streams: int = 8
) -> tuple[float, int]:
    """Summed negative log-likelihood (nats) and token count over ``split``, read as
    ``streams`` parallel streams with the state carried from chunk to chunk; the few
    tokens that do not fill the streams evenly continue the last one, so that every
    token after the first is scored."""
    model.eval()
    streams = max(1, min(streams, (len(split.tokens) - 1) // max(split.bptt, 1) or 1))
    split = split.to(device)
    total = torch.zeros((), device=device, dtype=torch.float64)
    count, state = 0, None
    for batch in split.batches(streams):
        logits, state = model(batch, state)
        total += F.cross_entropy(
            logits.float().flatten(0, 1), batch["targets"].flatten(), reduction="sum"
        )
        count += batch["targets"].numel()
    rest = split.remainder(streams)
    if rest is not None:
        last = tuple(s[:, -1:] for s in state) if isinstance(state, tuple) else state[:, -1:]
        logits, _ = model(rest, last)
        total += F.cross_entropy(logits.float()[0], rest["targets"][0], reduction="sum")
        count += rest["targets"].numel()
    return float(total), count


def lm_metrics(
    nll_sum: float,
    tokens: int,
    characters: int | None = None,
    char_level: bool = False,
    spelled: float = 0.0,
) -> dict[str, float]:
    """``nll`` (nats per token), ``perplexity`` and, given the characters the tokens
    cover, ``nats_per_char`` (comparable across characters, words and subwords); for a
    character-level model also ``bpc`` (bits per character). ``spelled``: nats of spelling
    out the words behind ``<unk>`` tokens (:mod:`seqsuite.spelling`), charged to
    ``nats_per_char`` (and shown as ``unk_spelling_nats_per_char``), not to the per-token
    figures, which stay those of the closed vocabulary."""
    nll = nll_sum / max(tokens, 1)
    metrics = {"nll": nll, "perplexity": math.exp(min(nll, 700.0))}
    if characters:
        metrics["nats_per_char"] = (nll_sum + spelled) / characters
        if spelled:
            metrics["unk_spelling_nats_per_char"] = spelled / characters
        if char_level:
            metrics["bpc"] = nll_sum / characters / math.log(2)
    return metrics


#: temperatures below this sample as 0 does (the most likely): what they tend to, without
#: the overflow of dividing by them
GREEDY_BELOW = 1e-3


def sample_next(
    logits: Tensor, temperature: float, top_k: int, generator: torch.Generator
) -> Tensor:
    """One id per row of ``logits`` (batch, vocab): softmax at ``temperature`` over the
    ``top_k`` most likely (all if 0). Temperature 0 takes the most likely, and so does
    one below :data:`GREEDY_BELOW` (its limit), whose division would overflow to NaN
    (1e-320 gave empty samples)."""
    logits = logits.float()
    if temperature < GREEDY_BELOW:
        return logits.argmax(-1)
    if temperature != 1:  # x / 1 is x: the division is skipped, not the result changed
        logits = logits / temperature
    if 0 < top_k < logits.shape[-1]:
        cutoff = logits.topk(top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < cutoff, float("-inf"))
    probs = torch.softmax(logits, dim=-1).cpu()
    return draw(probs, generator).to(logits.device)


def draw(probs: Tensor, generator: torch.Generator) -> Tensor:
    """One index per row of ``probs`` (batch, classes): ``torch.multinomial(probs, 1)``'s
    draw without its checks of the input, which cost more than the draw at batch 1.
    PyTorch draws one sample as ``argmax(probs / q)`` with ``q ~ Exp(1)`` (the Gumbel-max
    trick); doing the same with the same generator gives the same index
    (``tests/test_stepping.py`` holds it to ``torch.multinomial``)."""
    return (probs / torch.empty_like(probs).exponential_(1, generator=generator)).argmax(-1)


def sample(
    model: Any,
    prompt: list[int],
    *,
    temperature: float = 1.0,
    top_k: int = 0,
    seed: int = 0,
    device: torch.device | str | None = None,
    banned: tuple[int, ...] = (0,),
    stop_id: int | None = None,
    min_length: int = 0,
    fast: bool = True,
) -> Iterator[int]:
    """New ids after ``prompt``, one at a time, for as long as the caller takes them (the
    stream ``seqsuite serve`` sends, and what ``generate`` writes as it goes).

    The prompt is read once; then each new id is fed alone with the carried state: the
    cost is linear in the length. Steps run through :func:`seqsuite.stepping.stepper`
    (``fast=False``: the model's own forward, the path before it; same samples).
    ``banned`` ids are never drawn. Sampling ``stop_id`` ends the sequence (it is not
    yielded); it cannot be sampled before ``min_length`` ids. ``device``: the model's own
    unless given.
    """
    device = device or next(model.parameters()).device
    generator = torch.Generator().manual_seed(seed)
    steps = stepper(model, fast=fast)
    logits = steps.prime({"tokens": torch.tensor([prompt], dtype=torch.long, device=device)})
    # adding 0 leaves a logit as it is and -inf bans it: one new tensor per step
    mask = torch.zeros(logits.shape[-1], device=logits.device)
    mask[list(banned)] = float("-inf")
    made = 0
    while True:
        last = logits.float() + mask
        if stop_id is not None and made < min_length:
            last[:, stop_id] = float("-inf")
        next_id = sample_next(last, temperature, top_k, generator)
        token = int(next_id)
        if token == stop_id:
            return
        made += 1
        yield token
        logits = steps.step(next_id.view(1))


def generate(
    model: Any,
    prompt: list[int],
    length: int,
    *,
    temperature: float = 1.0,
    top_k: int = 0,
    seed: int = 0,
    device: torch.device | str | None = None,
    banned: tuple[int, ...] = (0,),
    stop_id: int | None = None,
    min_length: int = 0,
    fast: bool = True,
) -> list[int]:
    """At most ``length`` new ids after ``prompt`` (fewer when ``stop_id`` is sampled;
    see :func:`sample`)."""
    ids = sample(
        model,
        prompt,
        temperature=temperature,
        top_k=top_k,
        seed=seed,
        device=device,
        banned=banned,
        stop_id=stop_id,
        min_length=min_length,
        fast=fast,
    )
    return list(itertools.islice(ids, length))


@torch.no_grad()
def generate_rerunning_prefix(
    model: Any, prompt: list[int], length: int, *, seed: int = 0, device="cpu"
) -> list[int]:
    """The naive way, for comparison in benchmarks: re-read the whole text for each new id."""
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    ids = list(prompt)
    for _ in range(length):
        logits, _ = model({"tokens": torch.tensor([ids], dtype=torch.long, device=device)})
        last = logits[:, -1].clone()
        last[:, 0] = float("-inf")
        ids.append(int(sample_next(last, 1.0, 0, generator)))
    return ids[len(prompt) :]


def text_pieces(
    decode: Callable[[list[int]], str], ids: Iterable[int], before: int | None = None
) -> Iterator[str]:
    """Each id's text as decoding the whole sequence places it (a space before a word,
    none before punctuation): ``decode([previous, id])`` less ``decode([previous])``.
    ``before`` is the id the sequence continues (the prompt's last)."""
    previous = before
    for token in ids:
        if previous is None:
            yield decode([token])
        else:
            yield decode([previous, token])[len(decode([previous])) :]
        previous = token
