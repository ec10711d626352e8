"""Recurrences with a free activation function, on ``nn.LSTM`` / ``nn.GRU`` weights.

PyTorch's fused kernels hard-code ``tanh``. Keras' ``LSTM(activation="relu")`` applies
the activation to the candidate and to the cell output; the gates keep their sigmoid.
These functions compute exactly that, reading the parameters of an ``nn.LSTM`` or
``nn.GRU`` module (same names, same gate order), so a model can switch between the
fused path and this one without changing its weights. With ``activation=tanh`` the
result equals the fused kernel's (a test checks it).

Speed: the input projection of a whole sequence is one matrix product; only the
recurrent product and the element-wise gate maths run per time step. For LSTM layers
without projection and an activation whose derivative is known (:data:`DERIVATIVES`),
:class:`LSTMRecurrence` runs the time loop outside autograd and back-propagates through
time with hand-derived gradients (checked against autograd by ``gradcheck``): autograd's
per-step bookkeeping, not the arithmetic, is what makes a Python loop slow.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .batches import padding_mask

ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "tanh": torch.tanh,
    "relu": torch.relu,
    "gelu": F.gelu,
    "silu": F.silu,
    "elu": F.elu,
    "leaky_relu": F.leaky_relu,
    "softsign": F.softsign,
    "sigmoid": torch.sigmoid,
    "hardtanh": F.hardtanh,
    "linear": lambda x: x,
}


# d act(x) / dx from x and y = act(x): what the hand-written backward pass needs.
DERIVATIVES: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "tanh": lambda x, y: 1 - y * y,
    "relu": lambda x, y: (x > 0).to(x.dtype),
    "sigmoid": lambda x, y: y * (1 - y),
    "linear": lambda x, y: torch.ones_like(x),
    "hardtanh": lambda x, y: ((x > -1) & (x < 1)).to(x.dtype),
    "softsign": lambda x, y: (1 - y.abs()) ** 2,
    "elu": lambda x, y: torch.where(x > 0, torch.ones_like(x), y + 1),
}


class LSTMRecurrence(torch.autograd.Function):
    """The recurrent part of one LSTM layer: gates_x (batch, time, 4H) already holds the
    input projection and both biases. Returns outputs (batch, time, H) and the final h, c.
    ``mask`` (batch, time) float, 0 on padding: the state is held and the output is 0.

    Per-step cost is what matters at small sizes (the tutorial's 50 units, 10 steps), so
    every buffer is laid out time-major, each step's slices are cut once before the loop
    (``unbind``), and the loops write into them with ``out=``: a forward step is 7 ATen
    calls, a backward step 6. The forward keeps each step's gate pre-activations, gate
    sigmoids and new cell; the backward turns those into per-step coefficients in a few
    whole-sequence operations."""

    @staticmethod
    def forward(ctx, gates_x, h0, c0, w_hh, mask, activation: str):  # noqa: PLR0913
        act = ACTIVATIONS[activation]
        batch, steps, four = gates_x.shape
        size = four // 4
        w_t = w_hh.t()
        pre = gates_x.new_empty(steps, batch, four)  # gate pre-activations
        sig = gates_x.new_empty(steps, batch, four)  # their sigmoids (g's is unused)
        c_new = gates_x.new_empty(steps, batch, size)
        out = gates_x.new_empty(steps, batch, size)
        held = None if mask is None else gates_x.new_empty(2, steps + 1, batch, size)
        gx, pre_t, sig_t = gates_x.unbind(1), pre.unbind(0), sig.unbind(0)
        gates = sig.view(steps, batch, 4, size).unbind(2)
        si, sf, so = (g.unbind(0) for g in (gates[0], gates[1], gates[3]))
        g_t = pre.view(steps, batch, 4, size)[:, :, 2].unbind(0)
        c_t, out_t = c_new.unbind(0), out.unbind(0)
        h, c = h0, c0
        for t in range(steps):
            torch.sigmoid(torch.addmm(gx[t], h, w_t, out=pre_t[t]), out=sig_t[t])
            cn = torch.mul(sf[t], c, out=c_t[t]).addcmul_(si[t], act(g_t[t]))
            if mask is None:
                h, c = torch.mul(so[t], act(cn), out=out_t[t]), cn
            else:
                held[0, t], held[1, t] = h, c
                m = mask[:, t : t + 1]
                hn = so[t] * act(cn)
                h, c = torch.lerp(h, hn, m), torch.lerp(c, cn, m)
                torch.mul(hn, m, out=out_t[t])
        if held is not None:
            held[0, steps], held[1, steps] = h, c
        ctx.save_for_backward(pre, sig, c_new, out, h0, c0, w_hh, mask, held)
        ctx.activation = activation
        return out.transpose(0, 1), h, c

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, d_out, d_h, d_c):
        pre, sig, c_new, out, h0, c0, w_hh, mask, held = ctx.saved_tensors
        act, derivative = ACTIVATIONS[ctx.activation], DERIVATIVES[ctx.activation]
        steps, batch, size = c_new.shape
        # the state each step started from (time-major)
        if held is None:
            h_prev = torch.cat([h0.unsqueeze(0), out[:-1]])
            c_prev = torch.cat([c0.unsqueeze(0), c_new[:-1]])
        else:
            h_prev, c_prev = held[0, :-1], held[1, :-1]
        # whole-sequence coefficients: d gates = (dc * [i, f, g], dh * o) coefficients,
        # written straight into one buffer (steps, batch, 3, hidden)
        s = sig.view(steps, batch, 4, size)
        ds = s - s * s  # the sigmoids' derivatives
        si, sf, so = s[:, :, 0], s[:, :, 1], s[:, :, 3]
        g = pre.view(steps, batch, 4, size)[:, :, 2]
        ag, ac = act(g), act(c_new)
        coefficients = pre.new_empty(steps, batch, 3, size)
        torch.mul(ag, ds[:, :, 0], out=coefficients[:, :, 0])
        torch.mul(c_prev, ds[:, :, 1], out=coefficients[:, :, 1])
        torch.mul(si, derivative(g, ag), out=coefficients[:, :, 2])
        by_dc = coefficients.unbind(0)
        by_dh = (ac * ds[:, :, 3]).unbind(0)
        c_from_h = (so * derivative(c_new, ac)).unbind(0)
        forget = sf.unbind(0)
        d_gates = pre.new_empty(steps, batch, 4, size)
        d_icfg, d_o = d_gates[:, :, :3].unbind(0), d_gates[:, :, 3].unbind(0)
        d_flat = d_gates.view(steps, batch, 4 * size).unbind(0)
        d_step = (
            d_out.new_zeros(steps, batch, size) if d_out is None else d_out.transpose(0, 1)
        ).unbind(0)
        # dc of each step, also seen as (batch, 1, hidden) to scale three gates at once
        dc_buffer = pre.new_empty(steps, batch, 1, size)
        dc_t, dc_wide = dc_buffer.squeeze(2).unbind(0), dc_buffer.unbind(0)
        dh = d_h + d_step[-1] if d_h is not None else d_step[-1].clone()
        dc = d_c if d_c is not None else pre.new_zeros(batch, size)
        for t in range(steps - 1, -1, -1):
            if mask is not None:  # a padded step held the state: its gradient passes through
                m = mask[:, t : t + 1]  # (dh holds d_out[t] already; a padded output is 0)
                dh_held, dc_held = (dh - d_step[t]) * (1 - m), dc * (1 - m)
                dh, dc = dh * m, dc * m
            torch.addcmul(dc, dh, c_from_h[t], out=dc_t[t])
            torch.mul(dc_wide[t], by_dc[t], out=d_icfg[t])
            torch.mul(dh, by_dh[t], out=d_o[t])
            dc = dc_t[t] * forget[t]
            if t == 0:
                dh = d_flat[0] @ w_hh
            else:
                dh = torch.addmm(d_step[t - 1], d_flat[t], w_hh)
            if mask is not None:
                dh, dc = dh + dh_held, dc + dc_held
        d_w = d_gates.view(-1, 4 * size).t() @ h_prev.reshape(-1, size)
        return d_gates.view(steps, batch, 4 * size).transpose(0, 1), dh, dc, d_w, None, None


def lstm_layer(
    x: Tensor,
    h: Tensor,
    c: Tensor,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor | None,
    b_hh: Tensor | None,
    w_hr: Tensor | None,
    activation: str,
    mask: Tensor | None,
) -> tuple[Tensor, Tensor, Tensor]:
    """One LSTM layer in one direction.

    x: (batch, time, input); h: (batch, out) with out = proj or hidden; c: (batch, hidden);
    mask: (batch, time) bool, False on padding (state is held, output is zero there).
    Returns outputs (batch, time, out), final h, final c.
    """
    # both biases added once to the (smaller) bias, not to every step's gates
    gates_x = F.linear(x, w_ih, b_ih if b_hh is None else b_ih + b_hh)
    autocast = torch.is_autocast_enabled(x.device.type)
    if w_hr is None and activation in DERIVATIVES and not autocast:
        weights = None if mask is None else mask.to(gates_x.dtype)
        return LSTMRecurrence.apply(gates_x, h, c, w_hh, weights, activation)
    act = ACTIVATIONS[activation]
    outputs = []
    for t in range(x.size(1)):
        gates = gates_x[:, t] + h @ w_hh.t()
        i, f, g, o = gates.chunk(4, dim=1)
        c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * act(g)
        h_new = torch.sigmoid(o) * act(c_new)
        if w_hr is not None:
            h_new = h_new @ w_hr.t()
        if mask is not None:
            m = mask[:, t : t + 1]
            c = torch.where(m, c_new, c)
            h = torch.where(m, h_new, h)
            outputs.append(h_new * m)
        else:
            c, h = c_new, h_new
            outputs.append(h_new)
    return torch.stack(outputs, dim=1), h, c


def gru_layer(
    x: Tensor,
    h: Tensor,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor | None,
    b_hh: Tensor | None,
    act: Callable[[Tensor], Tensor],
    mask: Tensor | None,
) -> tuple[Tensor, Tensor]:
    """One GRU layer in one direction (PyTorch's formulation: reset gate after ``W_hn h``)."""
    gx = F.linear(x, w_ih, b_ih)
    outputs = []
    for t in range(x.size(1)):
        gh = F.linear(h, w_hh, b_hh)
        xr, xz, xn = gx[:, t].chunk(3, dim=1)
        hr, hz, hn = gh.chunk(3, dim=1)
        r = torch.sigmoid(xr + hr)
        z = torch.sigmoid(xz + hz)
        n = act(xn + r * hn)
        h_new = (1 - z) * n + z * h
        if mask is not None:
            m = mask[:, t : t + 1]
            h = torch.where(m, h_new, h)
            outputs.append(h_new * m)
        else:
            h = h_new
            outputs.append(h_new)
    return torch.stack(outputs, dim=1), h


def reverse_padded(x: Tensor, lengths: Tensor | None) -> Tensor:
    """Reverse each sequence within its own length; padding stays where it is."""
    if lengths is None:
        return x.flip(1)
    steps = torch.arange(x.size(1), device=x.device).unsqueeze(0)
    lengths = lengths.to(x.device).unsqueeze(1)
    index = torch.where(steps < lengths, lengths - 1 - steps, steps)
    index = index.view(*index.shape, *([1] * (x.dim() - 2))).expand_as(x)
    return x.gather(1, index)


def run_rnn(
    rnn: nn.LSTM | nn.GRU,
    x: Tensor,
    lengths: Tensor | None,
    state: Tensor | tuple[Tensor, Tensor] | None,
    activation: str,
) -> tuple[Tensor, Tensor | tuple[Tensor, Tensor]]:
    """Run ``rnn``'s weights with ``activation``; same inputs and outputs as ``rnn(x, state)``.

    x: (batch, time, input), batch first. ``lengths`` (batch,) marks padding.
    Returns outputs (batch, time, dirs*out) with zeros on padding, and the final state in
    nn.LSTM's / nn.GRU's layout ((layers*dirs, batch, out)[, (layers*dirs, batch, hidden)]).
    """
    act = ACTIVATIONS[activation]
    is_lstm = isinstance(rnn, nn.LSTM)
    dirs = 2 if rnn.bidirectional else 1
    batch = x.size(0)
    hidden = rnn.hidden_size
    out_size = rnn.proj_size if is_lstm and rnn.proj_size > 0 else hidden
    if state is None:
        zeros_h = x.new_zeros(rnn.num_layers * dirs, batch, out_size)
        state = (zeros_h, x.new_zeros(rnn.num_layers * dirs, batch, hidden)) if is_lstm else zeros_h
    h0, c0 = state if is_lstm else (state, None)
    mask = None
    if lengths is not None:
        mask = padding_mask(lengths, x.size(1), x.device)

    layer_input = x
    final_h, final_c = [], []
    for layer in range(rnn.num_layers):
        direction_outputs = []
        for direction in range(dirs):
            suffix = f"_l{layer}" + ("_reverse" if direction else "")
            k = layer * dirs + direction
            w_ih = getattr(rnn, "weight_ih" + suffix)
            w_hh = getattr(rnn, "weight_hh" + suffix)
            b_ih = getattr(rnn, "bias_ih" + suffix) if rnn.bias else None
            b_hh = getattr(rnn, "bias_hh" + suffix) if rnn.bias else None
            seq = reverse_padded(layer_input, lengths) if direction else layer_input
            if is_lstm:
                w_hr = getattr(rnn, "weight_hr" + suffix) if rnn.proj_size > 0 else None
                out, h, c = lstm_layer(
                    seq, h0[k], c0[k], w_ih, w_hh, b_ih, b_hh, w_hr, activation, mask
                )
                final_c.append(c)
            else:
                out, h = gru_layer(seq, h0[k], w_ih, w_hh, b_ih, b_hh, act, mask)
            final_h.append(h)
            direction_outputs.append(reverse_padded(out, lengths) if direction else out)
        layer_input = torch.cat(direction_outputs, dim=2) if dirs == 2 else direction_outputs[0]
        if rnn.dropout > 0 and rnn.training and layer < rnn.num_layers - 1:
            layer_input = F.dropout(layer_input, rnn.dropout, training=True)
    h_n = torch.stack(final_h)
    return layer_input, ((h_n, torch.stack(final_c)) if is_lstm else h_n)
