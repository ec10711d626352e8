"""The speech task: audio reading (and its limits), features, the front end, the frame
store, both data layouts, predictions, evaluation on new data, bad files."""

from __future__ import annotations

import json
import os
import resource
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile
import torch

from seqsuite.config import DataSettings
from seqsuite.errors import UserError
from seqsuite_tasks.speech.audio import AudioLimit, BadAudio, read_audio, read_clip, resample
from seqsuite_tasks.speech.features import FeatureSettings, LogMel
from seqsuite_tasks.speech.frontend import FrontEndSettings, SpeechFrontEnd, summary
from seqsuite_tasks.speech.synth import Espeak, augment

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


def file_name(voice: str, k: int) -> str:
    return f"{voice.replace('+', '_')}_{k}.wav"


def folder_dataset(root: Path, with_lists: bool = True, words=WORDS) -> Path:
    for word in words:
        (root / word).mkdir(parents=True)
        for k, voice in enumerate(VOICES):
            soundfile.write(root / word / file_name(voice, k), spoken(word, voice), 8000)
    (root / "_background_noise_").mkdir()
    if with_lists:
        (root / "testing_list.txt").write_text(
            "".join(f"{w}/{file_name(VOICES[0], 0)}\n" for w in words)
        )
        (root / "validation_list.txt").write_text(
            "".join(f"{w}/{file_name(VOICES[1], 1)}\n" for w in words)
        )
    return root


def wav_declaring(path: Path, rate: int, seconds: float = 0.1) -> Path:
    """A valid 8 kHz WAV whose header then claims ``rate`` (bytes 24-27: sample rate)."""
    tone = (0.3 * np.sin(np.arange(int(8000 * seconds)) / 3)).astype(np.float32)
    soundfile.write(path, tone, 8000, subtype="PCM_16")
    data = bytearray(path.read_bytes())
    data[24:28] = struct.pack("<I", rate)
    path.write_bytes(bytes(data))
    return path


# -- reading audio ----------------------------------------------------------------------


def test_resampling_keeps_the_pitch_of_a_tone():
    t = np.arange(8000) / 8000
    tone = np.sin(2 * np.pi * 440 * t).astype(np.float32)
    up = resample(tone, 8000, 16000)
    assert len(up) == 16000
    assert abs(np.argmax(np.abs(np.fft.rfft(up))) * 16000 / len(up) - 440) < 2


@pytest.mark.parametrize("rate", [44101, 767_999, 1009])
def test_resampling_from_an_awkward_rate_stays_small_and_in_tune(rate):
    """A rate sharing no divisor with the target would need a kernel of gigabytes."""
    tone = np.sin(2 * np.pi * 300 * np.arange(rate) / rate).astype(np.float32)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out = resample(tone, rate, 16000)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert abs(len(out) - 16000) <= 16 and grown_mb < 300
    assert abs(np.argmax(np.abs(np.fft.rfft(out))) * 16000 / len(out) - 300) < 2


def test_reading_any_rate_and_channels_gives_mono_at_the_target_rate(tmp_path):
    stereo = np.stack([np.sin(np.arange(44100) / 10), np.zeros(44100)], axis=1).astype(np.float32)
    soundfile.write(tmp_path / "s.wav", stereo, 44100)
    audio = read_audio(tmp_path / "s.wav", 16000)
    assert audio.ndim == 1 and abs(len(audio) - 16000) <= 1


def test_only_the_kept_seconds_are_read_and_the_cut_is_said(tmp_path):
    soundfile.write(tmp_path / "long.wav", np.sin(np.arange(8000 * 3) / 7) * 0.3, 8000)
    clip = read_clip(tmp_path / "long.wav", 8000, keep_seconds=1.0)
    assert len(clip.samples) == 8000 and clip.truncated
    assert not read_clip(tmp_path / "long.wav", 8000, keep_seconds=5.0).truncated


@pytest.mark.parametrize(
    "content, reason",
    [(b"", "empty file"), (b"RIFF\x00\x00junkjunkjunk" * 10, "cannot decode")],
)
def test_bad_files_say_why(tmp_path, content, reason):
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with pytest.raises(BadAudio, match=reason) as caught:
        read_audio(path, 16000)
    assert "_io." not in str(caught.value)  # libsndfile's name for the file object
    soundfile.write(tmp_path / "quiet.wav", np.zeros(8000, np.float32), 8000)
    with pytest.raises(BadAudio, match="silent"):
        read_audio(tmp_path / "quiet.wav", 16000)


