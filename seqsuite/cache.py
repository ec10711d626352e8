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

import glob
import hashlib
import json
import os
import shutil
import socket
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
    """A fresh sibling of the entry ``final`` to build it in (see :func:`publish`), named
    by this machine and process: builds of the same entry that a process of this machine
    left when it was killed (``kill -9`` while tokenising) are removed first, so they do
    not pile up in the cache. Another machine's (a cache on a shared disk) are left."""
    remove_orphaned_builds(final)
    owner = f"{_host()}-{os.getpid()}"
    return final.with_name(f"{final.name}.{owner}.{uuid.uuid4().hex[:8]}.tmp")


def remove_orphaned_builds(final: Path) -> None:
    """Remove the builds of ``final`` whose process, on this machine, has ended."""
    host = _host()
    for leftover in final.parent.glob(f"{glob.escape(final.name)}.*.tmp"):
        owner = leftover.name[len(final.name) + 1 :].split(".")[0]
        machine, _, pid = owner.rpartition("-")
        if machine == host and pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(leftover, ignore_errors=True)


def _host() -> str:
    return socket.gethostname().replace(".", "_")  # the name's parts are split on dots


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def publish(building: Path, final: Path) -> None:
    """Rename a finished build into place, so that no reader ever sees half an entry; if
    another process finished the same entry first, theirs is kept and this one removed."""
    try:
        os.rename(building, final)
    except OSError:
        shutil.rmtree(building, ignore_errors=True)
