"""The cross-task table in docs/results.md: one `seqsuite compare` run, pasted as it printed.

    python bench/compare.py [--quick] [--sweep KEY=A,B] [--write]

Runs ``seqsuite compare forecast textgen sentiment speech music`` (the default preset
unless ``--quick``) into a temporary folder, then writes its ``compare.md`` into the
``compare`` (or ``compare-quick``) section of docs/results.md and its figure into docs/.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from results_doc import RESULTS, replace_section  # noqa: E402

TASKS = ["forecast", "textgen", "sentiment", "speech", "music"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--sweep", default="")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    flags = (["--quick"] if args.quick else []) + (["--sweep", args.sweep] if args.sweep else [])
    name = "compare-quick" if args.quick else "compare"
    with tempfile.TemporaryDirectory() as root:
        out = Path(root) / "compare"
        command = [sys.executable, "-m", "seqsuite", "compare", *TASKS, *flags, "--out", str(out)]
        started = time.perf_counter()
        done = subprocess.run(command, env=env, check=False)
        minutes = (time.perf_counter() - started) / 60
        table = (out / "compare.md").read_text(encoding="utf-8")
        # the table names the command with its temporary folder; say what to type instead
        shown = f"seqsuite compare {' '.join(TASKS + flags)}"
        body = "\n".join(
            [
                f"Command: `python bench/compare.py{' --quick' if args.quick else ''}"
                f"{f' --sweep {args.sweep}' if args.sweep else ''} --write`, which runs `{shown}` "
                f"({minutes:.0f} min on 2 CPU cores, exit code {done.returncode}).",
                "",
                *table.splitlines()[2:],
                "",
                f"![improvement over the best baseline, and cost](./{name}.png)",
            ]
        )
        print(body)
        if args.write:
            shutil.copyfile(out / "plots" / "compare.png", RESULTS.parent / f"{name}.png")
            replace_section(name, body)


if __name__ == "__main__":
    main()