@pytest.mark.parametrize(
    "rate, limit",
    [(1, "outside 1000..768000 Hz"), (999, "data.min_sample_rate"), (10_000_000, "max_sample")],
)
def test_a_declared_rate_outside_the_limits_is_refused_before_reading(tmp_path, rate, limit):
    path = wav_declaring(tmp_path / "odd.wav", rate)
    with pytest.raises(AudioLimit, match=limit):
        read_audio(path, 16000)


def test_a_declared_length_beyond_the_limit_is_refused(tmp_path):
    soundfile.write(tmp_path / "a.wav", np.sin(np.arange(16000) / 3) * 0.3, 8000)
    with pytest.raises(AudioLimit, match="declares 2 s of audio.*max_audio_seconds=1"):
        read_audio(tmp_path / "a.wav", 16000, DataSettings(max_audio_seconds=1.0))


def test_fifos_and_devices_are_refused_not_read(tmp_path):
    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)
    with pytest.raises(BadAudio, match="FIFO"):
        read_audio(fifo, 16000)
    with pytest.raises(BadAudio, match="device"):
        read_audio("/dev/zero", 16000)


def test_an_unreadable_file_says_why_not_system_error(tmp_path, monkeypatch):
    from seqsuite_tasks.speech import audio

    soundfile.write(tmp_path / "a.wav", np.sin(np.arange(800) / 3) * 0.3, 8000)

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(audio, "open", denied, raising=False)
    with pytest.raises(BadAudio, match=r"^cannot be read \(Permission denied\)$"):
        read_audio(tmp_path / "a.wav", 8000)


# -- features and the front end ---------------------------------------------------------


def test_log_mel_shape_and_front_end_sizes():
    frames = LogMel(FeatureSettings())(np.random.default_rng(0).normal(size=16000))
    assert frames.shape == (101, 40)
    for kind, deltas, size in (("mfcc", 0, 20), ("mfcc", 2, 60), ("logmel", 1, 80)):
        front = SpeechFrontEnd(FrontEndSettings(kind=kind, deltas=deltas)).eval()
        out = front({"x": torch.from_numpy(frames)[None]})
        assert out.shape == (1, 101, size) == (1, 101, front.output_size)
        np.testing.assert_allclose(out.mean(1).numpy(), 0, atol=1e-4)
        np.testing.assert_allclose(out.std(1, correction=0).numpy(), 1, atol=1e-3)


