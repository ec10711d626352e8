"""seqsuite.frame_store: frames stored once, memory-mapped, batched and padded per batch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seqsuite import frame_store
from seqsuite.frame_store import FrameSplit, FrameStore, Item


def examples(lengths: list[int], width: int = 3) -> list[np.ndarray]:
    return [
        np.full((n, width), float(k), np.float32) + np.arange(n)[:, None]
        for k, n in enumerate(lengths)
    ]


def build(tmp_path, lengths, key=None, fail=()):
    frames = examples(lengths)
    calls = []

    def items():
        calls.append(1)
        for k, f in enumerate(frames):
            if k in fail:
                yield Item(None, error=f"bad {k}", name=f"file{k}.wav")
            else:
                yield Item(f, seconds=len(f) / 100, truncated=k == 1, name=f"file{k}.wav")

    store, cached = frame_store.load_or_build(
        "t", key or {"data": "x"}, items, 3, lambda: {"label": np.arange(len(lengths))}, tmp_path
    )
    return store, cached, calls, frames


def test_frames_come_back_as_they_went_in_and_the_second_time_from_the_cache(tmp_path):
    store, cached, calls, frames = build(tmp_path, [4, 2, 7])
    assert not cached and store.size == 3 and store.width == 3
    for k, f in enumerate(frames):
        np.testing.assert_array_equal(store.example(k), f)
    assert isinstance(store.frames, np.memmap)
    assert store.truncated_rows.tolist() == [False, True, False]
    np.testing.assert_allclose(store.seconds, [0.04, 0.02, 0.07])
    again, cached, calls, _ = build(tmp_path, [4, 2, 7])
    assert cached and not calls and again.folder == store.folder
    _, cached, _, _ = build(tmp_path, [4, 2, 7], key={"data": "y"})
    assert not cached


def test_unusable_items_keep_their_row_and_their_reason(tmp_path):
    store, _, _, _ = build(tmp_path, [4, 2, 7], fail={1})
    assert store.usable.tolist() == [0, 2] and store.lengths.tolist() == [4, 0, 7]
    assert store.errors() == [(1, "file1.wav", "bad 1")] and store.meta["failed"] == 1
    assert store.columns["label"].tolist() == [0, 1, 2]


def test_a_torn_build_leaves_nothing_to_read(tmp_path):
    def broken():
        yield Item(np.zeros((2, 3), np.float32))
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        frame_store.load_or_build("t", {"data": "z"}, broken, 3, root=tmp_path)
    assert not list((tmp_path / "t").iterdir())
    with pytest.raises(ValueError, match="expected"):
        frame_store.load_or_build(
            "t", {"data": "w"}, lambda: [Item(np.zeros((2, 5), np.float32))], 3, root=tmp_path
        )


def test_batches_are_padded_to_their_longest_and_cover_every_row_once(tmp_path):
    lengths = [5, 1, 9, 3, 3, 8, 2, 6]
    store, _, _, frames = build(tmp_path, lengths)
    split = FrameSplit(store, np.arange(8), np.arange(8) % 2)
    seen = {}
    for batch in split.batches(3, shuffle=True, generator=torch.Generator().manual_seed(0)):
        assert batch["x"].shape[1] == int(batch["lengths"].max())
        for row, index in enumerate(batch["index"].tolist()):
            n = int(batch["lengths"][row])
            assert n == lengths[index] and int(batch["label"][row]) == index % 2
            assert not batch["x"][row, n:].any()
            seen[index] = batch["x"][row, :n].numpy()
    assert sorted(seen) == list(range(8))
    for k, f in enumerate(frames):
        np.testing.assert_array_equal(seen[k], f)


def test_joined_splits_read_each_row_from_its_own_store(tmp_path):
    a, _, _, fa = build(tmp_path, [2, 3], key={"data": "a"})
    b, _, _, fb = build(tmp_path, [4], key={"data": "b"})
    joined = FrameSplit.joined([FrameSplit(a, [1], [0]), FrameSplit(b, [0], [1])])
    assert joined.size == 2 and joined.lengths.tolist() == [3, 4]
    batch = joined.batch(torch.tensor([0, 1]))
    np.testing.assert_array_equal(batch["x"][0, :3].numpy(), fa[1])
    np.testing.assert_array_equal(batch["x"][1].numpy(), fb[0])
    assert batch["label"].tolist() == [0, 1]


def test_a_foreign_entry_is_rebuilt(tmp_path):
    store, _, _, _ = build(tmp_path, [2])
    (store.folder / "meta.json").write_text("{}")
    with pytest.raises(ValueError):
        FrameStore(store.folder)
    _, cached, calls, _ = build(tmp_path, [2])
    assert not cached and calls
