"""Speed, measured side by side in one run: every figure is a ratio or a median.

    python bench/performance.py [--repeats 3] [--write] [--skip-tasks]

1. Framework overhead: seqsuite's Trainer against a hand-written PyTorch loop on the same
   nn.LSTM model and the same batches (forecast-like and text-like shapes).
2. Custom cells (activation != tanh) against the fused kernel, forward + backward.
3. Machine limit: the backbone's training FLOP/s over the machine's dense matmul FLOP/s.
4. Data pipeline: the share of each task's epoch spent getting batches (quick presets).
5. Inference: generation tokens/s at batch 1 and 64; forecast and classification latency.
6. bf16 autocast on this CPU against fp32; 7. threads: 1 against all cores.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from datetime import date
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
warnings.filterwarnings("ignore")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from seqsuite import ArraySplit, Backbone, BackboneConfig, TrainConfig, Trainer  # noqa: E402
from seqsuite.adapters import FeatureInput, TokenInput  # noqa: E402
from seqsuite.heads import LastStateHead, PooledHead, StepHead  # noqa: E402
from seqsuite.model import SequenceModel  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from results_doc import replace_section  # noqa: E402

BATCH, STEPS, HIDDEN, BATCHES = 64, 100, 256, 12


def median_time(fn, repeats: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


# -- 1. framework overhead -------------------------------------------------------------------


def shapes():
    g = torch.Generator().manual_seed(0)
    n = BATCH * BATCHES
    series = {"x": torch.randn(n, STEPS, 1, generator=g), "y": torch.randn(n, 1, generator=g)}
    text = {
        "tokens": torch.randint(0, 65, (n, STEPS), generator=g),
        "targets": torch.randint(0, 65, (n, STEPS), generator=g),
    }
    return {
        "forecast-like (64 x 100 x 1 -> LSTM 256 -> 1)": (
            series,
            lambda: SequenceModel(
                FeatureInput(1),
                Backbone(1, BackboneConfig(hidden_size=HIDDEN)),
                LastStateHead(HIDDEN, 1),
            ),
            lambda out, b: F.mse_loss(out, b["y"]),
        ),
        "text-like (64 x 100 tokens -> LSTM 256 -> 65)": (
            text,
            lambda: SequenceModel(
                TokenInput(65, HIDDEN),
                Backbone(HIDDEN, BackboneConfig(hidden_size=HIDDEN)),
                StepHead(HIDDEN, 65),
            ),
            lambda out, b: F.cross_entropy(out.flatten(0, 1), b["targets"].flatten()),
        ),
    }


def hand_written(tensors, make, loss_fn) -> float:
    """The loop a PyTorch user writes: shuffle, slice, forward, loss, backward, step."""
    torch.manual_seed(0)
    model = make()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    n = next(iter(tensors.values())).shape[0]
    order = torch.randperm(n)
    started = time.perf_counter()
    for start in range(0, n, BATCH):
        idx = order[start : start + BATCH]
        batch = {k: v[idx] for k, v in tensors.items()}
        output, _ = model(batch)
        loss = loss_fn(output, batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    float(loss)
    return time.perf_counter() - started


def with_trainer(tensors, make, loss_fn) -> float:
    torch.manual_seed(0)
    model = make()
    trainer = Trainer(TrainConfig(epochs=1, batch_size=BATCH, lr=1e-3, clip_norm=0, patience=0))
    started = time.perf_counter()
    trainer.fit(model, ArraySplit(tensors, seq_key=next(iter(tensors))), loss_fn)
    return time.perf_counter() - started


def overhead(repeats: int) -> list[str]:
    rows = [
        "| shape | hand-written loop, s/epoch (median of 7, interleaved) | seqsuite Trainer, s/epoch | seqsuite throughput / hand-written |",
        "|---|---|---|---|",
    ]
    for name, (tensors, make, loss_fn) in shapes().items():
        # interleaved (hand, ours, hand, ours, ...) so that drifts in machine speed hit both
        hand_written(tensors, make, loss_fn), with_trainer(tensors, make, loss_fn)  # warm-up
        pairs = [
            (hand_written(tensors, make, loss_fn), with_trainer(tensors, make, loss_fn))
            for _ in range(max(repeats, 7))
        ]
        hand = statistics.median(h for h, _ in pairs)
        ours = statistics.median(o for _, o in pairs)
        rows.append(
            f"| {name}, {BATCHES} batches | {hand:.3f} | {ours:.3f} | **{hand / ours:.3f}×** |"
        )
        print(rows[-1], flush=True)
    return rows


# -- 2. custom cells -----------------------------------------------------------------------------


def cells(repeats: int) -> list[str]:
    """Forward + backward of one layer, fused tanh against the custom relu cell, timed in
    interleaved pairs (fused, relu, fused, relu ...) so that the machine's drifts hit both."""
    from seqsuite.cells import run_rnn

    rows = [
        "| hidden, time, batch | fused tanh, ms | custom tanh, ms | custom relu, ms | relu / fused (median of interleaved pairs) |",
        "|---|---|---|---|---|",
    ]
    for hidden, steps, batch, inputs in ((50, 10, 32, 1), (256, 100, 64, 256)):
        steps_of = {}
        for label, activation in (("fused", "tanh"), ("custom tanh", "tanh"), ("relu", "relu")):
            torch.manual_seed(0)
            backbone = Backbone(inputs, BackboneConfig(hidden_size=hidden, activation=activation))
            x = torch.randn(batch, steps, inputs)
            if label == "custom tanh":

                def step(b=backbone, x=x):
                    out, _ = run_rnn(b.rnn, x, None, None, "tanh")
                    out.sum().backward()
            else:

                def step(b=backbone, x=x):
                    b(x).sequence.sum().backward()

            steps_of[label] = step
        pairs = max(repeats, 41 if hidden == 50 else repeats)
        timings = {label: [] for label in steps_of}
        for step in steps_of.values():
            step(), step()  # warm-up
        for _ in range(pairs):
            for label, step in steps_of.items():
                timings[label].append(median_time(step, 1, warmup=0))
        ratio = statistics.median(
            r / f for r, f in zip(timings["relu"], timings["fused"], strict=True)
        )
        ms = {label: 1000 * statistics.median(t) for label, t in timings.items()}
        rows.append(
            f"| {hidden}, {steps}, {batch} | {ms['fused']:.2f} | {ms['custom tanh']:.2f} | "
            f"{ms['relu']:.2f} | **{ratio:.2f}×** |"
        )
        print(rows[-1], flush=True)
    return rows


