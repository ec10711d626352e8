"""Does the default ``seqsuite run textgen --data FILE`` beat a Kneser-Ney 5-gram on any
English text of 0.5-5 MB, within its default budget? (issue 18)

    python bench/textgen_corpora.py [--corpora kjv,shakespeare,mr] [--write] [-- --set KEY=VALUE ...]
    python bench/textgen_corpora.py --levels char,word,bpe --corpora shakespeare --write

Each corpus is run once with the task's defaults (a fixed number of training steps, so the
result is the same on any machine) in a subprocess with one thread; wall time, CPU time and
the machine's load average are recorded beside the figures. Validation (development) and
test (held-out) parts are the task's own: the last 5 % and 5 % of the text, each beginning
at a line end. The Kneser-Ney figures are the task's baseline (test) and the same model
fitted on the same training tokens and scored on the validation part (computed here).

Corpora: ``kjv`` the King James Bible the task embeds (4.3 MB); ``shakespeare``
tiny-shakespeare (1.1 MB, ``../shared/data``); ``mr`` the 10,662 movie-review snippets of
Pang & Lee's sentence-polarity data (1.2 MB, ``../shared/data``; latin-1, converted to
UTF-8, positive and negative lines interleaved so that every part holds both): modern,
lower-cased, tokenised English, unlike the other two; ``pydoc`` the language reference
topics Python's ``help()`` shows (``pydoc_data.topics`` of the running interpreter, 0.47 MB
on Python 3.11): technical English with code, at the small end of the range.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from results_doc import replace_section  # noqa: E402

SHARED = Path(
    os.environ.get("SEQSUITE_SHARED_DATA")
    or next(
        (
            p / "shared" / "data"
            for p in Path(__file__).resolve().parents
            if (p / "shared").is_dir()
        ),
        Path("../shared/data"),
    )
)


def corpus_args(name: str, folder: Path) -> list[str]:
    """``seqsuite run`` arguments that select the corpus."""
    if name == "kjv":
        return ["--dataset", "kjv"]
    if name == "shakespeare":
        return ["--data", str(SHARED / "tinyshakespeare.txt")]
    if name == "mr":
        pos = (SHARED / "rt-polarity.pos").read_text(encoding="latin-1").rstrip("\n").split("\n")
        neg = (SHARED / "rt-polarity.neg").read_text(encoding="latin-1").rstrip("\n").split("\n")
        lines = [line for pair in zip(pos, neg, strict=True) for line in pair]
        path = folder / "mr.txt"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return ["--data", str(path)]
    if name == "pydoc":
        from pydoc_data.topics import topics

        path = folder / "pydoc.txt"
        text = "\n\n".join(topics[k] for k in sorted(topics))
        path.write_text(text + "\n", encoding="utf-8")
        return ["--data", str(path)]
    raise SystemExit(f"unknown corpus {name!r}")


def run(args: list[str], out: Path, cache: Path) -> tuple[dict, float, float]:
    """metrics.json, wall seconds and CPU seconds of one ``seqsuite run textgen``."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "SEQSUITE_CACHE": str(cache)}
    env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    command = [sys.executable, "-m", "seqsuite", "run", "textgen", "--quiet", "--out", str(out)]
    started = time.perf_counter()
    child = subprocess.Popen([*command, *args], env=env, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"run failed: {child.stderr.read().decode()[-800:]}")
    metrics = json.loads((out / "metrics.json").read_text())
    return metrics, wall, usage.ru_utime + usage.ru_stime


