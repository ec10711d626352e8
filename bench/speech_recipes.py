"""Choosing the speech recipe for voices never heard, on validation speakers only.

    python bench/speech_recipes.py --recipe base= --recipe warp=warp=0.2 [--folds 0,1,2]

FSDD (``../shared/data/fsdd``: 6 speakers x 10 digits x 50) in development folds: fold i
sets speaker i aside as the test speaker of the final leave-one-speaker-out benchmark
(``bench/speech_loso.py``) and never reads it; speaker i+1 is the validation speaker,
the other four train. Each recipe is scored by the best validation accuracy on the
validation speaker (early stopping chooses the epoch, as a run does). A recipe is
``name=key=value,key=value`` over front-end settings (``warp``, ``noise_snr``,
``freq_mask``, ``time_mask``, ``masks``, ``kind``, ``n_mfcc``, ``deltas``), feature
settings (``sample_rate``, ``f_max``, ``n_mels``), ``train.*`` and ``backbone.*``,
``pooling`` and ``dropout``. Results are appended to a JSON-lines log.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from seqsuite_tasks.speech.frontend import FrontEndSettings

os.environ.setdefault("OMP_NUM_THREADS", "1")
torch.set_num_threads(1)

FSDD = Path(__file__).resolve().parents[2] / "shared" / "data" / "fsdd" / "recordings"
if not FSDD.exists():
    FSDD = Path("/work/shared/data/fsdd/recordings")
SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")
FEATURE_KEYS = ("sample_rate", "f_max", "n_mels")


def fold_speakers(fold: int) -> tuple[str, str]:
    """(test speaker, validation speaker) of fold ``fold``, as bench/speech_loso.py."""
    return SPEAKERS[fold], SPEAKERS[(fold + 1) % len(SPEAKERS)]


def log_mels(sample_rate: int, f_max: float, n_mels: int, cache: Path) -> dict:
    """Every FSDD file's log-mel frames, labels and speakers (cached in ``cache``)."""
    import soundfile
    import torchaudio.transforms as T

    from seqsuite_tasks.speech.audio import resample

    path = cache / f"fsdd-{sample_rate}-{f_max:g}-{n_mels}.npz"
    if path.exists():
        z = np.load(path, allow_pickle=False)
        ends = np.cumsum(z["frames"])
        return {
            "x": np.split(z["x"], ends[:-1]),
            "label": z["label"],
            "speaker": z["speaker"],
        }
    mel = T.MelSpectrogram(
        sample_rate=sample_rate,
        n_fft=int(sample_rate * 0.025),
        hop_length=int(sample_rate * 0.01),
        n_mels=n_mels,
        f_max=f_max,
    )
    db = T.AmplitudeToDB("power", top_db=80)
    xs, labels, speakers = [], [], []
    for wav in sorted(FSDD.glob("*.wav")):
        digit, speaker, _ = wav.stem.split("_")
        audio, rate = soundfile.read(wav, dtype="float32")
        audio = resample(audio, rate, sample_rate)
        xs.append(db(mel(torch.from_numpy(audio))).T.numpy())
        labels.append(int(digit))
        speakers.append(speaker)
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(
        path,
        x=np.concatenate(xs),
        frames=np.array([len(x) for x in xs]),
        label=np.array(labels),
        speaker=np.array(speakers),
    )
    return {"x": xs, "label": np.array(labels), "speaker": np.array(speakers)}


