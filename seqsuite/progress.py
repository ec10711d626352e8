"""Progress display for training: a rich progress bar on a terminal, nothing otherwise.

Shows epoch, batches, running loss, throughput and the backbone's achieved GFLOP/s,
and one line per finished epoch with the validation metric.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class Progress(Protocol):
    """What the trainer tells a display: an epoch of ``steps`` batches starts, a step is
    done (a few times a second, with the running loss), a round ends with its history
    ``record`` (``key`` names the metric early stopping follows), training is over."""

    def start_epoch(self, epoch: int, epochs: int, steps: int) -> None: ...

    def update(self, step: int, info: dict[str, float]) -> None: ...

    def end_epoch(self, record: dict[str, Any], key: str) -> None: ...

    def close(self) -> None: ...


class NullProgress:
    """Silent: used with ``--quiet`` and when stderr is not a terminal."""

    def start_epoch(self, epoch: int, epochs: int, steps: int) -> None: ...

    def update(self, step: int, info: dict[str, float]) -> None: ...

    def end_epoch(self, record: dict[str, Any], key: str) -> None: ...

    def close(self) -> None: ...


class BarProgress(NullProgress):
    """A rich progress bar per epoch on stderr."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.console = Console(stderr=True)
        self.bar = Progress(
            TextColumn("[bold]epoch {task.fields[epoch]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[info]}"),
            console=self.console,
            transient=True,
        )
        self.task = None
        self.started = False
        self.epochs = 0

    def start_epoch(self, epoch: int, epochs: int, steps: int) -> None:
        if not self.started:
            self.bar.start()
            self.started = True
        self.epochs = epochs
        label = f"{epoch}/{epochs}"
        if self.task is None:
            self.task = self.bar.add_task("train", total=steps, epoch=label, info="")
        else:
            self.bar.reset(self.task, total=steps, epoch=label, info="")

    def update(self, step: int, info: dict[str, float]) -> None:
        self.bar.update(self.task, completed=step, info=f"loss {info['loss']:.4g}")

    def end_epoch(self, record: dict[str, Any], key: str) -> None:
        """A line for the first and the last epoch and every tenth of the run."""
        epoch = int(record["epoch"])
        if not (epoch == 1 or epoch % max(1, self.epochs // 10) == 0 or record.get("stop_reason")):
            return
        parts = [f"epoch {int(record['epoch'])}", f"loss {record['train_loss']:.4g}"]
        if key != "train_loss":
            parts.append(f"{key} {record[key]:.4g}")
        parts.append(f"{record['samples_per_s']:.0f} samples/s")
        if record.get("gflops"):
            parts.append(f"{record['gflops']:.2f} GFLOP/s")
        self.bar.console.print("  ".join(parts), highlight=False)

    def close(self) -> None:
        if self.started:
            self.bar.stop()
            self.started = False


def track(items: list[Any], label: str, quiet: bool) -> Iterable[Any]:
    """``items`` one by one, with a bar on stderr while a person watches: long work that is
    not training (a backtest refits its baselines at every origin)."""
    if quiet or not sys.stderr.isatty():
        return items
    from rich.console import Console
    from rich.progress import track as rich_track

    return rich_track(items, description=label, console=Console(stderr=True), transient=True)


def make_progress(quiet: bool) -> Progress:
    """A bar when a person is watching (stderr is a terminal and not ``--quiet``)."""
    if quiet or not sys.stderr.isatty():
        return NullProgress()
    return BarProgress()