def _tone_burst(rate: int = 16000) -> np.ndarray:
    """Half a second of a decaying tone with quiet noise: something like a word."""
    t = np.arange(rate // 2) / rate
    rng = np.random.default_rng(5)
    return (
        0.5 * np.sin(2 * np.pi * 300 * t) * np.exp(-3 * t) + rng.normal(0, 1e-3, len(t))
    ).astype(np.float32)


def test_silence_around_the_words_is_trimmed_to_the_margin():
    """A second of digital silence on each side reads as the words and 50 ms either side."""
    words = _tone_burst()
    silence = np.zeros(16000, np.float32)
    settings = FeatureSettings(trim_db=40.0)
    close = LogMel(settings)(words)
    padded = LogMel(settings)(np.concatenate([silence, words, silence]))
    margin = 5  # 50 ms of 10 ms frames
    assert len(close) <= len(padded) <= len(close) + 2 * margin + 2
    kept_all = LogMel(FeatureSettings())(np.concatenate([silence, words, silence]))
    assert len(kept_all) == 251  # trim_db=0 (runs saved before it): every frame, as before
    assert len(LogMel(FeatureSettings())(words)) == 51


def test_room_noise_around_the_words_is_trimmed_above_its_floor():
    """Noise 30 dB below the words lies above ``trim_db`` below the loudest frame: only
    the floor rule (``trim_floor_db``) finds where the words are."""
    words = _tone_burst()
    rng = np.random.default_rng(6)
    noisy = np.concatenate([np.zeros(16000, np.float32), words, np.zeros(16000, np.float32)])
    noisy = noisy + rng.normal(0, np.sqrt(np.mean(words**2) / 1000), len(noisy)).astype(np.float32)
    by_peak = LogMel(FeatureSettings(trim_db=40.0))(noisy)
    by_floor = LogMel(FeatureSettings(trim_db=40.0, trim_floor_db=6.0))(noisy)
    close = LogMel(FeatureSettings(trim_db=40.0, trim_floor_db=6.0))(words)
    assert len(by_peak) == 251  # the noise is within 40 dB of the loudest frame: all kept
    assert 51 <= len(by_floor) <= 51 + 2 * 5 + 2  # the burst's 51 frames and the margins
    # cut close, the burst's own decayed tail (13 dB down) is its quietest tenth: the
    # loud first half stays
    assert 25 <= len(close) <= 51


def test_trimming_settings_of_older_runs_keep_every_frame():
    """A run saved before trimming existed has no trim_db: its frames stay as they were,
    while a new run takes the option's default."""
    from seqsuite_tasks.speech.options import SpeechConfig

    saved = FeatureSettings().to_state()
    del saved["trim_db"], saved["trim_margin_ms"], saved["trim_floor_db"]
    older = FeatureSettings.from_state(saved)
    assert older.trim_db == 0 and older.trim_floor_db == 0
    assert SpeechConfig().feature_settings().trim_db == 40.0
    # a threshold no frame reaches (an edited run's NaN) keeps every frame, no traceback
    frames = LogMel(FeatureSettings())(_tone_burst())
    assert len(LogMel(FeatureSettings(trim_db=float("nan")))(_tone_burst())) == len(frames)


def test_front_end_mfccs_are_torchaudios():
    """The DCT of stored log-mel frames gives torchaudio's MFCC transform (same bands)."""
    import torchaudio.transforms as T

    audio = np.random.default_rng(1).normal(size=12000).astype(np.float32)
    melkwargs = {"n_fft": 400, "hop_length": 160, "n_mels": 40}
    expected = T.MFCC(16000, n_mfcc=20, melkwargs=melkwargs)(torch.from_numpy(audio)).T
    frames = torch.from_numpy(LogMel(FeatureSettings())(audio))
    front = SpeechFrontEnd(FrontEndSettings(deltas=0))
    torch.testing.assert_close(frames @ front.dct, expected, atol=1e-3, rtol=1e-4)


def test_padding_never_changes_the_features():
    rng = np.random.default_rng(2)
    a, b = (torch.from_numpy(rng.normal(size=(n, 40)).astype(np.float32) * 10) for n in (30, 17))
    front = SpeechFrontEnd(FrontEndSettings(deltas=2)).eval()
    batch = torch.nn.utils.rnn.pad_sequence([a, b], batch_first=True)
    together = front({"x": batch, "lengths": torch.tensor([30, 17])})
    alone = front({"x": b[None]})
    torch.testing.assert_close(together[1, :17], alone[0], atol=1e-5, rtol=1e-5)


def test_augmentation_happens_only_in_training_and_changes_the_features():
    x = torch.from_numpy(np.random.default_rng(3).normal(size=(4, 50, 40)).astype(np.float32))
    settings = FrontEndSettings(warp=0.2, noise_snr=(5.0, 20.0), freq_mask=5, time_mask=10)
    front = SpeechFrontEnd(settings)
    plain = SpeechFrontEnd(FrontEndSettings()).eval()({"x": x})
    front.eval()
    assert torch.equal(front({"x": x}), plain)
    front.train()
    torch.manual_seed(0)
    augmented = front({"x": x})
    assert augmented.shape == plain.shape and torch.isfinite(augmented).all()
    assert (augmented == 0).any() and not torch.allclose(augmented, plain)


def test_warp_stretches_the_frequency_axis():
    """A peak in band 20 moves up when the axis is read at lower frequencies."""
    x = torch.full((1, 3, 40), -60.0)
    x[..., 20] = 0.0
    front = SpeechFrontEnd(FrontEndSettings(warp=0.3)).train()
    torch.manual_seed(0)
    moved = {int(front.warp(x)[0, 0].argmax()) for _ in range(20)}
    assert len(moved) > 2 and min(moved) < 20 < max(moved)


def test_order_blind_summary_has_means_and_spreads():
    frames = LogMel(FeatureSettings())(np.random.default_rng(4).normal(size=8000))
    assert summary(frames, FrontEndSettings()).shape == (80,)


def test_speaker_statistics_normalise_each_speakers_rows(tmp_path):
    """Rows of one speaker share that speaker's mean and spread; unknown speakers get
    the training rows' statistics."""
    from seqsuite import frame_store
    from seqsuite.frame_store import FrameSplit, Item
    from seqsuite_tasks.speech import cmvn
    from seqsuite_tasks.speech.frontend import coefficients

    rng = np.random.default_rng(5)
    frames = [rng.normal(k, 1 + k, size=(10 + k, 40)).astype(np.float32) for k in range(5)]
    store, _ = frame_store.load_or_build(
        "s", {"k": 1}, lambda: [Item(f, seconds=0.1) for f in frames], 40, root=tmp_path
    )
    front = SpeechFrontEnd(FrontEndSettings(deltas=1))
    train = FrameSplit(store, [0, 1, 2], np.zeros(3))
    test = FrameSplit(store, [3, 4], np.zeros(2))
    speakers = {"train": ["a", "a", "b"], "test": ["c", None]}
    splits, stats = cmvn.normalised(
        "speaker", front, {"train": train, "test": test}, speakers, train
    )

    def coefs(rows):
        x = [coefficients(torch.from_numpy(frames[r])[None], front.dct, 1, None)[0] for r in rows]
        return torch.cat(x)

    batch = splits["train"].batch(torch.tensor([0, 1, 2]))
    torch.testing.assert_close(batch["mean"][0, 0], coefs([0, 1]).mean(0), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(batch["mean"][1], batch["mean"][0])
    torch.testing.assert_close(
        batch["std"][2, 0], coefs([2]).std(0, correction=0), rtol=1e-4, atol=1e-4
    )
    unknown = splits["test"].batch(torch.tensor([1]))
    torch.testing.assert_close(
        unknown["mean"][0, 0], coefs([0, 1, 2]).mean(0), rtol=1e-4, atol=1e-4
    )
    torch.testing.assert_close(torch.tensor(stats.data_group()[0]), unknown["mean"][0, 0])
    # the front end normalises by what the batch brings
    out = front.eval()(batch)
    expected = (coefs([0]) - batch["mean"][0, 0]) / (batch["std"][0, 0] + 1e-5)
    torch.testing.assert_close(out[0, :10], expected, rtol=1e-4, atol=1e-4)


def test_speech_commands_names_say_the_speaker():
    from seqsuite_tasks.speech.data import speaker_of

    assert speaker_of(Path("yes/0a7c2a8d_nohash_3.wav")) == "0a7c2a8d"
    assert speaker_of(Path("yes/recording.wav")) is None


def test_augmentation_is_seeded():
    audio = np.sin(np.arange(8000) / 5).astype(np.float32)
    a = augment(audio, np.random.default_rng(1), 8000)
    b = augment(audio, np.random.default_rng(1), 8000)
    assert np.array_equal(a, b) and len(a) >= len(audio)


# -- runs -------------------------------------------------------------------------------


def test_folder_layout_with_split_lists_then_predict(cli, tmp_path):
    data = folder_dataset(tmp_path / "words")
    first = cli("run", "speech", "--data", str(data), "--out", "r", *SMALL)
    assert first.code == 0, first.err
    assert "features at" in first.out
    metrics = json.loads(Path("r/metrics.json").read_text())
    assert set(metrics["test"]) == {"accuracy", "macro_f1"}
    assert set(metrics["baselines"]) == {"majority", "mfcc_stats_logreg"}
    assert metrics["data"]["skipped_files"] == 0 and metrics["data"]["truncated_examples"] == 0
    assert Path("r/plots/confusion.png").exists() and Path("r/plots/example.png").exists()
    assert "3 val / 3 test" in first.out.replace("\n", " ")

    second = cli("run", "speech", "--data", str(data), "--out", "r2", *SMALL)
    assert second.code == 0 and "features from the cache" in second.out
    changed = cli(
        "run", "speech", "--data", str(data), "--out", "r3", *SMALL, "--set", "task.n_mels=32"
    )
    assert changed.code == 0 and "features at" in changed.out

    files = [data / "yes" / file_name(VOICES[2], 2), data / "no" / file_name(VOICES[3], 3)]
    predicted = cli("predict", "r", *map(str, files), "--json", "--option", "probabilities=true")
    assert predicted.code == 0, predicted.err
    rows = json.loads(predicted.out)
    assert [r["file"] for r in rows] == [str(f) for f in files]
    classes = sorted(WORDS)  # natural order
    for row in rows:
        probs = [row[f"p({c})"] for c in classes]
        assert sum(probs) == pytest.approx(1.0, abs=1e-3)
        assert row["label"] == classes[probs.index(max(probs))]
        assert row["probability"] == pytest.approx(max(probs), abs=1e-4)


def test_synthesised_voices_join_training_only(cli, tmp_path):
    data = folder_dataset(tmp_path / "words")
    result = cli(
        "run", "speech", "--data", str(data), "--out", "r", *SMALL, "--set", "task.synth_voices=4"
    )
    assert result.code == 0, result.err
    assert "18 train + 12 synthesised / 3 val / 3 test" in " ".join(result.out.split())
    assert json.loads(Path("r/metrics.json").read_text())["data"]["synthesised_examples"] == 12


@pytest.mark.parametrize(
    "label, text",
    [("yes", "yes"), ("7", "7"), ("left_turn", "left turn"), ("_unknown_", None), ("a/b", None)],
)
def test_labels_spoken_by_synthesised_voices(label, text):
    from seqsuite_tasks.speech.task import spoken_text

    assert spoken_text(label) == text


def test_speakers_from_the_manifest_normalise_their_own_recordings(cli, tmp_path):
    """A manifest's speaker column: each speaker (the unseen test voice too) is
    normalised by their own recordings; eval --data and predict read files the same way."""
    data = folder_dataset(tmp_path / "words", with_lists=False)
    rows = [
        {
            "path": str(p.relative_to(data)),
            "label": p.parent.name,
            "split": "test" if VOICES[0].replace("+", "_") in p.name else "train",
            "speaker": p.stem.rsplit("_", 1)[0],
        }
        for p in sorted(data.rglob("*.wav"))
    ]
    pd.DataFrame(rows).to_csv(data / "manifest.csv", index=False)
    result = cli("run", "speech", "--data", str(data / "manifest.csv"), "--out", "r", *SMALL)
    assert result.code == 0, result.err
    assert "3 words, 8 speakers" in " ".join(result.out.split())
    # the validation part the manifest does not give is carved by speaker: voices apart
    assert "(speakers apart)" in " ".join(result.out.split())
    assert json.loads(Path("r/metrics.json").read_text())["data"]["speakers_apart"] is True
    state = json.loads(Path("r/task_state.json").read_text())["state"]
    assert state["normalise"] == "speaker" and len(state["statistics"][0]) == 40
    assert cli("eval", "r", "--data", str(data / "manifest.csv")).code == 0
    files = [str(data / w / file_name(VOICES[0], 0)) for w in WORDS]
    alone = json.loads(cli("predict", "r", *files, "--json").out)
    together = cli("predict", "r", *files, "--option", "same_speaker=true", "--json")
    assert together.code == 0, together.err
    together = json.loads(together.out)
    assert [r["file"] for r in together] == files and all(r["label"] in WORDS for r in together)
    assert [r["probability"] for r in alone] != [r["probability"] for r in together]


def test_classes_are_in_natural_order(cli, tmp_path):
    data = folder_dataset(tmp_path / "words", words=("two", "ten", "one"))
    assert cli("run", "speech", "--data", str(data), "--out", "r", *SMALL).code == 0
    state = json.loads(Path("r/task_state.json").read_text())
    assert state["state"]["classes"] == ["one", "two", "ten"]


def test_a_new_or_changed_file_is_the_only_one_extracted_again(cli, tmp_path, monkeypatch):
    from seqsuite_tasks.speech import extract

    data = folder_dataset(tmp_path / "words")
    assert cli("run", "speech", "--data", str(data), "--out", "r", *SMALL).code == 0
    extracted = []
    original = extract.extract_item

    def counting(path, *args):
        extracted.append(Path(path).name)
        return original(path, *args)

    monkeypatch.setattr(extract, "extract_item", counting)
    soundfile.write(data / "up" / "new_voice.wav", spoken("up", "en+m4"), 8000)
    assert cli("run", "speech", "--data", str(data), "--out", "r2", *SMALL).code == 0
    assert extracted == ["new_voice.wav"]
    assert cli("run", "speech", "--data", str(data), "--out", "r3", *SMALL).code == 0
    assert extracted == ["new_voice.wav"]  # the whole listing now comes from one store


def test_manifest_layout_skipped_and_truncated_files(cli, tmp_path):
    data = folder_dataset(tmp_path / "words", with_lists=False)
    (data / "yes" / "broken.wav").write_bytes(b"RIFF garbage")
    (data / "no" / "empty.wav").write_bytes(b"")
    wav_declaring(data / "no" / "one_hertz.wav", 1)
    rows = [
        {
            "path": str(p.relative_to(data)),
            "label": p.parent.name,
            "split": "test" if "m1" in p.name else "train",
        }
        for p in sorted(data.rglob("*.wav"))
    ]
    pd.DataFrame(rows).to_csv(data / "manifest.csv", index=False)
    result = cli(
        "run",
        "speech",
        "--data",
        str(data / "manifest.csv"),
        "--out",
        "r",
        *SMALL,
        "--set",
        "task.max_seconds=0.3",
    )
    assert result.code == 0, result.err
    assert "3 unusable files skipped" in result.out.replace("\n", " ")
    skipped = Path("r/skipped_files.txt").read_text().splitlines()
    assert len(skipped) == 3 and any(
        "one_hertz.wav\tdeclares a sample rate of 1 Hz" in s for s in skipped
    )
    facts = json.loads(Path("r/metrics.json").read_text())["data"]
    assert facts["skipped_files"] == 3 and facts["truncated_examples"] > 0


def test_predict_refuses_a_named_file_beyond_the_limits(cli, tmp_path):
    data = folder_dataset(tmp_path / "words")
    assert cli("run", "speech", "--data", str(data), "--out", "r", *SMALL).code == 0
    odd = wav_declaring(tmp_path / "odd.wav", 1)
    good = data / "yes" / file_name(VOICES[2], 2)
    for files in ([odd], [good, odd]):
        result = cli("predict", "r", *map(str, files))
        assert result.code == 2 and len(result.err.strip().splitlines()) == 1
        assert f"{odd}: declares a sample rate of 1 Hz" in result.err
    # damage that is not a limit: a row saying why among several files, refused alone
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF" + bytes(200))
    rows = json.loads(cli("predict", "r", str(good), str(junk), "--json").out)
    assert (
        rows[0]["label"] in WORDS
        and rows[1]["label"] is None
        and "cannot decode" in rows[1]["error"]
    )
    assert cli("predict", "r", str(junk)).code == 2
    none = cli("predict", "r", str(junk), str(tmp_path / "missing.wav"))
    assert none.code == 2 and "none of the 2 files could be read" in none.err
    # in a folder the same file is listed, not refused
    (data / "no" / "odd.wav").write_bytes(odd.read_bytes())
    listed = cli("predict", "r", "--data", str(data), "--json")
    assert listed.code == 0, listed.err
    assert any(
        r["file"].endswith("odd.wav") and "1 Hz" in r["error"] for r in json.loads(listed.out)
    )


def test_too_many_files_is_one_line(cli, tmp_path):
    data = folder_dataset(tmp_path / "words", with_lists=False)
    result = cli("run", "speech", "--data", str(data), *SMALL, "--set", "data.max_files=5")
    assert result.code == 2 and "more than data.max_files=5 audio files" in result.err


def test_eval_scores_the_whole_given_data_with_the_runs_state(cli, tmp_path):
    data = folder_dataset(tmp_path / "words")
    assert cli("run", "speech", "--data", str(data), "--out", "r", *SMALL).code == 0
    other = folder_dataset(tmp_path / "more", with_lists=False, words=("no", "yes"))
    result = cli("eval", "r", "--data", str(other))
    assert result.code == 0, result.err
    scored = json.loads(Path("r/eval.json").read_text())
    assert scored["data"]["examples"] == 2 * len(VOICES)  # every file, no split
    assert scored["baselines"] == {} and 0 <= scored["test"]["accuracy"] <= 1
    state = json.loads(Path("r/task_state.json").read_text())["state"]
    assert state["classes"] == ["no", "up", "yes"]  # nothing refitted
    unknown = folder_dataset(tmp_path / "new_words", with_lists=False, words=("yes", "maybe"))
    refused = cli("eval", "r", "--data", str(unknown))
    assert refused.code == 2 and "'maybe'" in refused.err


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


def test_a_manifest_written_on_windows_finds_its_files(tmp_path):
    """``clips\\a.wav`` in a manifest made on Windows named no file here."""
    from seqsuite_tasks.speech.data import from_manifest

    data = folder_dataset(tmp_path / "words", with_lists=False)
    files = sorted(data.rglob("*.wav"))
    rows = [{"path": str(p.relative_to(data)).replace("/", "\\"), "label": "x"} for p in files]
    rows.append({"path": "..\\..\\outside.wav", "label": "x"})
    pd.DataFrame(rows).to_csv(data / "manifest.csv", index=False)
    found = from_manifest(data / "manifest.csv")
    assert [r.path for r in found[:-1]] == [p.resolve() for p in files]
    with pytest.raises(UserError, match=r"'\.\./\.\./outside\.wav' leads outside"):
        from_manifest(data / "manifest.csv", confine=True)  # still confined


def test_a_name_with_a_backslash_that_exists_is_kept(tmp_path):
    from seqsuite.confine import windows_separators

    (tmp_path / "odd\\name.wav").write_bytes(b"")
    assert windows_separators(tmp_path, "odd\\name.wav") == "odd\\name.wav"
    assert windows_separators(tmp_path, "clips\\a.wav") == "clips/a.wav"
    assert windows_separators(tmp_path, "clips/a\\b.wav") == "clips/a\\b.wav"


def test_manifest_labels_are_read_as_written(tmp_path):
    """ "01" and "1" are two classes, "None" and "NA" are labels (pandas would have read them
    as numbers and as missing); "1.0" is "1"; an empty cell is a missing label."""
    from seqsuite_tasks.speech.data import from_manifest

    data = folder_dataset(tmp_path / "words", with_lists=False)
    files = sorted(str(p.relative_to(data)) for p in data.rglob("*.wav"))
    labels = ["01", "1", "None", "NA", "1.0", "02"]
    rows = [f"{path},{labels[k % len(labels)]}" for k, path in enumerate(files)]
    (data / "manifest.csv").write_text("path,label\n" + "\n".join(rows) + "\n")
    found = [r.label for r in from_manifest(data / "manifest.csv")]
    assert set(found) == {"01", "1", "None", "NA", "02"}
    assert found[:6] == ["01", "1", "None", "NA", "1", "02"]
    (data / "manifest.csv").write_text(f"path,label\n{files[0]},01\n{files[1]},\n")
    with pytest.raises(UserError, match="data row 2: missing label"):
        from_manifest(data / "manifest.csv")


def test_predict_data_normalises_by_the_manifests_speakers_as_eval_does(tmp_path):
    import json

    from seqsuite import inference
    from tests import serve_runs

    run_dir = serve_runs.speech(tmp_path)
    assert json.loads((run_dir / "task_state.json").read_text())["state"]["normalise"] == "speaker"
    files = sorted((tmp_path / "words").rglob("*.wav"))
    quiet, loud = files[::2], files[1::2]
    for path in loud:  # the second speaker records 4x louder
        wave, rate = soundfile.read(path)
        soundfile.write(path, 4 * wave, rate)
    manifest = tmp_path / "manifest.csv"
    rows = [f"{p},{p.parent.name},{'a' if p in quiet else 'b'}" for p in files]
    manifest.write_text("path,label,speaker\n" + "\n".join(rows) + "\n")
    both = inference.predict(run_dir, [], {"data": str(manifest)}, quiet=True)
    pooled = run_dir.parent / "pooled.txt"
    with open(pooled, "w") as shown:
        from rich.console import Console

        from seqsuite import assembly

        loaded = assembly.load(run_dir, quiet=True)
        loaded.ctx.console = Console(file=shown, width=200)
        loaded.task.predict(
            loaded.ctx, loaded.model, [], {"data": str(manifest), "same_speaker": True}
        )
    assert "although the data names several" in pooled.read_text()
    for group in (quiet, loud):
        alone = inference.predict(
            run_dir, [str(p) for p in group], {"same_speaker": True}, quiet=True
        )
        mine = [row for row in both if Path(row["file"]) in group]
        assert [r["label"] for r in mine] == [r["label"] for r in alone]
        np.testing.assert_allclose(
            [r["probability"] for r in mine], [r["probability"] for r in alone], rtol=1e-4
        )
