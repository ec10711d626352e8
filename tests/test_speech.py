"""The speech task: audio reading, features, the cache, both data layouts, predictions,
bad files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile
import torch

from seqsuite import cache
from seqsuite_tasks.speech.audio import BadAudio, read_audio, resample
from seqsuite_tasks.speech.features import FeatureExtractor, FeatureSettings, normalise
from seqsuite_tasks.speech.synth import Espeak, augment
from seqsuite_tasks.speech.task import SpecAugmentInput

WORDS = ("yes", "no", "up")
SMALL = [
    "--epochs",
    "1",
    "--set",
    "backbone.hidden_size=8",
    "--set",
    "backbone.num_layers=1",
    "--set",
    "train.batch_size=8",
]
VOICES = [
    "en+m1",
    "en-us+f2",
    "en-gb-scotland+m3",
    "en+f4",
    "en-029+m5",
    "en-us+m7",
    "en+f1",
    "en-gb-x-rp+m2",
]


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQSUITE_CACHE", str(tmp_path / "cache"))


def spoken(word: str, voice: str, rate: int = 8000) -> np.ndarray:
    engine = Espeak.get()
    audio = engine.say(word, voice, rate=160, pitch=50, pitch_range=50)
    return resample(audio, engine.sample_rate, rate)


def folder_dataset(root: Path, with_lists: bool = True) -> Path:
    for word in WORDS:
        (root / word).mkdir(parents=True)
        for k, voice in enumerate(VOICES):
            soundfile.write(
                root / word / f"{voice.replace('+', '_')}_{k}.wav", spoken(word, voice), 8000
            )
    (root / "_background_noise_").mkdir()
    if with_lists:
        (root / "testing_list.txt").write_text(
            "".join(f"{w}/{VOICES[0].replace('+', '_')}_0.wav\n" for w in WORDS)
        )
        (root / "validation_list.txt").write_text(
            "".join(f"{w}/{VOICES[1].replace('+', '_')}_1.wav\n" for w in WORDS)
        )
    return root


def test_resampling_keeps_the_pitch_of_a_tone():
    t = np.arange(8000) / 8000
    tone = np.sin(2 * np.pi * 440 * t).astype(np.float32)
    up = resample(tone, 8000, 16000)
    assert len(up) == 16000
    assert abs(np.argmax(np.abs(np.fft.rfft(up))) * 16000 / len(up) - 440) < 2


def test_reading_any_rate_and_channels_gives_mono_at_the_target_rate(tmp_path):
    stereo = np.stack([np.sin(np.arange(44100) / 10), np.zeros(44100)], axis=1).astype(np.float32)
    soundfile.write(tmp_path / "s.wav", stereo, 44100)
    audio = read_audio(tmp_path / "s.wav", 16000)
    assert audio.ndim == 1 and abs(len(audio) - 16000) <= 1


@pytest.mark.parametrize(
    "content, reason",
    [(b"", "empty file"), (b"RIFF\x00\x00junkjunkjunk" * 10, "cannot decode")],
)
def test_bad_files_say_why(tmp_path, content, reason):
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with pytest.raises(BadAudio, match=reason):
        read_audio(path, 16000)
    soundfile.write(tmp_path / "quiet.wav", np.zeros(8000, np.float32), 8000)
    with pytest.raises(BadAudio, match="silent"):
        read_audio(tmp_path / "quiet.wav", 16000)


@pytest.mark.parametrize(
    "kind, deltas, size", [("mfcc", 0, 20), ("mfcc", 2, 60), ("logmel", 1, 80)]
)
def test_feature_shapes(kind, deltas, size):
    settings = FeatureSettings(kind=kind, deltas=deltas)
    features = FeatureExtractor(settings)(
        np.random.default_rng(0).normal(size=16000).astype(np.float32)
    )
    assert features.shape == (101, size) and settings.size == size
    normal = normalise(features)
    np.testing.assert_allclose(normal.mean(0), 0, atol=1e-4)


def test_cache_reuses_results_and_recomputes_when_settings_change(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return {"x": torch.ones(3)}

    key = {"file": "a.wav", "n_mfcc": 20}
    _, cached = cache.load_or_compute("t", key, compute)
    assert not cached
    value, cached = cache.load_or_compute("t", key, compute)
    assert cached and len(calls) == 1 and torch.equal(value["x"], torch.ones(3))
    _, cached = cache.load_or_compute("t", {**key, "n_mfcc": 13}, compute)
    assert not cached and len(calls) == 2


def test_specaugment_masks_only_in_training():
    layer = SpecAugmentInput(20, freq_mask=5, time_mask=10)
    x = torch.ones(4, 50, 20)
    layer.train()
    torch.manual_seed(0)
    masked = layer({"x": x})
    assert (masked == 0).any() and masked.shape == x.shape
    layer.eval()
    assert torch.equal(layer({"x": x}), x)


def test_augmentation_is_seeded():
    audio = np.sin(np.arange(8000) / 5).astype(np.float32)
    a = augment(audio, np.random.default_rng(1), 8000)
    b = augment(audio, np.random.default_rng(1), 8000)
    assert np.array_equal(a, b) and len(a) >= len(audio)


def test_folder_layout_with_split_lists_then_predict(cli, tmp_path):
    data = folder_dataset(tmp_path / "words")
    first = cli("run", "speech", "--data", str(data), "--out", "r", *SMALL)
    assert first.code == 0, first.err
    assert "3 train" not in first.out and "features at" in first.out
    metrics = json.loads(Path("r/metrics.json").read_text())
    assert set(metrics["test"]) == {"accuracy", "macro_f1"}
    assert set(metrics["baselines"]) == {"majority", "mfcc_stats_logreg"}
    assert Path("r/plots/confusion.png").exists() and Path("r/plots/example.png").exists()
    assert "3 val / 3 test" in first.out.replace("\n", " ")

    second = cli("run", "speech", "--data", str(data), "--out", "r2", *SMALL)
    assert second.code == 0 and "features from the cache" in second.out
    changed = cli(
        "run", "speech", "--data", str(data), "--out", "r3", *SMALL, "--set", "task.n_mfcc=13"
    )
    assert changed.code == 0 and "features at" in changed.out

    wav = data / "yes" / f"{VOICES[2].replace('+', '_')}_2.wav"
    predicted = cli(
        "predict",
        "r",
        str(wav),
        str(data / "no" / f"{VOICES[3].replace('+', '_')}_3.wav"),
        "--json",
    )
    assert predicted.code == 0, predicted.err
    rows = json.loads(predicted.out)
    assert [r["file"] for r in rows] == [
        str(wav),
        str(data / "no" / f"{VOICES[3].replace('+', '_')}_3.wav"),
    ]
    assert all(r["label"] in WORDS for r in rows)


def test_a_new_or_changed_file_is_the_only_one_extracted_again(cli, tmp_path, monkeypatch):
    from seqsuite_tasks.speech.task import SpeechTask

    data = folder_dataset(tmp_path / "words")
    assert cli("run", "speech", "--data", str(data), "--out", "r", *SMALL).code == 0
    extracted = []
    original = SpeechTask._file_features

    def counting(self, path, *args):
        extracted.append(Path(path).name)
        return original(self, path, *args)

    monkeypatch.setattr(SpeechTask, "_file_features", counting)
    soundfile.write(data / "up" / "new_voice.wav", spoken("up", "en+m4"), 8000)
    assert cli("run", "speech", "--data", str(data), "--out", "r2", *SMALL).code == 0
    assert extracted == ["new_voice.wav"]
    assert cli("run", "speech", "--data", str(data), "--out", "r3", *SMALL).code == 0
    assert extracted == ["new_voice.wav"]  # the whole listing now comes from one entry


def test_manifest_layout_and_skipped_files(cli, tmp_path):
    data = folder_dataset(tmp_path / "words", with_lists=False)
    (data / "yes" / "broken.wav").write_bytes(b"RIFF garbage")
    (data / "no" / "empty.wav").write_bytes(b"")
    rows = [
        {
            "path": str(p.relative_to(data)),
            "label": p.parent.name,
            "split": "test" if "m1" in p.name else "train",
        }
        for p in sorted(data.rglob("*.wav"))
    ]
    pd.DataFrame(rows).to_csv(data / "manifest.csv", index=False)
    result = cli("run", "speech", "--data", str(data / "manifest.csv"), "--out", "r", *SMALL)
    assert result.code == 0, result.err
    assert "2 unusable files skipped" in result.out.replace("\n", " ")
    assert len(Path("r/skipped_files.txt").read_text().splitlines()) == 2
    assert json.loads(Path("r/metrics.json").read_text())["data"]["skipped_files"] == 2


def test_unknown_label_in_a_split_list_is_a_user_error(cli, tmp_path):
    data = folder_dataset(tmp_path / "words")
    (data / "testing_list.txt").write_text("maybe/x.wav\n")
    result = cli("run", "speech", "--data", str(data), "--out", "r", *SMALL)
    assert result.code == 2 and "testing_list.txt, line 1" in result.err and "'maybe'" in result.err
    assert not Path("r").exists()


def test_nothing_usable_is_a_user_error(cli, tmp_path):
    for word in WORDS:
        (tmp_path / "d" / word).mkdir(parents=True)
        (tmp_path / "d" / word / "a.wav").write_bytes(b"")
    result = cli("run", "speech", "--data", str(tmp_path / "d"), *SMALL)
    assert result.code == 2 and "no usable audio" in result.err
    empty = tmp_path / "e"
    empty.mkdir()
    assert "no label folders" in cli("run", "speech", "--data", str(empty)).err


def test_confined_manifest_paths_cannot_leave_the_data_folder(cli, tmp_path):
    data = folder_dataset(tmp_path / "words", with_lists=False)
    outside = tmp_path / "secret.wav"
    soundfile.write(outside, spoken("yes", "en+m1"), 8000)
    rows = [
        {"path": str(p.relative_to(data)), "label": p.parent.name}
        for p in sorted(data.rglob("*.wav"))
    ]
    rows.append({"path": "../secret.wav", "label": "yes"})
    pd.DataFrame(rows).to_csv(data / "manifest.csv", index=False)
    confined = cli(
        "run",
        "speech",
        "--data",
        str(data / "manifest.csv"),
        "--out",
        "r",
        *SMALL,
        "--set",
        "data.confine=true",
    )
    assert confined.code == 2 and len(confined.err.strip().splitlines()) == 1
    assert f"data row {len(rows)}: '../secret.wav' leads outside" in confined.err
    assert not Path("r").exists()
    # a link inside a label folder that points out is refused the same way
    (data / "manifest.csv").unlink()
    (data / "no" / "link.wav").symlink_to(outside)
    linked = cli(
        "run", "speech", "--data", str(data), "--out", "r", *SMALL, "--set", "data.confine=true"
    )
    assert linked.code == 2 and "'no/link.wav' leads outside" in linked.err
    # without confinement the user's own manifest may point where it likes
    assert cli("run", "speech", "--data", str(data), "--out", "r", *SMALL).code == 0
