"""In-memory data for tasks: DataFrames and Hugging Face data sets as one :class:`Table`.

``seqsuite.fit(task, data)`` and ``--dataset`` with a Hugging Face data set both end here:
the data becomes a :class:`Table` (its own splits kept, ``ClassLabel`` integers replaced by
the class names, ``Audio`` columns left undecoded as ``{"bytes", "path"}``), and the task's
:meth:`~seqsuite.task.Task.write_data` writes it in its own file format; ``prepare`` then
reads those files as it reads the user's own. Objects that are not tables (a list of
texts, of waveforms, of scores) go to the task as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import UserError
from .task import Context, DataFiles, Task

#: a data set's own split names -> seqsuite's
SPLIT_NAMES = {
    "train": "train",
    "training": "train",
    "validation": "val",
    "valid": "val",
    "val": "val",
    "dev": "val",
    "test": "test",
    "testing": "test",
}
ORDER = ("train", "val", "test")


@dataclass
class Table:
    """Tabular data: split -> frame. Keys are ``train``/``val``/``test`` when the data has
    its own splits, else the one key ``all``."""

    splits: dict[str, pd.DataFrame]
    name: str = "data"
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def has_splits(self) -> bool:
        return "all" not in self.splits

    def parts(self) -> list[tuple[str, pd.DataFrame]]:
        """(split, frame) in the order train, val, test (or the one ``all``)."""
        if not self.has_splits:
            return [("all", self.splits["all"])]
        return [(s, self.splits[s]) for s in ORDER if s in self.splits]

    def concat(self, split_column: str | None = None) -> pd.DataFrame:
        """All rows in split order; with ``split_column``, a column naming each row's split
        (only when the data has its own splits)."""
        frames = []
        for split, frame in self.parts():
            frame = frame.reset_index(drop=True)
            if split_column and self.has_splits:
                frame = frame.assign(**{split_column: split})
            frames.append(frame)
        return pd.concat(frames, ignore_index=True)

    def sizes(self) -> dict[str, int]:
        return {split: len(frame) for split, frame in self.parts()}

    def column(self, wanted: str, fallback: list[str], what: str, option: str) -> str:
        """The column named ``wanted`` (the task's ``task.*_column`` option), else the first
        of ``fallback`` present; otherwise one line naming the option and the columns."""
        columns = list(self.parts()[0][1].columns)
        for name in [wanted, *fallback]:
            if name and name in columns:
                return name
        raise UserError(
            f"{self.name}: no {what} column {wanted!r} (columns: {', '.join(map(str, columns))}); "
            f"set {option}"
        )


def is_hf(obj: Any) -> bool:
    return type(obj).__module__.startswith("datasets.")


def as_table(obj: Any, max_rows: int, name: str = "data") -> Table | None:
    """A DataFrame or a Hugging Face data set as a :class:`Table`; None for other objects."""
    if isinstance(obj, pd.DataFrame):
        check_rows(len(obj), max_rows, name)
        return Table({"all": obj}, name)
    if is_hf(obj):
        return from_hf(obj, max_rows, name)
    return None


def check_rows(rows: int, max_rows: int, name: str) -> None:
    if rows > max_rows:
        raise UserError(
            f"{name}: {rows:,} rows is more than data.max_rows ({max_rows:,}); raise it with "
            "--set data.max_rows=N, or read a part with --set data.streaming=true"
        )


def _split_name(name: str) -> str | None:
    return SPLIT_NAMES.get(str(name).lower())


def from_hf(obj: Any, max_rows: int, name: str) -> Table:
    """A ``Dataset``, ``DatasetDict``, ``IterableDataset`` or ``IterableDatasetDict`` as a
    :class:`Table`. ``max_rows`` bounds the rows of all splits together, as it bounds the
    rows of a file (the task reads the written data within the same limit): a streamed data
    set is read up to an equal share of it per split; a downloaded one larger than that is
    refused (it would all be held in memory)."""
    if hasattr(obj, "keys") and not hasattr(obj, "features"):  # a dict of splits
        own = {key: _split_name(key) for key in obj.keys()}
        known = {key: split for key, split in own.items() if split}
        if not known:
            if len(own) != 1:
                raise UserError(
                    f"{name}: splits {sorted(own)}: none is train / validation / test; "
                    "choose one, e.g. owner/name@main with a train split"
                )
            known = {next(iter(own)): "all"}
        if not any(_streamed(obj[key]) for key in known):
            check_rows(sum(len(obj[key]) for key in known), max_rows, name)
        share = max(1, max_rows // len(known))
        splits = {split: split_frame(obj[key], share, name) for key, split in known.items()}
        ignored = sorted(set(own) - set(known))
        table = Table(splits, name, {"splits": sorted(splits), "ignored_splits": ignored})
    else:
        table = Table({"all": split_frame(obj, max_rows, name)}, name)
    if set(table.splits) in ({"val"}, {"test"}, {"val", "test"}):
        raise UserError(f"{name}: has no train split (splits: {', '.join(table.splits)})")
    if table.has_splits and "train" in table.splits and len(table.splits) == 1:
        table = Table({"all": table.splits["train"]}, name, table.info)
    table.info["rows"] = table.sizes()
    return table


def _streamed(data: Any) -> bool:
    import datasets

    return isinstance(data, datasets.IterableDataset)


def split_frame(data: Any, max_rows: int, name: str) -> pd.DataFrame:
    """One split as a DataFrame: class names for ``ClassLabel`` columns, undecoded audio."""
    import datasets

    features = getattr(data, "features", None) or {}
    for column, feature in features.items():
        if isinstance(feature, datasets.Audio):
            data = data.cast_column(column, datasets.Audio(decode=False))
    if _streamed(data):
        frame = pd.DataFrame(list(data.take(max_rows)))
    else:
        check_rows(len(data), max_rows, name)
        frame = data.to_pandas()
    for column, feature in features.items():
        if isinstance(feature, datasets.ClassLabel) and column in frame:
            frame[column] = [
                feature.int2str(int(v)) if v is not None and int(v) >= 0 else None
                for v in frame[column]
            ]
    return frame


def materialise(task: Task, ctx: Context, data: Any, folder: Path, name: str = "data") -> DataFiles:
    """``data`` written by the task into ``folder`` in its own format (see
    :meth:`~seqsuite.task.Task.write_data`)."""
    folder.mkdir(parents=True, exist_ok=True)
    table = as_table(data, ctx.config.data.max_rows, name)
    files = task.write_data(ctx, table if table is not None else data, folder)
    if not Path(files.path).exists():
        raise RuntimeError(f"task {task.name!r}: write_data() named {files.path}, which is missing")
    return files