def synthetic_digits(
    speakers: int, sample_rate: int, f_max: float, n_mels: int, cache: Path
) -> dict:
    """eSpeak NG digits ("zero" .. "nine" as labels 0 .. 9) over ``speakers`` training
    voices of the synthesised default, one take each, as log-mel frames (cached)."""
    import torchaudio.transforms as T

    from seqsuite_tasks.speech.synth import DIGITS, synthesise

    path = cache / f"synth-{speakers}-{sample_rate}-{f_max:g}-{n_mels}.npz"
    if not path.exists():
        mel = T.MelSpectrogram(
            sample_rate=sample_rate,
            n_fft=int(sample_rate * 0.025),
            hop_length=int(sample_rate * 0.01),
            n_mels=n_mels,
            f_max=f_max,
        )
        db = T.AmplitudeToDB("power", top_db=80)
        made = [u for u in synthesise(DIGITS, 0, speakers, 1, sample_rate) if u.split == "train"]
        xs = [db(mel(torch.from_numpy(u.audio))).T.numpy() for u in made]
        cache.mkdir(parents=True, exist_ok=True)
        np.savez(
            path,
            x=np.concatenate(xs),
            frames=np.array([len(x) for x in xs]),
            label=np.array([DIGITS.index(u.label) for u in made]),
        )
    z = np.load(path)
    ends = np.cumsum(z["frames"])
    return {"x": np.split(z["x"], ends[:-1]), "label": z["label"]}