def kneser_ney_on_validation(run_dir: Path, cache: Path, spelling: float) -> dict[str, float]:
    """The baseline the run reports on test, fitted the same way, scored on validation;
    ``spelling``: the run's validation ``unk_spelling_nats_per_char`` (word level: the
    cost of spelling each ``<unk>``'s word, the same for every model of the same tokens)."""
    os.environ["SEQSUITE_CACHE"] = str(cache)
    import torch

    from seqsuite.assembly import load_context
    from seqsuite.token_lm import lm_metrics
    from seqsuite_tasks.textgen.ngram import KneserNey

    torch.set_num_threads(1)
    task, ctx, _ = load_context(run_dir, True)
    prepared = task.prepare(ctx)
    o = ctx.options
    train = prepared.train.read().tolist()
    if o.ngram_max_tokens:
        train = train[-o.ngram_max_tokens :]
    order = o.ngram_order or (5 if o.level == "char" else 3)
    kn = KneserNey(train, order, prepared.spec["vocab_size"])
    val = prepared.val.read().tolist()
    return lm_metrics(
        kn.nll(val[1:], train[-order:-1] + val[:1]),
        len(val) - 1,
        prepared.val.chars,
        o.level == "char",
        spelling * prepared.val.chars,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpora", default="kjv,shakespeare,mr")
    parser.add_argument("--levels", default="", help="compare levels (char,word,bpe) instead")
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--keep", default="", help="keep the run directories under this folder")
    parser.add_argument("sets", nargs="*", help="extra --set KEY=VALUE pairs")
    args = parser.parse_args()
    extra = [a for pair in args.sets for a in ("--set", pair)]
    load = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(args.keep or scratch)
        folder.mkdir(parents=True, exist_ok=True)
        cache = Path(scratch) / "cache"
        for name in args.corpora.split(","):
            for level in args.levels.split(",") if args.levels else [""]:
                level_args = ["--set", f"task.level='{level}'"] if level else []
                out = folder / f"{name}{'-' + level if level else ''}"
                metrics, wall, cpu = run(corpus_args(name, folder) + level_args + extra, out, cache)
                spelling = metrics["val"].get("unk_spelling_nats_per_char", 0.0)
                kn_val = kneser_ney_on_validation(out, cache, spelling)
                rows.append((name, level or "char", metrics, kn_val, wall, cpu))
                print(row_text(rows[-1]), flush=True)
    body = report(args, rows, load)
    print(body)
    if args.write:
        replace_section("textgen-levels" if args.levels else "textgen-corpora", body)


def row_text(row: tuple) -> str:
    name, level, metrics, kn_val, wall, cpu = row
    kn_name = next(k for k in metrics["baselines"] if k.startswith("kneser"))
    kn_test = metrics["baselines"][kn_name]
    val, test = metrics["val"], metrics["test"]
    better = "yes" if test["nats_per_char"] < kn_test["nats_per_char"] else "**no**"
    data = metrics["data"]
    return (
        f"| {name} | {level} | {data['chars'] / 1e6:.2f} M | {data['tokens']:,} | "
        f"{val['nats_per_char']:.3f} | {kn_val['nats_per_char']:.3f} | "
        f"**{test['nats_per_char']:.3f}** | {kn_test['nats_per_char']:.3f} | {better} | "
        f"{metrics['params']:,} | {metrics['stop_reason']} | {wall / 60:.1f} | {cpu / 60:.1f} |"
    )


def report(args: argparse.Namespace, rows: list, load: tuple) -> str:
    command = f"python bench/textgen_corpora.py --corpora {args.corpora}"
    if args.levels:
        command += f" --levels {args.levels}"
    command += (" " + " ".join(args.sets) if args.sets else "") + " --write"
    return "\n".join(
        [
            f"Command: `flock /work/bench.lock {command}`",
            "",
            f"Measured {date.today()}; load average before: {load[0]:.1f} / {load[1]:.1f} / "
            f"{load[2]:.1f} (1 / 5 / 15 min) on 2 shared CPU cores, one thread per run. "
            "Validation = development data (defaults were chosen on KJV's); test = held-out, "
            "looked at once. Nats per character of the text, so that levels compare.",
            "",
            "| corpus | level | chars | tokens | val: model | val: KN | test: model | test: KN "
            "| beats KN on test | params | stopped by | wall min | CPU min |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
            *[row_text(r) for r in rows],
        ]
    )


if __name__ == "__main__":
    main()
