"""The fast stepper gives the samples the model's own forward gives, for every cell it covers."""

from __future__ import annotations

import itertools

import pytest
import torch

from seqsuite import stepping
from seqsuite.adapters import FeatureInput, TokenInput
from seqsuite.backbone import Backbone, BackboneConfig
from seqsuite.heads import LastStateHead, StepHead
from seqsuite.model import SequenceModel
from seqsuite.token_lm import draw, generate, sample


def language_model(cell: str = "lstm", activation: str = "tanh", vocab: int = 30, layers=2):
    torch.manual_seed(0)
    config = BackboneConfig(cell=cell, hidden_size=48, num_layers=layers, activation=activation)
    return SequenceModel(
        TokenInput(vocab, 16), Backbone(16, config), StepHead(config.output_size, vocab)
    ).eval()


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize(("temperature", "top_k"), [(1.0, 0), (0.7, 5), (0.0, 0)])
def test_fast_generation_draws_the_same_sample_as_the_model_forward(cell, temperature, top_k):
    model = language_model(cell)
    for seed in (0, 1, 2):
        kwargs = {"temperature": temperature, "top_k": top_k, "seed": seed, "banned": (0, 1)}
        fast = generate(model, [2, 3, 4], 300, **kwargs)
        slow = generate(model, [2, 3, 4], 300, fast=False, **kwargs)
        assert fast == slow
        assert len(fast) == 300 and 0 not in fast and 1 not in fast


def test_fast_stepper_is_chosen_only_where_it_reproduces_the_model():
    assert isinstance(stepping.stepper(language_model()), stepping.NumpyStepper)
    assert type(stepping.stepper(language_model().double())) is stepping.FastStepper
    assert isinstance(stepping.stepper(language_model(activation="relu")), stepping.ModelStepper)
    assert isinstance(stepping.stepper(language_model(), fast=False), stepping.ModelStepper)
    classifier = SequenceModel(
        FeatureInput(3), Backbone(3, BackboneConfig(hidden_size=8)), LastStateHead(8, 2)
    )
    assert isinstance(stepping.stepper(classifier), stepping.ModelStepper)


STEPPERS = [stepping.FastStepper, stepping.NumpyStepper]


@pytest.mark.parametrize("kind", STEPPERS)
def test_precomputed_input_table_gives_the_embedding_path_s_logits(kind, monkeypatch):
    model = language_model()
    with_table = kind(model)
    monkeypatch.setattr(stepping, "TABLE_BYTES", 0)
    without = kind(model)
    assert with_table.table is not None and without.table is None
    prompt = {"tokens": torch.tensor([[5, 6, 7]])}
    close = {"atol": 1e-6, "rtol": 1e-6}
    torch.testing.assert_close(with_table.prime(prompt), without.prime(prompt), **close)
    for token in (3, 9, 29, 0):
        ids = torch.tensor([token])
        torch.testing.assert_close(with_table.step(ids), without.step(ids), **close)


@pytest.mark.parametrize("kind", STEPPERS)
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_a_short_prompt_read_by_steps_leaves_the_model_s_state(kind, cell, monkeypatch):
    model = language_model(cell)
    prompt = {"tokens": torch.tensor([[5, 6, 7, 8], [1, 2, 3, 4]])}
    by_steps = kind(model)
    first = by_steps.prime(prompt)
    monkeypatch.setattr(stepping, "PRIME_STEPS", 0)
    by_model = kind(model)
    torch.testing.assert_close(first, by_model.prime(prompt), atol=1e-5, rtol=1e-5)
    ids = torch.tensor([9, 10])
    torch.testing.assert_close(by_steps.step(ids), by_model.step(ids), atol=1e-5, rtol=1e-5)


def test_draw_is_torch_multinomial_s_draw_for_the_same_generator():
    torch.manual_seed(0)
    logits = torch.randn(400, 5, 65) * torch.tensor([0.1, 1.0, 3.0, 10.0, 30.0]).view(1, 5, 1)
    logits[:, :, :3] = float("-inf")
    mine, theirs = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    for probs in torch.softmax(logits, -1):
        expected = torch.multinomial(probs, 1, generator=theirs).squeeze(-1)
        assert torch.equal(draw(probs, mine), expected)


@pytest.mark.parametrize("project_to", [0, 8])
def test_steps_of_features_follow_the_model_on_the_whole_sequence(project_to):
    torch.manual_seed(0)
    config = BackboneConfig(hidden_size=32, num_layers=2)
    adapter = FeatureInput(5, project_to=project_to)
    model = SequenceModel(adapter, Backbone(adapter.output_size, config), StepHead(32, 5))
    model.eval()
    x = torch.randn(2, 12, 5)
    with torch.no_grad():
        whole, _ = model({"x": x})
    steps = stepping.stepper(model, key="x")
    assert isinstance(steps, stepping.FastStepper)
    logits = [steps.prime({"x": x[:, :4]})]
    logits += [steps.step(x[:, t]) for t in range(4, 12)]
    torch.testing.assert_close(torch.stack(logits, 1), whole[:, 3:], atol=1e-5, rtol=1e-5)


def test_a_stream_stops_at_its_stop_id_after_the_minimum_and_matches_the_model_path():
    model = language_model(vocab=6)
    for seed in range(5):
        kwargs = {"seed": seed, "banned": (0, 1), "stop_id": 5, "min_length": 3}
        fast = list(itertools.islice(sample(model, [2], **kwargs), 200))
        assert fast == list(itertools.islice(sample(model, [2], fast=False, **kwargs), 200))
        assert len(fast) >= 3 and 5 not in fast and not {0, 1} & set(fast)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_numpy_steps_follow_torch_s_cells_for_a_long_batch(cell):
    """Batch 3, 200 steps: numpy's products sum in another order, nothing more."""
    model = language_model(cell, layers=3)
    torch_steps, numpy_steps = stepping.FastStepper(model), stepping.NumpyStepper(model)
    prompt = {"tokens": torch.tensor([[5, 6], [7, 8], [9, 10]])}
    close = {"atol": 1e-5, "rtol": 1e-5}
    torch.testing.assert_close(numpy_steps.prime(prompt), torch_steps.prime(prompt), **close)
    generator = torch.Generator().manual_seed(0)
    for _ in range(200):
        ids = torch.randint(0, 30, (3,), generator=generator)
        expected, got = torch_steps.step(ids), numpy_steps.step(ids)
        assert got.dtype == torch.float32 and got.shape == (3, 30)
        torch.testing.assert_close(got, expected, **close)


def test_numpy_steps_run_with_torch_s_thread_count():
    from threadpoolctl import threadpool_info

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        stepping.NumpyStepper(language_model())
        blas = [p for p in threadpool_info() if p["user_api"] == "blas"]
        assert blas and all(p["num_threads"] == 1 for p in blas)
    finally:
        torch.set_num_threads(before)
        stepping.NumpyStepper(language_model())