# -- 3. machine limit ---------------------------------------------------------------------------


def machine(repeats: int) -> list[str]:
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    matmul = 2 * 2048**3 / median_time(lambda: a @ b, max(repeats, 5), warmup=2)
    rows = [
        f"Dense fp32 matmul (2048²) on this machine: **{matmul / 1e9:.0f} GFLOP/s** (median of 5).",
        "",
        "| backbone (batch 64 x 100 steps) | training GFLOP/s (8·H·(I+H) per step and sample, ×3) | share of the matmul rate |",
        "|---|---|---|",
    ]
    for hidden in (128, 256, 512):
        torch.manual_seed(0)
        backbone = Backbone(hidden, BackboneConfig(hidden_size=hidden))
        x = torch.randn(BATCH, STEPS, hidden)
        optimizer = torch.optim.Adam(backbone.parameters())

        def step():
            optimizer.zero_grad()
            backbone(x).sequence.sum().backward()
            optimizer.step()

        seconds = median_time(step, repeats, warmup=1)
        flops = 3 * backbone.flops_per_timestep() * BATCH * STEPS / seconds
        rows.append(f"| LSTM {hidden} | {flops / 1e9:.1f} | {100 * flops / matmul:.0f} % |")
        print(rows[-1], flush=True)
    rows += [
        "",
        "What holds it back: the recurrence is a chain of small (batch x hidden) matrix products, one per "
        "step, that cannot run in parallel; at hidden 128 each is too small to keep the cores' vector units "
        "busy, and the gate non-linearities are memory-bound.",
    ]
    return rows