def statistics(data: dict, recipe: dict, rows: np.ndarray) -> dict[str, torch.Tensor]:
    """Per-example normalisation statistics (``cmvn``): each speaker's mean and spread of
    every coefficient (``speaker``), or the training rows' (``global``); none for the
    front end's own per-utterance normalisation."""
    from seqsuite_tasks.speech.frontend import SpeechFrontEnd, coefficients

    mode = recipe.get("cmvn", "utterance")
    if mode == "utterance":
        return {}
    front = SpeechFrontEnd(FrontEndSettings(**recipe["front"]))
    dct = front.dct if front.settings.kind == "mfcc" else None

    def stats(members: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        frames = torch.cat(
            [
                coefficients(
                    torch.from_numpy(data["x"][r])[None], dct, front.settings.deltas, None
                )[0]
                for r in members
            ]
        )
        return frames.mean(0), frames.std(0, correction=0)

    if mode == "global":
        mean, std = stats(recipe["train_rows"])
        return {"mean": mean.expand(len(rows), 1, -1), "std": std.expand(len(rows), 1, -1)}
    speakers = data["speaker"][rows]
    mean = torch.zeros(len(rows), 1, front.settings.size)
    std = torch.zeros(len(rows), 1, front.settings.size)
    for name in np.unique(speakers):
        mine = speakers == name
        m, s = stats(np.flatnonzero(data["speaker"] == name))
        mean[mine], std[mine] = m, s
    return {"mean": mean, "std": std}


def split_of(data: dict, rows: np.ndarray, extra: dict | None = None):
    from seqsuite.batches import ArraySplit, pad_sequences

    x, lengths = pad_sequences([torch.from_numpy(data["x"][r]) for r in rows])
    label = torch.from_numpy(data["label"][rows].astype(np.int64))
    return ArraySplit({"x": x, "lengths": lengths, "label": label, **(extra or {})}, bucket=True)


class Progress:
    """One line per epoch on stderr (a fold takes minutes)."""

    def on_epoch_end(self, trainer, record) -> None:
        print(
            f"  epoch {record['epoch']}: val {record.get('val_accuracy', float('nan')):.3f} "
            f"({record['seconds']:.0f} s)",
            file=sys.stderr,
            flush=True,
        )


def train_fold(data: dict, fold: int, recipe: dict, seed: int) -> dict:
    """Best validation accuracy on the fold's validation speaker."""
    from seqsuite.backbone import Backbone, BackboneConfig
    from seqsuite.classify import class_probabilities
    from seqsuite.devices import seed_everything
    from seqsuite.heads import PooledHead
    from seqsuite.model import SequenceModel
    from seqsuite.trainer import TrainConfig, Trainer
    from seqsuite_tasks.speech.frontend import SpeechFrontEnd

    test, val = fold_speakers(fold)
    speakers = data["speaker"]
    train_rows = np.flatnonzero((speakers != test) & (speakers != val))
    val_rows = np.flatnonzero(speakers == val)
    recipe = {**recipe, "train_rows": train_rows}
    valid = split_of(data, val_rows, statistics(data, recipe, val_rows))
    if recipe.get("synth"):
        f = recipe["front"]
        extra = synthetic_digits(
            recipe["synth"], f["sample_rate"], f["f_max"], f["n_mels"], Path(recipe["cache"])
        )
        mixed = {
            "x": [data["x"][r] for r in train_rows] + extra["x"],
            "label": np.concatenate([data["label"][train_rows], extra["label"]]),
        }
        train = split_of(mixed, np.arange(len(mixed["label"])))
    else:
        train = split_of(data, train_rows, statistics(data, recipe, train_rows))

    seed_everything(seed)
    front = FrontEndSettings(**recipe["front"])
    backbone_cfg = BackboneConfig(**recipe["backbone"])
    backbone = Backbone(front.size, backbone_cfg)
    head = PooledHead(backbone.output_size, 10, recipe["pooling"], recipe["dropout"])
    model = SequenceModel(SpeechFrontEnd(front), backbone, head)

    def validate(m):
        predicted = class_probabilities(m, valid, torch.device("cpu")).argmax(1)
        return {"accuracy": float((predicted == valid["label"].numpy()).mean())}

    trainer = Trainer(TrainConfig(**recipe["train"]), "cpu", seed=seed, callbacks=[Progress()])
    started = time.perf_counter()
    result = trainer.fit(
        model,
        train,
        lambda out, batch: torch.nn.functional.cross_entropy(out.float(), batch["label"]),
        validate,
        primary="accuracy",
        higher_is_better=True,
    )
    return {
        "fold": fold,
        "val_speaker": val,
        "val_accuracy": result.best_metric,
        "best_epoch": result.best_epoch,
        "epochs": result.epochs,
        "curve": [round(h.get("val_accuracy", float("nan")), 4) for h in result.history],
        "seconds": round(time.perf_counter() - started, 1),
    }


DEFAULT = {
    "front": asdict(FrontEndSettings(freq_mask=4, time_mask=10)),
    "backbone": {"hidden_size": 128, "num_layers": 2, "bidirectional": True, "dropout": 0.2},
    "train": {
        "epochs": 20,
        "batch_size": 32,
        "lr": 2e-3,
        "patience": 6,
        "schedule": "cosine",
        "clip_norm": 1.0,
    },
    "pooling": "meanmax",
    "dropout": 0.3,
    "synth": 0,
}


def parse_recipe(text: str) -> tuple[str, dict]:
    name, _, body = text.partition("=")
    recipe = json.loads(json.dumps(DEFAULT))
    for pair in filter(None, body.split(";")):
        key, _, value = pair.partition("=")
        parsed = json.loads(value) if value[:1] in "[{0123456789.-tf" else value
        if key.startswith(("train.", "backbone.")):
            section, _, field = key.partition(".")
            recipe[section][field] = parsed
        elif key in ("pooling", "dropout", "synth", "cmvn"):
            recipe[key] = parsed
        else:
            recipe["front"][key] = tuple(parsed) if isinstance(parsed, list) else parsed
    return name, recipe


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", action="append", required=True, help="name=k=v;k=v")
    parser.add_argument("--folds", default="0,1,2,3,4,5")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--log", default="/tmp/speech_recipes.jsonl")
    parser.add_argument("--cache", default="/tmp/speech_recipes_cache")
    args = parser.parse_args()
    for text in args.recipe:
        name, recipe = parse_recipe(text)
        recipe["cache"] = args.cache
        f = recipe["front"]
        data = log_mels(f["sample_rate"], f["f_max"], f["n_mels"], Path(args.cache))
        for fold in (int(k) for k in args.folds.split(",")):
            row = {"recipe": name, "spec": text, **train_fold(data, fold, recipe, args.seed)}
            print(json.dumps(row), flush=True)
            with open(args.log, "a", encoding="utf-8") as log:
                log.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
