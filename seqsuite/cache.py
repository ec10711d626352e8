"""An on-disk cache for expensive preprocessing (synthesised audio, features, parsed
scores), keyed by everything the result depends on.

    features = cache.load_or_compute("mfcc", {"file": ..., "mtime": ..., "n_mfcc": 20}, compute)

The key is hashed (SHA-256 of its JSON) into a file name; a changed setting is a new key,
so stale entries are never read. Entries are written atomically and read with
``torch.load(weights_only=True)``: tensors, numbers, strings, lists and dicts only.
``SEQSUITE_CACHE`` moves the cache (default ``$XDG_CACHE_HOME/seqsuite``, else
``~/.cache/seqsuite``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import checkpoint


def cache_dir() -> Path:
    """``SEQSUITE_CACHE``, else ``$XDG_CACHE_HOME/seqsuite``, else ``~/.cache/seqsuite``."""
    if os.environ.get("SEQSUITE_CACHE"):
        return Path(os.environ["SEQSUITE_CACHE"])
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "seqsuite"


def key_hash(key: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:32]


def path_for(kind: str, key: dict[str, Any]) -> Path:
    return cache_dir() / kind / f"{key_hash(key)}.pt"


def load_or_compute(kind: str, key: dict[str, Any], compute: Callable[[], Any]) -> tuple[Any, bool]:
    """The cached value for ``key``, or ``compute()`` stored under it. Returns the value
    and whether it came from the cache. An unreadable entry is recomputed."""
    path = path_for(kind, key)
    if path.exists():
        try:
            return checkpoint.load(path)["value"], True
        except Exception:  # noqa: BLE001 - a torn or foreign file is just recomputed
            pass
    value = compute()
    # the key as one string: a listing of thousands of files unpickles in no time
    checkpoint.save(path, {"key": json.dumps(key, sort_keys=True, default=str), "value": value})
    return value, False


def building_folder(final: Path) -> Path:
    """A fresh sibling of the entry ``final`` to build it in (see :func:`publish`)."""
    return final.with_name(f"{final.name}.{uuid.uuid4().hex[:8]}.tmp")


def publish(building: Path, final: Path) -> None:
    """Rename a finished build into place, so that no reader ever sees half an entry; if
    another process finished the same entry first, theirs is kept and this one removed."""
    try:
        os.rename(building, final)
    except OSError:
        shutil.rmtree(building, ignore_errors=True)
