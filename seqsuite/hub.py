"""Hugging Face Hub data sets by name, for machines that are online.

Offline (``HF_HUB_OFFLINE=1``, or no network) the error says so in one line; the
embedded defaults never come through here.
"""

from __future__ import annotations

from typing import Any

from .errors import UserError


def load_hub_frame(name: str, split: str = "train") -> Any:
    """A pandas data frame of one split of Hub data set ``name`` (``owner/name``)."""
    try:
        import datasets

        data = datasets.load_dataset(name, split=split)
    except Exception as err:  # noqa: BLE001 - network, missing data set, offline mode
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(
            f"--dataset {name}: could not load it from the Hugging Face Hub ({first}); "
            "offline, use --data with a local file or an embedded data set"
        ) from None
    return data.to_pandas()
