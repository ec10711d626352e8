"""The training loop: it learns, stops early, respects the time budget, resumes exactly,
and stops on a non-finite loss with a message that says where."""

from __future__ import annotations

import copy
import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F

from seqsuite import ArraySplit, BackboneConfig, TrainConfig, Trainer, checkpoint
from seqsuite.adapters import FeatureInput
from seqsuite.backbone import Backbone
from seqsuite.errors import TrainingDiverged
from seqsuite.heads import LastStateHead
from seqsuite.model import CountsFlops, HasLayerGroups, PreparesForDDP, SequenceModel
from seqsuite.progress import BarProgress, NullProgress, Progress
from seqsuite.trainer import Callback, LoopState


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


class Crash(Exception):
    """Stands for a process killed at the end of a round."""


class CrashAt:
    """A callback that crashes the fit after the round ending at ``epoch``."""

    def __init__(self, epoch: float):
        self.epoch = epoch

    def on_epoch_end(self, trainer, record):
        if record["epoch"] == self.epoch:
            raise Crash


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

    interrupted = make_model()
    torch.manual_seed(123)
    with pytest.raises(Crash):
        Trainer(config, checkpoint_dir=tmp_path / "b", callbacks=[CrashAt(3)]).fit(
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


def test_the_stop_decision_follows_patience_and_a_tie_moves_the_best_without_progress():
    trainer = Trainer(TrainConfig(epochs=10, patience=2))
    loop = LoopState()
    verdicts = []
    for epoch, score in enumerate([0.5, 0.9, 0.9, 0.9], start=1):
        loop.epoch = epoch
        verdicts.append(trainer._note_score(loop, score, epoch, higher=True))
        verdicts.append(trainer._stop_reason(loop))
    assert verdicts == [True, "", True, "", True, "", True, "early_stopping"]
    assert loop.best == 0.9 and loop.best_epoch == 4 and loop.bad_rounds == 2


def test_a_gain_below_min_delta_is_neither_best_nor_progress():
    trainer = Trainer(TrainConfig(min_delta=0.1))
    loop = LoopState()
    assert trainer._note_score(loop, 1.0, 1, higher=False)
    assert not trainer._note_score(loop, 0.95, 2, higher=False)
    assert loop.best == 1.0 and loop.best_epoch == 1 and loop.bad_rounds == 1
    assert trainer._note_score(loop, 0.8, 3, higher=False) and loop.bad_rounds == 0


def test_the_time_budget_stops_before_patience_and_epochs():
    trainer = Trainer(TrainConfig(epochs=3, patience=1, time_budget=5.0))
    spent = LoopState(epoch=3, bad_rounds=1, elapsed=5.0)
    assert trainer._stop_reason(spent) == "time_budget"
    assert trainer._stop_reason(LoopState(epoch=3, bad_rounds=1)) == "early_stopping"
    assert trainer._stop_reason(LoopState(epoch=3)) == "epochs"
    assert trainer._stop_reason(LoopState(epoch=2)) == ""


class PlainModel(torch.nn.Module):
    """A model with none of the optional abilities (no layer groups, no FLOP count)."""

    def __init__(self):
        super().__init__()
        self.rnn = torch.nn.GRU(1, 4, batch_first=True)
        self.out = torch.nn.Linear(4, 1)

    def forward(self, batch, state=None):
        _, h = self.rnn(batch["x"], state)
        return self.out(h[-1]), h


def test_a_plain_module_without_the_model_protocols_trains():
    torch.manual_seed(0)
    model = PlainModel()
    assert not isinstance(model, HasLayerGroups | CountsFlops | PreparesForDDP)
    trainer = Trainer(TrainConfig(epochs=3, lr=1e-2, layer_lr_decay=2.0, unfreeze_epochs=1))
    assert len(trainer.make_optimizer(model).param_groups) == 1
    result = trainer.fit(model, make_data(), mse)
    assert result.epochs == 3 and all(p.requires_grad for p in model.parameters())
    assert [h["gflops"] for h in result.history] == [0.0, 0.0, 0.0]


def test_the_sequence_model_offers_the_protocols():
    model = make_model()
    assert isinstance(model, HasLayerGroups)
    assert isinstance(model, CountsFlops) and isinstance(model, PreparesForDDP)
    assert model.flops_per_timestep() == model.backbone.flops_per_timestep() > 0
    model.prepare_for_ddp()
    result = Trainer(TrainConfig(epochs=1)).fit(model, make_data(), mse)
    assert result.history[0]["gflops"] > 0


class RecordingProgress:
    def __init__(self):
        self.calls = []

    def start_epoch(self, epoch, epochs, steps):
        self.calls.append(("start", epoch, epochs, steps))

    def update(self, step, info):
        pass  # only a few times a second: how many depends on the clock

    def end_epoch(self, record, key):
        self.calls.append(("end", record["epoch"], key))

    def close(self):
        self.calls.append(("close",))


class RecordingCallback:
    def __init__(self):
        self.records = []

    def on_epoch_end(self, trainer, record):
        self.records.append((trainer, dict(record)))


def test_progress_and_callbacks_conforming_to_the_protocols_are_called_each_round():
    progress, callback = RecordingProgress(), RecordingCallback()
    assert isinstance(progress, Progress) and isinstance(callback, Callback)
    assert isinstance(NullProgress(), Progress) and issubclass(BarProgress, Progress)
    trainer = Trainer(
        TrainConfig(epochs=2, batch_size=32, eval_every=3), progress=progress, callbacks=[callback]
    )
    val = make_data(32, seed=1)
    result = trainer.fit(make_model(), make_data(), mse, val_mse(val), primary="mse")
    assert progress.calls == [
        ("start", 1, 2, 4),
        ("end", 0.75, "val_mse"),
        ("end", 1, "val_mse"),
        ("start", 2, 2, 4),
        ("end", 1.5, "val_mse"),
        ("end", 2, "val_mse"),
        ("close",),
    ]
    assert [r for t, r in callback.records] == result.history
    assert all(t is trainer for t, _ in callback.records)


def test_history_rows_and_checkpoints_keep_their_keys(tmp_path):
    data, val = make_data(), make_data(32, seed=1)
    trainer = Trainer(TrainConfig(epochs=2), checkpoint_dir=tmp_path, checkpoint_extra={"x": 1})
    result = trainer.fit(make_model(), data, mse, val_mse(val), primary="mse")
    assert list(result.history[0]) == [
        "epoch", "step", "train_loss", "val_mse", "lr", "seconds", "samples_per_s",
        "timesteps_per_s", "gflops", "clipped", "data_share", "elapsed", "stop_reason",
    ]  # fmt: skip
    last = checkpoint.load(tmp_path / checkpoint.LAST)
    assert list(last) == [
        "model", "optimizer", "schedule", "scaler", "rng_shuffle", "rng_epoch", "rng_torch",
        "loop", "carried", "average", "history", "x",
    ]  # fmt: skip
    assert list(last["loop"]) == [f.name for f in dataclasses.fields(LoopState)]
    best = checkpoint.load(tmp_path / checkpoint.BEST)
    assert list(best) == ["model", "epoch", "metric", "x"] and list(best["metric"]) == ["val_mse"]


def test_a_fit_killed_mid_epoch_resumes_to_the_same_history(tmp_path):
    config = TrainConfig(epochs=3, lr=5e-3, batch_size=16, eval_every=3)
    data, val = make_data(), make_data(32, seed=1)
    full = Trainer(config, checkpoint_dir=tmp_path / "a").fit(
        make_model(), data, mse, val_mse(val), primary="mse"
    )

    with pytest.raises(Crash):
        Trainer(config, checkpoint_dir=tmp_path / "b", callbacks=[CrashAt(1.5)]).fit(
            make_model(), data, mse, val_mse(val), primary="mse"
        )
    again = Trainer(config, checkpoint_dir=tmp_path / "b").fit(
        make_model(seed=3), data, mse, val_mse(val), primary="mse", resume=True
    )
    assert [h["epoch"] for h in again.history] == [h["epoch"] for h in full.history]
    assert [h["train_loss"] for h in again.history] == [h["train_loss"] for h in full.history]


def test_max_steps_stops_after_that_many_steps_on_any_machine():
    result = Trainer(TrainConfig(epochs=50, batch_size=8, max_steps=7, patience=0)).fit(
        make_model(), make_data(), mse
    )
    assert result.history[-1]["step"] == 7 and result.stop_reason == "max_steps"


def test_step_callbacks_hear_of_every_step():
    """A callback with ``on_step`` is told after each training step (threads.Rebalance uses
    it to give a CPU back mid-round); one with only ``on_epoch_end`` is not asked."""

    class Counter:
        def __init__(self):
            self.steps, self.rounds = 0, 0

        def on_step(self, trainer):
            self.steps += 1

        def on_epoch_end(self, trainer, record):
            self.rounds += 1

    counter = Counter()
    config = TrainConfig(epochs=2, batch_size=32, lr=1e-2)
    Trainer(config, callbacks=[counter]).fit(make_model(), make_data(n=128), mse)
    assert (counter.steps, counter.rounds) == (8, 2)


def test_weight_average_is_the_decay_weighted_mean_of_the_weights_trained():
    from seqsuite.averaging import WeightAverage

    live = torch.nn.Linear(2, 1)
    average = WeightAverage(live, decay=0.9)
    values = [3.0, -1.0, 2.0, 5.0, 0.5]
    for value in values:
        with torch.no_grad():
            live.weight.fill_(value)
        average.update()
    n = len(values)
    weights = [0.9 ** (n - 1 - k) for k in range(n)]
    expected = sum(w * v for w, v in zip(weights, values, strict=True)) / sum(weights)
    torch.testing.assert_close(average.module.weight, torch.full((1, 2), expected))
    assert average.rate() == pytest.approx(0.1 / (1 - 0.9**6))
    assert not average.module.weight.requires_grad


def test_ema_validates_and_returns_the_averaged_weights():
    data, val = make_data(), make_data(32, seed=1)
    judged = []

    def validate(model):
        judged.append(copy.deepcopy(model.state_dict()))
        return val_mse(val)(model)

    plain, averaged = make_model(), make_model()
    Trainer(TrainConfig(epochs=3, lr=1e-2)).fit(plain, data, mse, val_mse(val), primary="mse")
    result = Trainer(TrainConfig(epochs=3, lr=1e-2, ema=0.99)).fit(
        averaged, data, mse, validate, primary="mse"
    )
    # the same training steps (the average never feeds back), a different model returned
    differs = [
        not torch.equal(a, b)
        for a, b in zip(plain.state_dict().values(), averaged.state_dict().values(), strict=True)
    ]
    assert any(differs)
    best = judged[int(result.best_epoch) - 1]
    for name, tensor in averaged.state_dict().items():
        torch.testing.assert_close(tensor, best[name], rtol=0, atol=0)


def test_ema_resumes_to_the_same_averaged_weights(tmp_path):
    config = TrainConfig(epochs=4, lr=5e-3, batch_size=16, ema=0.95)
    data, val = make_data(), make_data(32, seed=1)
    straight = make_model()
    torch.manual_seed(1)
    Trainer(config, checkpoint_dir=tmp_path / "a").fit(
        straight, data, mse, val_mse(val), primary="mse"
    )

    with pytest.raises(Crash):
        Trainer(config, checkpoint_dir=tmp_path / "b", callbacks=[CrashAt(2)]).fit(
            make_model(), data, mse, val_mse(val), primary="mse"
        )
    resumed = make_model(seed=5)
    Trainer(config, checkpoint_dir=tmp_path / "b").fit(
        resumed, data, mse, val_mse(val), primary="mse", resume=True
    )
    for a, b in zip(straight.state_dict().values(), resumed.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
