"""Hugging Face Hub data sets by name, for machines that are online.

Offline (``HF_HUB_OFFLINE=1``, or no network) the error says so in one line within a few
seconds: whether the Hub answers is checked first (one connection, 3 s), and without it
only the local cache is looked at, so no retries run and no log lines reach the terminal.
The embedded defaults never come through here.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from .errors import UserError

HUB_HOST = "huggingface.co"


def hub_address() -> tuple[str, int]:
    """Host and port of the Hub: ``HF_ENDPOINT`` (a mirror) or huggingface.co."""
    from urllib.parse import urlparse

    endpoint = urlparse(os.environ.get("HF_ENDPOINT") or f"https://{HUB_HOST}")
    return endpoint.hostname or HUB_HOST, endpoint.port or (
        80 if endpoint.scheme == "http" else 443
    )


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hub answers at all (offline settings say no without asking)."""
    if os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("HF_DATASETS_OFFLINE") == "1":
        return False
    try:
        with socket.create_connection(hub_address(), timeout=timeout):
            return True
    except OSError:
        return False


def quiet_offline_mode() -> None:
    """Make the Hub libraries read only their local cache, and keep their logs quiet."""
    import logging

    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["HF_DATASETS_OFFLINE"] = "1"
    for name in ("huggingface_hub", "datasets", "fsspec"):
        logging.getLogger(name).setLevel(logging.ERROR)


def load_hub_frame(name: str, split: str = "train") -> Any:
    """A pandas data frame of one split of Hub data set ``name`` (``owner/name``)."""
    online = hub_reachable()
    if not online:
        quiet_offline_mode()
    try:
        import datasets

        data = datasets.load_dataset(name, split=split)
    except Exception as err:  # noqa: BLE001 - network, missing data set, offline mode
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        where = "from the Hugging Face Hub" if online else "offline (the Hub cannot be reached)"
        raise UserError(
            f"--dataset {name}: could not load it {where}: {first[:160]}; "
            "use --data with a local file or an embedded data set"
        ) from None
    return data.to_pandas()


# -- Hugging Face data sets as tables (``--dataset owner/name[:config][@revision]``) -------


def is_saved_dataset(path: str | os.PathLike) -> bool:
    """A folder written by ``Dataset.save_to_disk`` / ``DatasetDict.save_to_disk``."""
    from pathlib import Path

    folder = Path(path)
    return folder.is_dir() and any(
        (folder / name).is_file() for name in ("dataset_dict.json", "state.json")
    )


def is_dataset_ref(text: str) -> bool:
    """``--dataset`` names a Hugging Face data set: a saved folder, or ``owner/name``."""
    if not text:
        return False
    return is_saved_dataset(text) or ("/" in text and not os.path.exists(text))


def parse_ref(text: str) -> tuple[str, str | None, str | None]:
    """``owner/name[:config][@revision]`` -> (name, config, revision)."""
    rest, _, revision = text.partition("@")
    name, _, config = rest.partition(":")
    if not name or name.count("/") != 1 or not all(name.split("/")):
        raise UserError(f"--dataset {text}: expected owner/name[:config][@revision]")
    return name, config or None, revision or None


def load_table(text: str, max_rows: int, streaming: bool = False) -> Any:
    """A Hugging Face data set (every split it has) as a :class:`seqsuite.memory.Table`."""
    import datasets

    from .memory import from_hf

    if is_saved_dataset(text):
        data = _local(text, streaming)
        name = os.path.basename(os.path.normpath(text))
    else:
        data = _remote(text, streaming)
        name = text
    table = from_hf(data, max_rows, name)
    table.info["streaming"] = bool(streaming)
    table.info["datasets"] = datasets.__version__
    return table


def _local(path: str, streaming: bool) -> Any:
    """A saved data set; with ``streaming`` its Arrow files are iterated, not loaded."""
    import glob
    import json

    import datasets

    if not streaming:
        return datasets.load_from_disk(path)
    if os.path.isfile(os.path.join(path, "dataset_dict.json")):
        with open(os.path.join(path, "dataset_dict.json"), encoding="utf-8") as handle:
            splits = json.load(handle).get("splits", [])
        files = {s: sorted(glob.glob(os.path.join(path, s, "*.arrow"))) for s in splits}
    else:
        files = {"train": sorted(glob.glob(os.path.join(path, "*.arrow")))}
    features = _saved_features(path, next(iter(files)))
    return datasets.load_dataset("arrow", data_files=files, streaming=True, features=features)


def _saved_features(path: str, split: str) -> Any:
    """The features (ClassLabel names, Audio) recorded beside the saved Arrow files."""
    import datasets

    for folder in (os.path.join(path, split), path):
        info = os.path.join(folder, "dataset_info.json")
        if os.path.isfile(info):
            return datasets.DatasetInfo.from_directory(folder).features
    return None


def _remote(text: str, streaming: bool) -> Any:
    if text.startswith((".", "/", "~")):  # a path, not owner/name: say what is wrong with it
        what = "not a folder saved with save_to_disk" if os.path.exists(text) else "not found"
        raise UserError(f"--dataset {text}: {what}")
    name, config, revision = parse_ref(text)
    online = hub_reachable()
    if not online:
        raise UserError(
            f"--dataset {text}: the Hugging Face Hub cannot be reached (offline); give a folder "
            "saved with save_to_disk, or --data with a local file"
        )
    import datasets

    try:
        return datasets.load_dataset(name, config, revision=revision, streaming=streaming)
    except Exception as err:  # noqa: BLE001 - network, missing data set, bad config
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(
            f"--dataset {text}: could not load it from the Hub: {first[:200]}"
        ) from None
