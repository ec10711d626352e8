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


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hub answers at all (offline settings say no without asking)."""
    if os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("HF_DATASETS_OFFLINE") == "1":
        return False
    try:
        with socket.create_connection((HUB_HOST, 443), timeout=timeout):
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
