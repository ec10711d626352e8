"""PyTorch's thread count as it was before any user code changed it.

seqsuite respects a ``torch.set_num_threads`` call of the user's, and tells it from
PyTorch's default by comparing with the count PyTorch started with. ``import seqsuite``
does not import PyTorch (the command's first seconds stay free of it), so that count is
taken here: at once when PyTorch is already imported (a call made before ``import
seqsuite`` cannot be told from the default), or the moment PyTorch's own import
finishes, before any code of the user's runs. Nothing here imports PyTorch.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from typing import Any

_COUNT: list[int] = []  # the count, once known


def watch() -> None:
    """Take the count now, or when PyTorch is imported (called by ``import seqsuite``)."""
    torch = sys.modules.get("torch")
    if torch is not None and hasattr(torch, "get_num_threads"):
        _COUNT[:] = [torch.get_num_threads()]
    elif not any(isinstance(finder, _TorchImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _TorchImport())


def count() -> int | None:
    """PyTorch's starting thread count, or None when it was never seen."""
    return _COUNT[0] if _COUNT else None


class _TorchImport(importlib.abc.MetaPathFinder):
    """Finds ``torch`` as the other finders do, with a loader that notes the count."""

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name != "torch":
            return None
        sys.meta_path.remove(self)  # once: the rest of the import goes on as usual
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _CountingLoader(spec.loader)
        return spec


class _CountingLoader(importlib.abc.Loader):
    """PyTorch's own loader; after it has run PyTorch's ``__init__``, the count is read."""

    def __init__(self, loader: Any):
        self.loader = loader

    def create_module(self, spec: Any) -> Any:
        return self.loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self.loader.exec_module(module)
        _COUNT[:] = [module.get_num_threads()]

    def __getattr__(self, name: str) -> Any:  # resources, source, file name: the original's
        return getattr(self.loader, name)
