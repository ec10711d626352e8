"""Splits and batches: bucketing by length, per-batch padding."""

from __future__ import annotations

import torch

from seqsuite.batches import ArraySplit, pad_sequences


def test_bucketing_groups_similar_lengths_and_cuts_padding():
    lengths = torch.tensor([1, 9, 2, 8, 3, 7, 4, 6] * 25)
    split = ArraySplit({"x": torch.zeros(200, 9), "lengths": lengths}, bucket=True)
    widths = [
        b["x"].shape[1]
        for b in split.batches(8, shuffle=True, generator=torch.Generator().manual_seed(0))
    ]
    assert sum(widths) / len(widths) < 7  # unbucketed, nearly every batch would be 9 wide
    seen = torch.cat(
        [b["index"] for b in split.batches(8, shuffle=True, generator=torch.Generator())]
    )
    assert sorted(seen.tolist()) == list(range(200))


def test_pad_sequences_pads_with_zeros_and_returns_lengths():
    padded, lengths = pad_sequences([torch.tensor([3, 4, 5]), torch.tensor([6])])
    assert padded.tolist() == [[3, 4, 5], [6, 0, 0]] and lengths.tolist() == [3, 1]
