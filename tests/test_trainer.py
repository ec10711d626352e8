"""The training loop: it learns, stops early, respects the time budget, resumes exactly,
and stops on a non-finite loss with a message that says where."""

from __future__ import annotations

import copy
import math

import pytest
import torch
import torch.nn.functional as F

from seqsuite import ArraySplit, BackboneConfig, TrainConfig, Trainer
from seqsuite.adapters import FeatureInput
from seqsuite.backbone import Backbone
from seqsuite.errors import TrainingDiverged
from seqsuite.heads import LastStateHead
from seqsuite.model import SequenceModel


def make_model(seed=0, hidden=8):
    torch.manual_seed(seed)
    backbone = Backbone(1, BackboneConfig(hidden_size=hidden))
    return SequenceModel(FeatureInput(1), backbone, LastStateHead(hidden, 1))


def make_data(n=128, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 6, 1, generator=g)
    return ArraySplit({"x": x, "y": x.mean(1)})


def mse(output, batch):
    return F.mse_loss(output, batch["y"])


def val_mse(split):
    @torch.no_grad()
    def validate(model):
        batch = next(split.batches(split.size))
        return {"mse": float(mse(model(batch)[0], batch))}

    return validate


def test_training_reduces_the_loss():
    result = Trainer(TrainConfig(epochs=15, lr=1e-2)).fit(make_model(), make_data(), mse)
    assert result.history[-1]["train_loss"] < 0.5 * result.history[0]["train_loss"]
    assert result.epochs == 15 and result.stop_reason == "epochs"


def test_early_stopping_stops_after_patience_and_keeps_the_best_weights():
    data, val = make_data(), make_data(32, seed=1)
    model = make_model()
    # a learning rate this high makes validation worse after the first epochs
    result = Trainer(TrainConfig(epochs=50, lr=0.5, patience=3, clip_norm=0)).fit(
        model, data, mse, val_mse(val), primary="mse"
    )
    assert result.stop_reason == "early_stopping"
    assert result.epochs == result.best_epoch + 3
    assert val_mse(val)(model.eval())["mse"] == pytest.approx(result.best_metric, rel=1e-5)


def test_a_tied_score_keeps_the_later_weights_but_patience_still_runs_out():
    scores = iter([0.5, 0.9, 0.9, 0.9, 1.0])
    seen = []

    def validate(model):
        seen.append(copy.deepcopy(model.state_dict()))
        return {"accuracy": next(scores)}

    model = make_model()
    result = Trainer(TrainConfig(epochs=5, lr=1e-2, patience=2)).fit(
        model, make_data(), mse, validate, primary="accuracy", higher_is_better=True
    )
    assert result.stop_reason == "early_stopping" and result.epochs == 4
    assert result.best_epoch == 4 and result.best_metric == 0.9
    assert all(
        torch.equal(a, b)
        for a, b in zip(model.state_dict().values(), seen[3].values(), strict=True)
    )


def test_time_budget_stops_training():
    result = Trainer(TrainConfig(epochs=10_000, time_budget=0.5, batch_size=8)).fit(
        make_model(), make_data(), mse
    )
    assert result.stop_reason == "time_budget"
    assert result.train_seconds < 3


def test_resume_gives_the_same_result_as_an_uninterrupted_fit(tmp_path):
    config = TrainConfig(epochs=6, lr=5e-3, batch_size=16)
    data, val = make_data(), make_data(32, seed=1)

    straight = make_model()
    torch.manual_seed(123)
    full = Trainer(config, checkpoint_dir=tmp_path / "a").fit(
        straight, data, mse, val_mse(val), primary="mse"
    )

    class Crash(Exception):
        pass

    class CrashAfterEpoch3:
        def on_epoch_end(self, trainer, record):
            if record["epoch"] == 3:
                raise Crash

    interrupted = make_model()
    torch.manual_seed(123)
    with pytest.raises(Crash):
        Trainer(config, checkpoint_dir=tmp_path / "b", callbacks=[CrashAfterEpoch3()]).fit(
            interrupted, data, mse, val_mse(val), primary="mse"
        )
    torch.manual_seed(999)  # whatever happened since, the checkpoint restores the RNG
    resumed = make_model(seed=7)
    again = Trainer(config, checkpoint_dir=tmp_path / "b").fit(
        resumed, data, mse, val_mse(val), primary="mse", resume=True
    )
    assert [h["train_loss"] for h in again.history] == [h["train_loss"] for h in full.history]
    for a, b in zip(straight.state_dict().values(), resumed.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_non_finite_loss_stops_with_epoch_and_step_and_advice():
    calls = {"n": 0}

    def exploding(output, batch):
        calls["n"] += 1
        loss = mse(output, batch)
        return loss * math.inf if calls["n"] >= 10 else loss  # 8 steps per epoch: epoch 2, step 2

    with pytest.raises(TrainingDiverged, match=r"epoch 2, step 2.*train.lr"):
        Trainer(TrainConfig(epochs=5, batch_size=16)).fit(make_model(), make_data(), exploding)


def test_gradient_clipping_is_counted():
    result = Trainer(TrainConfig(epochs=2, lr=1e-3, clip_norm=1e-6)).fit(
        make_model(), make_data(), mse
    )
    assert result.clipped_steps == 2 * 4  # every step: 128 examples / batch 32


def test_cosine_schedule_decays_the_learning_rate():
    result = Trainer(TrainConfig(epochs=4, lr=1e-2, schedule="cosine")).fit(
        make_model(), make_data(), mse
    )
    lrs = [h["lr"] for h in result.history]
    assert lrs == sorted(lrs, reverse=True) and lrs[-1] < 1e-3


def test_same_seed_gives_the_same_history():
    a = Trainer(TrainConfig(epochs=3), seed=5).fit(make_model(), make_data(), mse)
    b = Trainer(TrainConfig(epochs=3), seed=5).fit(make_model(), make_data(), mse)
    assert [h["train_loss"] for h in a.history] == [h["train_loss"] for h in b.history]
