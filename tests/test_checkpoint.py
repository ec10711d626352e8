"""Checkpoints: atomic, verified by their digest, loaded without running code."""

from __future__ import annotations

import pickle

import pytest
import torch

from seqsuite import checkpoint
from seqsuite.errors import UserError


def test_a_torn_checkpoint_is_refused(tmp_path):
    path = tmp_path / "last.pt"
    checkpoint.save(path, {"w": torch.ones(100)})
    checkpoint.save(path, {"w": torch.zeros(100)})  # the digest file knows both versions
    assert torch.equal(checkpoint.load(path)["w"], torch.zeros(100))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match="torn or was changed"):
        checkpoint.load(path)


def test_the_previous_version_is_still_valid_after_a_kill_between_the_two_writes(tmp_path):
    path = tmp_path / "last.pt"
    checkpoint.save(path, {"w": torch.ones(3)})
    old = path.read_bytes()
    checkpoint.save(path, {"w": torch.zeros(3)})
    path.write_bytes(old)  # as if killed after the digest but before the rename
    assert torch.equal(checkpoint.load(path)["w"], torch.ones(3))


def test_a_checkpoint_round_trips_tensors_and_plain_values(tmp_path):
    payload = {"model": {"w": torch.arange(4.0)}, "epoch": 3, "history": [{"loss": 0.5}]}
    checkpoint.save(tmp_path / "x.pt", payload)
    loaded = checkpoint.load(tmp_path / "x.pt")
    assert torch.equal(loaded["model"]["w"], payload["model"]["w"])
    assert loaded["epoch"] == 3 and loaded["history"] == [{"loss": 0.5}]


def test_a_file_that_would_run_code_is_refused_without_running_it(tmp_path):
    class Boom:
        def __reduce__(self):
            return (open, (str(tmp_path / "ran"), "w"))

    (tmp_path / "x.pt").write_bytes(pickle.dumps({"model": Boom()}))
    with pytest.raises(UserError, match="never loads"):
        checkpoint.load(tmp_path / "x.pt")
    assert not (tmp_path / "ran").exists()


def test_a_missing_checkpoint_is_one_line(tmp_path):
    with pytest.raises(UserError, match="checkpoint not found"):
        checkpoint.load(tmp_path / "nothing.pt")