# -- 4. data pipeline -----------------------------------------------------------------------------


def data_pipeline() -> list[str]:
    """Each built-in task's quick preset, in fp32 and in bf16: the data share of an epoch,
    the speed, and what bf16 does to the task's own metric."""
    import seqsuite
    from seqsuite.registry import discover

    rows = [
        "| task (quick preset) | share of an epoch getting batches (median) | examples/s fp32 | bf16 speed | test metric fp32 | test metric bf16 |",
        "|---|---|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory() as root:
        for info in discover():
            if not info.ok or info.distribution != "seqsuite":
                continue
            runs = {
                precision: seqsuite.run(
                    info.name,
                    sets=[f"train.precision='{precision}'"],
                    quick=True,
                    quiet=True,
                    runs_root=root,
                )
                for precision in ("fp32", "bf16")
            }
            fp32, bf16 = runs["fp32"].metrics, runs["bf16"].metrics
            shares = [float(h["data_share"]) for h in _history(runs["fp32"].run_dir)]
            key = fp32["primary_metric"]
            rows.append(
                f"| {info.name} | {100 * statistics.median(shares):.1f} % | {fp32['samples_per_second']:.0f} | "
                f"{bf16['samples_per_second'] / fp32['samples_per_second']:.2f}× | "
                f"{key} {fp32['test'][key]:.4g} | {bf16['test'][key]:.4g} |"
            )
            print(rows[-1], flush=True)
    return rows


def _history(run_dir: Path) -> list[dict]:
    import csv

    return list(csv.DictReader((Path(run_dir) / "history.csv").open()))


# -- 5. inference ---------------------------------------------------------------------------------


def generation(repeats: int) -> list[str]:
    """Tokens/s at batch 1: the default stepper (numpy's products on CPU) against the model's
    own forward per step (the path before the fast steppers) and against PyTorch's cells
    (the fast path before numpy's), timed in interleaved triples; the same samples
    (checked here)."""
    from seqsuite import stepping
    from seqsuite.token_lm import generate

    models = {
        "text: 2 x 512 LSTM, 65 characters": SequenceModel(
            TokenInput(65, 512),
            Backbone(512, BackboneConfig(hidden_size=512, num_layers=2)),
            StepHead(512, 65),
        ),
        "music events: 64-d embedding, 2 x 256 LSTM, 130 events": SequenceModel(
            TokenInput(130, 64),
            Backbone(64, BackboneConfig(hidden_size=256, num_layers=2)),
            StepHead(256, 130),
        ),
    }
    rows = [
        "| generation at batch 1, state carried | model forward per step, tokens/s | PyTorch cells, tokens/s | default (numpy steps), tokens/s | default against the model forward | default against PyTorch cells | same sample |",
        "|---|---|---|---|---|---|---|",
    ]
    length = 300

    def timed(lm: Any, path: str) -> float:
        stepping.NUMPY_STEPS = path != "cells"
        try:
            return median_time(
                lambda: generate(lm, [2], length, seed=0, fast=path != "model"), 1, 0
            )
        finally:
            stepping.NUMPY_STEPS = True

    paths = ("model", "cells", "numpy")
    for name, lm in models.items():
        torch.manual_seed(0)
        lm.eval()
        same = generate(lm, [2], length, seed=1) == generate(lm, [2], length, seed=1, fast=False)
        triples = [{path: timed(lm, path) for path in paths} for _ in range(max(repeats, 7))]
        rate = {p: length / statistics.median(t[p] for t in triples) for p in paths}
        against = {p: statistics.median(t[p] / t["numpy"] for t in triples) for p in paths}
        rows.append(
            f"| {name} | {rate['model']:.0f} | {rate['cells']:.0f} | {rate['numpy']:.0f} | "
            f"**{against['model']:.1f}×** | {against['cells']:.2f}× | {'yes' if same else 'NO'} |"
        )
        print(rows[-1], flush=True)
    return rows + ["", *first_token(models, repeats)]


def first_token(models: dict, repeats: int) -> list[str]:
    """Milliseconds to the first new token (what a streaming client waits for) from a fresh
    fast stepper: prompts read by its own steps against one call of the model's forward
    (the path before), both forced, timed in interleaved pairs; ``PRIME_STEPS`` chooses
    between them."""
    from seqsuite import stepping
    from seqsuite.token_lm import sample

    rows = [
        f"| first token at batch 1, fresh stepper (the fast steps read prompts up to {stepping.PRIME_STEPS} tokens) | prompt | prompt read by the model's forward, ms | by the fast steps, ms |",
        "|---|---|---|---|",
    ]
    default = stepping.PRIME_STEPS
    for name, lm in models.items():
        for length in (1, default, 32):
            prompt = [2 + k % 50 for k in range(length)]
            pairs = []
            for _ in range(max(repeats, 7)):
                timed = []
                for steps in (0, length):
                    stepping.PRIME_STEPS = steps
                    timed.append(median_time(lambda: next(sample(lm, prompt, seed=0)), 1, 0))
                pairs.append(timed)
            stepping.PRIME_STEPS = default
            model_ms, steps_ms = (1000 * statistics.median(p[k] for p in pairs) for k in (0, 1))
            rows.append(
                f"| {name.split(':')[0]} | {length} tokens | {model_ms:.2f} | {steps_ms:.2f} |"
            )
            print(rows[-1], flush=True)
    return rows


@torch.no_grad()
def inference(repeats: int) -> list[str]:
    torch.manual_seed(0)
    lm = SequenceModel(
        TokenInput(65, 512),
        Backbone(512, BackboneConfig(hidden_size=512, num_layers=2)),
        StepHead(512, 65),
    ).eval()
    length = 200

    def batched(batch: int = 64) -> None:
        tokens = torch.full((batch, 1), 2)
        logits, state = lm({"tokens": tokens})
        for _ in range(length):
            tokens = torch.multinomial(torch.softmax(logits[:, -1], -1), 1)
            logits, state = lm({"tokens": tokens}, state)

    sixty_four = 64 * length / median_time(batched, repeats)
    forecaster = SequenceModel(
        FeatureInput(1), Backbone(1, BackboneConfig(hidden_size=32)), LastStateHead(32, 24)
    ).eval()
    window = torch.randn(1, 24, 1)
    forecast_ms = 1000 * median_time(lambda: forecaster({"x": window}), 50, warmup=5)
    classifier = SequenceModel(
        TokenInput(20000, 300),
        Backbone(300, BackboneConfig(hidden_size=128, bidirectional=True)),
        PooledHead(256, 2, "max"),
    ).eval()
    text = {"tokens": torch.randint(2, 20000, (1, 20)), "lengths": torch.tensor([20])}
    classify_ms = 1000 * median_time(lambda: classifier(text), 50, warmup=5)
    return [
        *generation(repeats),
        "",
        "| workload | figure |",
        "|---|---|",
        f"| generation, 2 x 512 LSTM, batch 64, state carried (model forward) | {sixty_four:.0f} tokens/s |",
        f"| forecast request (look-back 24, LSTM 32, 24-step head) | {forecast_ms:.2f} ms |",
        f"| sentiment request (20 tokens, BiLSTM 128, 300-d embeddings) | {classify_ms:.2f} ms |",
    ]


# -- 6. bf16, 7. threads -----------------------------------------------------------------------


def precision_and_threads(repeats: int) -> list[str]:
    tensors, make, loss_fn = list(shapes().values())[1]
    torch.manual_seed(0)
    model = SequenceModel(
        TokenInput(65, 512),
        Backbone(512, BackboneConfig(hidden_size=512, num_layers=2)),
        StepHead(512, 65),
    )
    optimizer = torch.optim.Adam(model.parameters())
    batch = {k: v[:32] for k, v in tensors.items()}

    def step(dtype=None):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype is not None):
            out, _ = model(batch)
            loss = loss_fn(out.float(), batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    fp32 = median_time(step, repeats)
    bf16 = median_time(lambda: step(torch.bfloat16), repeats)
    threads = torch.get_num_threads()
    all_cores = median_time(step, repeats)
    torch.set_num_threads(1)
    single = median_time(step, repeats)
    torch.set_num_threads(threads)
    chars = 32 * STEPS
    return [
        "| setting (2 x 512 LSTM, batch 32 x 100 characters, one training step) | characters/s | ratio |",
        "|---|---|---|",
        f"| fp32 | {chars / fp32:.0f} | 1.00 |",
        f"| bf16 autocast | {chars / bf16:.0f} | **{fp32 / bf16:.2f}×** |",
        f"| {threads} threads (PyTorch's default: one per core) | {chars / all_cores:.0f} | 1.00 |",
        f"| 1 thread | {chars / single:.0f} | {all_cores / single:.2f}× |",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--write", action="store_true")
    parser.add_argument(
        "--skip-tasks", action="store_true", help="skip the per-task data-pipeline runs"
    )
    parser.add_argument(
        "--only",
        choices=["cells", "generation"],
        help="one section only (--write puts it in its own part of docs/results.md)",
    )
    args = parser.parse_args()
    if args.only:
        rows = cells(args.repeats) if args.only == "cells" else generation(args.repeats)
        threads = torch.get_num_threads()
        env = (
            f"OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']} "
            if "OMP_NUM_THREADS" in os.environ
            else ""
        )
        text = "\n".join(
            [
                f"Command: `{env}python bench/performance.py --only {args.only} "
                f"--repeats {args.repeats} --write` ({date.today()}, {threads} thread"
                f"{'s' if threads > 1 else ''}, "
                f"PyTorch {torch.__version__}, load average {os.getloadavg()[0]:.1f} at the end)",
                "",
                *rows,
            ]
        )
        print(text)
        if args.write:
            replace_section(f"performance-{args.only}", text)
        return
    started = time.perf_counter()
    sections = [
        f"Command: `python bench/performance.py --repeats {args.repeats} --write` ({date.today()}, "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, PyTorch {torch.__version__}, "
        f"{torch.get_num_threads()} threads)",
        "",
        "**1. Framework overhead** (target ≥ 0.95×)",
        "",
        *overhead(args.repeats),
        "",
        "**2. Custom cells** (target: relu within 1.5× of fused at the tutorial's size, 50, 10, 32)",
        "",
        *cells(args.repeats),
        "",
        "**3. Machine limit**",
        "",
        *machine(args.repeats),
    ]
    if not args.skip_tasks:
        sections += [
            "",
            "**4. Data pipeline** (target ≤ 10 %) **and 7. bf16 per task** (quick presets; bf16 is the default only for textgen, whose 20-minute benchmark ran in bf16)",
            "",
            *data_pipeline(),
        ]
    sections += [
        "",
        "**5. Inference**",
        "",
        *inference(args.repeats),
        "",
        "**6. bf16 on this CPU, 7. threads**",
        "",
        *precision_and_threads(args.repeats),
        "",
        f"The whole benchmark took {(time.perf_counter() - started) / 60:.1f} min.",
    ]
    text = "\n".join(sections)
    print(text)
    if args.write:
        replace_section("performance", text)


if __name__ == "__main__":
    main()
