"""``seqsuite doctor``: the environment in one screen, to paste into a bug report.

Versions of seqsuite, Python and the libraries it rests on; the CPUs this process may
use and the threads seqsuite would choose; the cache's place and size; the device; which
task plugins load; which optional extras are installed.
"""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

LIBRARIES = (
    "torch",
    "torchaudio",
    "numpy",
    "pandas",
    "scipy",
    "datasets",
    "statsmodels",
    "music21",
    "tokenizers",
    "safetensors",
    "huggingface_hub",
)
EXTRAS = {
    "export": ("onnx", "onnxruntime", "onnxscript"),
    "tracking": ("tensorboard", "mlflow-skinny"),
    "serve": ("fastapi", "uvicorn"),
}


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _folder_size(path: os.PathLike) -> tuple[int, int]:
    """(files, bytes) under ``path``; links are not followed."""
    files = size = 0
    for root, _, names in os.walk(path):
        for name in names:
            try:
                size += os.lstat(os.path.join(root, name)).st_size
                files += 1
            except OSError:
                continue
    return files, size


def environment() -> dict[str, Any]:
    """Versions, threads and device: what a run's report shows. Imports no plugin and
    walks no folder, so a broken third-party plugin or a large cache cannot touch a run."""
    import torch

    from . import __version__, threads

    cuda = torch.cuda.is_available()
    return {
        "seqsuite": __version__,
        "python": sys.version.split()[0],
        "executable": sys.executable,
        "platform": platform.platform(),
        "libraries": {name: _version(name) for name in LIBRARIES},
        "threads": {
            "cpus_available": threads.available_cpus(),
            "cpus_machine": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
            "small_model": threads.wanted_for(0, threads.available_cpus()),
            "large_model": threads.wanted_for(float("inf"), threads.available_cpus()),
        },
        "device": {
            "cuda": cuda,
            "name": torch.cuda.get_device_name(0) if cuda else platform.processor() or "cpu",
        },
    }


def collect() -> dict[str, Any]:
    """Everything ``seqsuite doctor`` shows: :func:`environment`, the cache, the offline
    switches, the installed plugins (each imported, under a time limit) and the extras."""
    from .cache import cache_dir
    from .registry import discover

    cache = cache_dir()
    files, size = _folder_size(cache) if cache.is_dir() else (0, 0)
    return {
        **environment(),
        "cache": {"path": str(cache), "files": files, "megabytes": round(size / 2**20, 1)},
        "offline": {
            k: os.environ.get(k)
            for k in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "SEQSUITE_CACHE")
        },
        "plugins": [info.as_json() for info in discover()],
        "extras": {
            extra: {name: _version(name) for name in names} for extra, names in EXTRAS.items()
        },
    }


def show(console: Console, report: dict[str, Any]) -> None:
    table = Table(title="seqsuite doctor", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value", overflow="fold")
    table.add_row("seqsuite", report["seqsuite"])
    table.add_row("python", f"{report['python']} ({report['executable']})")
    table.add_row("platform", report["platform"])
    libraries = ", ".join(f"{k} {v or 'missing'}" for k, v in report["libraries"].items())
    table.add_row("libraries", libraries)
    t = report["threads"]
    table.add_row(
        "threads",
        f"{t['cpus_available']} CPUs usable of {t['cpus_machine']}; torch now {t['torch_threads']}; "
        f"OMP_NUM_THREADS={t['OMP_NUM_THREADS'] or 'unset'}; seqsuite picks {t['small_model']} "
        f"for small models, {t['large_model']} for large",
    )
    c = report["cache"]
    table.add_row("cache", f"{c['path']} ({c['files']} files, {c['megabytes']} MB)")
    d = report["device"]
    table.add_row("device", f"{'cuda: ' if d['cuda'] else 'cpu: '}{d['name']}")
    table.add_row(
        "environment", ", ".join(f"{k}={v or 'unset'}" for k, v in report["offline"].items())
    )
    plugins = ", ".join(
        f"{p['name']} ({'ok' if p['ok'] else 'error: ' + p['error']})" for p in report["plugins"]
    )
    table.add_row("tasks", plugins or "none")
    for extra, names in report["extras"].items():
        installed = all(names.values())
        detail = ", ".join(f"{k} {v or 'missing'}" for k, v in names.items())
        table.add_row(
            escape(f"seqsuite[{extra}]"),  # not a rich style tag
            f"{'installed' if installed else 'not installed'}: {detail}",
        )
    console.print(table)
