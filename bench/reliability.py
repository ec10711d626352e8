"""Reliability figures for docs/results.md: the bad-input corpus and kill/resume cycles.

    python bench/reliability.py [--runs 5] [--kills 4] [--write]

Runs the bad-input tests (each case: exit code 2, one line, no traceback, no finished run
left behind) and counts what passed; then, ``--runs`` times, starts a training run,
SIGKILLs it ``--kills`` times at random moments (start-up, training, checkpoint writes),
resumes it each time and compares its final metrics with an uninterrupted run's.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))
from results_doc import replace_section  # noqa: E402

from tests.test_reliability import kill_and_resume  # noqa: E402


def bad_inputs() -> tuple[int, int]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/test_bad_inputs.py",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    tail = done.stdout.strip().splitlines()[-1]
    passed = int(re.search(r"(\d+) passed", tail).group(1)) if "passed" in tail else 0
    failed = int(re.search(r"(\d+) failed", tail).group(1)) if "failed" in tail else 0
    return passed, failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--kills", type=int, default=4)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()

    passed, failed = bad_inputs()
    cycles = same = 0
    with tempfile.TemporaryDirectory() as root:
        for seed in range(args.runs):
            folder = Path(root) / str(seed)
            folder.mkdir()
            result, killed = kill_and_resume(folder, kills=args.kills, seed=seed)
            cycles += killed
            same += result["resumed"] == result["straight"]
            print(
                f"run {seed}: killed {killed} times, same metrics: {result['resumed'] == result['straight']}"
            )
    text = "\n".join(
        [
            f"Command: `python bench/reliability.py --runs {args.runs} --kills {args.kills} --write`",
            "",
            "| check | tried | passed |",
            "|---|---|---|",
            f"| bad-input tests (`tests/test_bad_inputs.py`, one CLI run each: malformed files for every task's `--data` formats, bad configs and options): exit code 2, one line naming the file or field, no traceback, no finished-looking run left | {passed + failed} | {passed} |",
            f"| SIGKILL at a random moment, then `seqsuite resume` (training runs killed {args.kills} times each) | {cycles} kills in {args.runs} runs | {same} of {args.runs} runs ended with `metrics.json` equal (timings aside) to an uninterrupted run's |",
        ]
    )
    print(text)
    if args.write:
        replace_section("reliability", text)


if __name__ == "__main__":
    main()
