"""The user's recordings: a folder per label, or a CSV manifest.

Folder layout (Speech Commands): ``DATA/<label>/*.wav``; folders whose name starts with
``_`` (``_background_noise_``) are not labels. ``validation_list.txt`` and
``testing_list.txt`` in ``DATA`` (paths like ``yes/0a7c2a8d_nohash_0.wav``) choose the
validation and test files; without them the split is stratified and seeded.

Manifest: a CSV with ``path,label[,split][,speaker]``; paths are relative to the manifest,
split values are ``train``, ``val`` or ``test``; ``speaker`` says who spoke (Speech
Commands file names, ``<speaker>_nohash_<n>.wav``, say it in the folder layout). With ``--set data.confine=true`` no path (or
link) may lead outside the data's folder. Either lists at most ``data.max_files`` files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from seqsuite.confine import resolve_listed
from seqsuite.errors import UserError

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".aiff", ".aif"}


@dataclass
class Recording:
    path: Path
    label: str
    split: str | None  # train / val / test when the data says so
    speaker: str | None = None  # who spoke, when the data says so


#: Speech Commands names its files <speaker>_nohash_<take>.wav
NOHASH = re.compile(r"^(.+)_nohash_\d+$")


def speaker_of(path: Path) -> str | None:
    """The speaker a Speech Commands file name gives (``0a7c2a8d_nohash_0.wav``), or None."""
    found = NOHASH.match(path.stem)
    return found.group(1) if found else None


def _read_list(root: Path, name: str, labels: set[str]) -> set[str]:
    path = root / name
    if not path.exists():
        return set()
    entries = set()
    for number, line in enumerate(
        path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1
    ):
        entry = line.strip()
        if not entry:
            continue
        label = entry.split("/")[0]
        if label not in labels:
            raise UserError(
                f"{path}, line {number}: {entry!r} names label {label!r}, which has no folder in {root}"
            )
        entries.add(entry)
    return entries


def too_many(where: Path, limit: int) -> UserError:
    return UserError(
        f"{where}: lists more than data.max_files={limit:,} audio files "
        "(raise it with --set data.max_files=N)"
    )


def from_folders(root: Path, confine: bool = False, max_files: int = 1_000_000) -> list[Recording]:
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))
    if not folders:
        raise UserError(f"{root}: no label folders (expected DATA/<label>/*.wav)")
    labels = {p.name for p in folders}
    validation = _read_list(root, "validation_list.txt", labels)
    testing = _read_list(root, "testing_list.txt", labels)
    recordings = []
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.suffix.lower() not in AUDIO_SUFFIXES or path.is_dir():
                continue  # FIFOs, devices and dangling links stay: the reader says why
            key = path.relative_to(root).as_posix()
            path = resolve_listed(root, key, confine=confine, where=f"{root}: {folder.name}")
            split = (
                "test"
                if key in testing
                else "val"
                if key in validation
                else ("train" if testing or validation else None)
            )
            recordings.append(Recording(path, folder.name, split, speaker_of(path)))
            if len(recordings) > max_files:
                raise too_many(root, max_files)
    if not recordings:
        raise UserError(
            f"{root}: the label folders hold no audio files ({', '.join(sorted(AUDIO_SUFFIXES))})"
        )
    return recordings


def from_manifest(
    manifest: Path, confine: bool = False, max_files: int = 1_000_000
) -> list[Recording]:
    from seqsuite.classify import label_text
    from seqsuite.table_files import find_column, read_table

    frame = read_table(manifest, as_text=True)
    if len(frame) > max_files:
        raise too_many(manifest, max_files)
    path_col = find_column(frame, "path", manifest, "path", "the manifest's path column")
    label_col = find_column(frame, "label", manifest, "label", "the manifest's label column")
    splits = frame["split"].tolist() if "split" in frame.columns else [None] * len(frame)
    speakers = frame["speaker"].tolist() if "speaker" in frame.columns else [None] * len(frame)
    recordings = []
    rows = zip(frame[path_col].tolist(), frame[label_col].tolist(), splits, speakers, strict=True)
    for row, (path, label, given, speaker) in enumerate(rows):
        label = label_text(label, f"{manifest}: data row {row + 1}")
        if pd.isna(path) or label is None:
            what = "path" if pd.isna(path) else "label"
            raise UserError(f"{manifest}: data row {row + 1}: missing {what}")
        split = None
        if given is not None and not pd.isna(given):
            split = str(given).strip().lower()
            split = "val" if split == "validation" else split
            if split not in ("train", "val", "test"):
                raise UserError(
                    f"{manifest}: data row {row + 1}: split {split!r}; expected train, val or test"
                )
        where = f"{manifest}: data row {row + 1}"
        resolved = resolve_listed(manifest.parent, str(path), confine=confine, where=where)
        who = None if speaker is None or pd.isna(speaker) else str(speaker).strip() or None
        recordings.append(Recording(resolved, label, split, who))
    if not recordings:
        raise UserError(f"{manifest}: no rows")
    return recordings


def load(path: str | Path, confine: bool = False, max_files: int = 1_000_000) -> list[Recording]:
    """The recordings a folder or manifest names; ``confine``: see :mod:`seqsuite.confine`."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: not found")
    if path.is_dir():
        return from_folders(path, confine, max_files)
    return from_manifest(path, confine, max_files)
