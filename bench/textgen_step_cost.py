"""CPU seconds per training step of character-level LSTMs of several shapes: what sizes a
step budget (textgen's default trains a fixed number of steps, not seconds).

    python bench/textgen_step_cost.py [--shapes 512x2,384x2,256x2] [--steps 5]

One thread; the model textgen builds (tied embedding, LSTM, output layer) on random
tokens of an 80-character vocabulary, batch 32 x 100 steps, Adam. Process CPU time, not
wall time: on a loaded machine the wall time says more about the neighbours than about
the model.
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from seqsuite.adapters import TokenInput
from seqsuite.backbone import Backbone, BackboneConfig
from seqsuite.heads import StepHead
from seqsuite.model import SequenceModel

VOCAB, BATCH, BPTT = 80, 32, 100


def step_cost(hidden: int, layers: int, steps: int) -> float:
    """CPU seconds per optimizer step."""
    torch.manual_seed(0)
    backbone = Backbone(hidden, BackboneConfig(hidden_size=hidden, num_layers=layers, dropout=0.1))
    model = SequenceModel(TokenInput(VOCAB, hidden), backbone, StepHead(hidden, VOCAB))
    optimizer = torch.optim.Adam(model.parameters(), 1e-3)
    x, y = torch.randint(2, VOCAB, (2, BATCH, BPTT))

    def step() -> None:
        out, _ = model({"tokens": x})
        loss = F.cross_entropy(out.flatten(0, 1), y.flatten())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    step()  # warm-up
    started = time.process_time()
    for _ in range(steps):
        step()
    return (time.process_time() - started) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shapes", default="512x2,384x2,320x2,256x2,256x3,512x1,768x1")
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print("| LSTM (hidden x layers) | CPU s / step | characters / CPU s | steps in 10 CPU min |")
    print("|---|---|---|---|")
    for shape in args.shapes.split(","):
        hidden, layers = map(int, shape.split("x"))
        cost = step_cost(hidden, layers, args.steps)
        print(
            f"| {hidden} x {layers} | {cost:.3f} | {BATCH * BPTT / cost:,.0f} | {600 / cost:,.0f} |"
        )


if __name__ == "__main__":
    main()
