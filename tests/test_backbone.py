"""The shared backbone: fused and custom paths agree, padding is invisible, state carries."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from seqsuite.backbone import Backbone, BackboneConfig
from seqsuite.cells import DERIVATIVES, LSTMRecurrence, run_rnn

CONFIGS = [
    BackboneConfig(hidden_size=8),
    BackboneConfig(cell="gru", hidden_size=8),
    BackboneConfig(hidden_size=8, num_layers=2, bidirectional=True),
    BackboneConfig(cell="gru", hidden_size=8, num_layers=2, bidirectional=True),
    BackboneConfig(hidden_size=8, proj_size=4, num_layers=2),
    BackboneConfig(hidden_size=8, proj_size=3, bidirectional=True),
]


def ids(config: BackboneConfig) -> str:
    return f"{config.cell}-L{config.num_layers}-{'bi' if config.bidirectional else 'uni'}-p{config.proj_size}"


def state_h(state):
    return state[0] if isinstance(state, tuple) else state


@pytest.mark.parametrize("config", CONFIGS, ids=ids)
def test_custom_cell_with_tanh_equals_fused_kernel(config):
    torch.manual_seed(0)
    backbone = Backbone(3, config)
    x = torch.randn(5, 7, 3)
    lengths = torch.tensor([7, 3, 5, 1, 6])
    fused = backbone(x, lengths)
    sequence, state = run_rnn(backbone.rnn, x, lengths, None, "tanh")
    torch.testing.assert_close(sequence, fused.sequence, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(state_h(state), state_h(fused.state), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("config", CONFIGS[:3], ids=ids)
def test_custom_cell_with_tanh_has_the_fused_kernels_gradients(config):
    torch.manual_seed(0)
    backbone = Backbone(3, config)
    x = torch.randn(5, 7, 3)
    lengths = torch.tensor([7, 3, 5, 1, 6])
    grads = []
    for custom in (False, True):
        backbone.zero_grad()
        if custom:
            sequence, _ = run_rnn(backbone.rnn, x, lengths, None, "tanh")
        else:
            sequence = backbone(x, lengths).sequence
        (sequence * torch.linspace(-1, 1, sequence.shape[-1])).sum().backward()
        grads.append([p.grad.clone() for p in backbone.parameters()])
    for fused, custom in zip(*grads, strict=True):
        torch.testing.assert_close(custom, fused, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("activation", sorted(DERIVATIVES))
def test_hand_written_lstm_gradients_match_autograd(activation):
    """gradcheck in float64, with padding: outputs, final state, every input."""
    torch.manual_seed(0)
    batch, steps, size = 3, 5, 4
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 1, 1, 0, 0]], dtype=torch.double)
    inputs = [
        torch.randn(batch, steps, 4 * size, dtype=torch.double, requires_grad=True),
        torch.randn(batch, size, dtype=torch.double, requires_grad=True),
        torch.randn(batch, size, dtype=torch.double, requires_grad=True),
        torch.randn(4 * size, size, dtype=torch.double, requires_grad=True),
    ]
    for weights in (None, mask):
        assert torch.autograd.gradcheck(
            lambda g, h, c, w, m=weights: LSTMRecurrence.apply(g, h, c, w, m, activation), inputs
        )


@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize("config", CONFIGS, ids=ids)
def test_padding_never_changes_a_sequence_output(config, activation):
    torch.manual_seed(1)
    backbone = Backbone(2, dataclasses.replace(config, activation=activation)).eval()
    lengths = [6, 2, 4, 1]
    sequences = [torch.randn(n, 2) for n in lengths]
    batch = torch.full((4, 6, 2), 1e3)  # loud padding: any leak shows
    for i, seq in enumerate(sequences):
        batch[i, : len(seq)] = seq
    padded = backbone(batch, torch.tensor(lengths))
    for i, seq in enumerate(sequences):
        alone = backbone(seq.unsqueeze(0))
        torch.testing.assert_close(
            padded.sequence[i, : len(seq)], alone.sequence[0], atol=1e-5, rtol=1e-4
        )
        torch.testing.assert_close(padded.last[i], alone.last[0], atol=1e-5, rtol=1e-4)
        assert torch.all(padded.sequence[i, len(seq) :] == 0)


@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_state_carried_across_calls_equals_one_call(cell, activation):
    torch.manual_seed(2)
    backbone = Backbone(
        3, BackboneConfig(cell=cell, hidden_size=6, num_layers=2, activation=activation)
    )
    x = torch.randn(2, 9, 3)
    whole = backbone(x)
    first = backbone(x[:, :4])
    second = backbone(x[:, 4:], state=first.state)
    torch.testing.assert_close(
        torch.cat([first.sequence, second.sequence], 1), whole.sequence, atol=1e-6, rtol=1e-5
    )
    torch.testing.assert_close(state_h(second.state), state_h(whole.state), atol=1e-6, rtol=1e-5)


def test_relu_activation_changes_the_result_and_trains():
    torch.manual_seed(3)
    backbone = Backbone(3, BackboneConfig(hidden_size=6))
    x = torch.randn(2, 5, 3)
    tanh = backbone(x).sequence
    backbone.config.activation = "relu"
    relu = backbone(x)
    assert not torch.allclose(tanh, relu.sequence)
    relu.last.sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in backbone.parameters())


def test_output_size_counts_projection_and_directions():
    config = BackboneConfig(hidden_size=10, proj_size=4, bidirectional=True)
    out = Backbone(3, config)(torch.randn(2, 5, 3))
    assert config.output_size == 8
    assert out.sequence.shape == (2, 5, 8) and out.last.shape == (2, 8)


def test_flops_per_timestep_follows_the_lstm_formula():
    backbone = Backbone(5, BackboneConfig(hidden_size=7))
    assert backbone.flops_per_timestep() == 8 * 7 * (5 + 7)
    gru = Backbone(5, BackboneConfig(cell="gru", hidden_size=7, num_layers=2))
    assert gru.flops_per_timestep() == 6 * 7 * (5 + 7) + 6 * 7 * (7 + 7)


def test_keras_init_sets_forget_bias_to_one_and_orthogonal_recurrent_weights():
    backbone = Backbone(3, BackboneConfig(hidden_size=4, init="keras"))
    bias = backbone.rnn.bias_ih_l0.detach()
    assert torch.all(bias[4:8] == 1) and torch.all(bias[:4] == 0) and torch.all(bias[8:] == 0)
    block = backbone.rnn.weight_hh_l0.detach()[:4]
    torch.testing.assert_close(block @ block.T, torch.eye(4), atol=1e-5, rtol=0)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_a_carried_state_reaches_the_kernel_laid_out_densely(cell, monkeypatch):
    """cuDNN refuses a strided state ("rnn: hx is not contiguous"): text and music runs
    carry states that are slices of a larger one. CPU kernels accept it, so the test looks
    at what the kernel is given, and that the answer is the dense state's answer."""
    torch.manual_seed(0)
    backbone = Backbone(3, BackboneConfig(cell=cell, hidden_size=8, num_layers=2))
    x = torch.randn(4, 5, 3)
    wide = torch.randn(2, 8, 8)
    strided = wide[:, ::2]  # every other stream: not contiguous
    state = (strided, torch.randn(2, 8, 8)[:, 1::2]) if cell == "lstm" else strided
    expected = backbone(
        x, state=tuple(s.contiguous() for s in state) if cell == "lstm" else state.contiguous()
    )
    seen = []
    original = type(backbone.rnn).forward

    def spy(module, inputs, hx=None):
        seen.extend(hx if isinstance(hx, tuple) else [hx])
        return original(module, inputs, hx)

    monkeypatch.setattr(type(backbone.rnn), "forward", spy)
    out = backbone(x, state=state)
    assert seen and all(s.is_contiguous() for s in seen)
    torch.testing.assert_close(out.sequence, expected.sequence)
