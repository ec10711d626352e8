"""The speech task: which word was spoken, from MFCC frames.

Waveform -> mono at ``task.sample_rate`` -> MFCCs (or log-mel) with deltas, normalised per
utterance -> the shared backbone (bidirectional, packed) -> pooling -> class scores.
During training whole bands of frequencies and stretches of time are masked at random
(SpecAugment), a cheap guard against memorising voices. Features are cached on disk,
keyed by the file (path, size, modification time) and every feature setting.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from seqsuite import atomic, cache, classify
from seqsuite.batches import ArraySplit, pad_sequences
from seqsuite.errors import UserError
from seqsuite.heads import PooledHead
from seqsuite.metrics import classification
from seqsuite.splits import stratified_split
from seqsuite.task import Context, Prepared, Results, Task

from . import data as recordings
from .audio import BadAudio, read_audio
from .features import FeatureExtractor, FeatureSettings, normalise
from .report import example_plot
from .synth import DIGITS, synthesise

NAMED = {"digits": "the ten digits, synthesised by eSpeak NG over many accents and voices"}


@dataclass
class SpeechConfig:
    """The ``[task]`` section of ``seqsuite run speech``."""

    sample_rate: int = field(default=16_000, metadata={"min": 4000})
    features: Literal["mfcc", "logmel"] = "mfcc"
    n_mfcc: int = field(default=20, metadata={"min": 4})
    n_mels: int = field(default=40, metadata={"min": 8})
    deltas: int = field(
        default=1, metadata={"min": 0, "max": 2, "help": "0, 1 (deltas) or 2 (+ delta-deltas)"}
    )
    pooling: Literal["last", "mean", "max", "meanmax", "attention"] = "meanmax"
    dropout: float = field(default=0.3, metadata={"min": 0.0, "below": 1.0})
    freq_mask: int = field(
        default=4, metadata={"min": 0, "help": "SpecAugment: widest masked band (coefficients)"}
    )
    time_mask: int = field(
        default=10, metadata={"min": 0, "help": "SpecAugment: longest masked stretch (frames)"}
    )
    max_seconds: float = field(default=4.0, metadata={"min": 0.1, "help": "longer audio is cut"})
    val_fraction: float = field(default=0.1, metadata={"min": 0.0, "below": 0.5})
    test_fraction: float = field(default=0.1, metadata={"min": 0.0, "below": 0.5})
    speakers: int = field(
        default=100, metadata={"min": 4, "help": "digits: training speakers (accent + voice)"}
    )
    takes: int = field(
        default=2, metadata={"min": 1, "help": "digits: utterances per speaker and word"}
    )
    audio_column: str = field(
        default="audio", metadata={"help": "in-memory / Hugging Face data: the audio column"}
    )
    label_column: str = field(
        default="label", metadata={"help": "in-memory / Hugging Face data: the label column"}
    )

    def settings(self) -> FeatureSettings:
        return FeatureSettings(
            self.features, self.sample_rate, self.n_mfcc, self.n_mels, deltas=self.deltas
        )


class SpecAugmentInput(nn.Module):
    """Features ``batch["x"]`` (batch, frames, size); in training, one random frequency
    band and one random stretch of time per example are set to zero."""

    def __init__(self, size: int, freq_mask: int, time_mask: int):
        super().__init__()
        self.output_size = size
        self.freq_mask, self.time_mask = freq_mask, time_mask

    def forward(self, batch: dict[str, Any]) -> torch.Tensor:
        x = batch["x"]
        if not self.training or not (self.freq_mask or self.time_mask):
            return x
        b, t, f = x.shape
        keep = torch.ones_like(x, dtype=torch.bool)
        if self.freq_mask:
            width = torch.randint(0, self.freq_mask + 1, (b, 1), device=x.device)
            start = (torch.rand(b, 1, device=x.device) * (f - width + 1)).long()
            bins = torch.arange(f, device=x.device)[None, :]
            keep &= ~((bins >= start) & (bins < start + width))[:, None, :]
        if self.time_mask:
            width = torch.randint(0, self.time_mask + 1, (b, 1), device=x.device)
            start = (torch.rand(b, 1, device=x.device) * (t - width + 1).clamp(min=1)).long()
            frames = torch.arange(t, device=x.device)[None, :]
            keep &= ~((frames >= start) & (frames < start + width))[:, :, None]
        return x * keep


class SpeechTask(Task):
    name = "speech"
    summary = "spoken-word recognition from MFCCs (synthesised digits, or your recordings)"
    config_class = SpeechConfig
    datasets = tuple(NAMED)
    primary_metric = "accuracy"
    higher_is_better = True
    quick = {"train": {"epochs": 4}, "task": {"speakers": 40}}
    defaults = {
        "backbone": {"hidden_size": 128, "num_layers": 2, "bidirectional": True, "dropout": 0.2},
        "train": {"epochs": 20, "batch_size": 32, "lr": 2e-3, "patience": 6, "schedule": "cosine"},
    }

    # -- data -----------------------------------------------------------------------

    def prepare(self, ctx: Context) -> Prepared:
        o, run = ctx.options, ctx.config.run
        settings = o.settings()
        extractor = FeatureExtractor(settings)
        started = time.perf_counter()
        if run.data:
            items, skipped, audio_seconds, cached = self._from_files(
                run.data, settings, extractor, o, ctx
            )
            name = Path(run.data).name
        else:
            name = run.dataset or self.default_dataset
            if name != "digits":
                raise UserError(f"--dataset {name!r}: unknown; embedded: {', '.join(NAMED)}")
            items, audio_seconds, cached = self._digits(settings, extractor, o, ctx.seed)
            skipped = []
        seconds = time.perf_counter() - started
        where = run.data or name
        if not items:
            reasons = "; ".join(f"{p}: {why}" for p, why in skipped[:3])
            raise UserError(f"{where}: no usable audio ({len(skipped)} files skipped: {reasons})")

        state = ctx.state or {}
        labels_seen = sorted({i["label"] for i in items})
        classes = list(state.get("classes") or labels_seen)
        if len(classes) < 2:
            raise UserError(f"{where}: only one label ({classes[0]!r}); need two or more")
        index = {c: k for k, c in enumerate(classes)}
        unknown = [lab for lab in labels_seen if lab not in index]
        if unknown:
            raise UserError(
                f"{where}: labels {unknown[:5]} are not among the run's classes {classes}"
            )
        labels = np.array([index[i["label"]] for i in items])
        parts = self._split(items, labels, o, ctx.seed, where)

        def split(name: str) -> ArraySplit:
            rows = parts[name]
            x, lengths = pad_sequences(
                [torch.from_numpy(normalise(items[r]["features"])) for r in rows]
            )
            return ArraySplit(
                {"x": x, "lengths": lengths, "label": torch.from_numpy(labels[rows])}, bucket=True
            )

        train, val, test = split("train"), split("val"), split("test")
        if min(train.size, val.size, test.size) == 0:
            raise UserError(
                f"{where}: too few usable recordings for a train / val / test split ({len(items)})"
            )
        speed = audio_seconds / seconds if seconds > 0 and not cached else float("nan")
        return Prepared(
            train=train,
            val=val,
            test=test,
            spec={"features": settings.size, "classes": len(classes)},
            state={"classes": classes, "settings": asdict(settings)},
            dataset=name,
            summary=(
                f"{len(items):,} utterances ({audio_seconds / 60:.1f} min of audio), {len(classes)} words: "
                f"{train.size} train / {val.size} val / {test.size} test"
                + (f", {len(skipped)} unusable files skipped" if skipped else "")
                + (
                    f"; features {'from the cache' if cached else f'at {speed:.0f} s of audio per s'} in {seconds:.1f} s"
                )
            ),
            info={"skipped_files": len(skipped), "feature_seconds": round(seconds, 3)},
            data={
                "classes": classes,
                "items": items,
                "parts": parts,
                "labels": labels,
                "skipped": skipped,
                "prepare_seconds": seconds,
                "cached": cached,
                "audio_seconds": audio_seconds,
            },
        )

    @staticmethod
    def _cut(audio: np.ndarray, o: SpeechConfig) -> np.ndarray:
        return audio[: int(o.max_seconds * o.sample_rate)]

    def _digits(
        self, settings: FeatureSettings, extractor: FeatureExtractor, o: SpeechConfig, seed: int
    ):
        key = {
            "data": "digits-v1",
            "seed": seed,
            "speakers": o.speakers,
            "takes": o.takes,
            "max_seconds": o.max_seconds,
            "features": asdict(settings),
        }

        def compute() -> list[dict]:
            made = synthesise(DIGITS, seed, o.speakers, o.takes, o.sample_rate)
            return [
                {
                    "features": torch.from_numpy(extractor(self._cut(u.audio, o))),
                    "label": u.label,
                    "split": u.split,
                    "seconds": len(u.audio) / o.sample_rate,
                    "source": u.speaker,
                    "audio": torch.from_numpy(u.audio) if k < 1 else None,
                }
                for k, u in enumerate(made)
            ]

        value, cached = cache.load_or_compute("speech", key, compute)
        items = [dict(v, features=v["features"].numpy()) for v in value]
        return items, sum(i["seconds"] for i in items), cached

    def _from_files(
        self,
        path: str,
        settings: FeatureSettings,
        extractor: FeatureExtractor,
        o: SpeechConfig,
        ctx: Context,
    ):
        found = recordings.load(path, ctx.config.data.confine)
        features = {"max_seconds": o.max_seconds, "features": asdict(settings)}
        listing = [self._identity(rec.path) for rec in found]

        def per_file() -> dict:
            """Each file through its own cache entry: a new file costs one extraction."""
            out = []
            for rec, (_, size, mtime) in zip(found, listing, strict=True):
                try:
                    if size < 0:
                        raise BadAudio("cannot be read (missing or no permission)")
                    value, _ = cache.load_or_compute(
                        "speech-file",
                        {"file": str(rec.path), "size": size, "mtime": mtime, **features},
                        lambda rec=rec: self._file_features(rec.path, extractor, o),
                    )
                except (BadAudio, OSError) as err:
                    out.append({"error": str(err)})
                else:
                    out.append(value)
            return _packed(out)

        # One entry for the whole listing, one tensor inside: a warm start reads one file.
        packed, cached = cache.load_or_compute(
            "speech-files", {"files": listing, "format": 2, **features}, per_file
        )
        frames = packed["features"].numpy()
        ends = np.cumsum(packed["frames"].numpy())
        starts = ends - packed["frames"].numpy()
        items, skipped, seconds = [], [], 0.0
        for k, rec in enumerate(found):
            if packed["errors"][k]:
                skipped.append((str(rec.path), packed["errors"][k]))
                continue
            length = float(packed["seconds"][k])
            seconds += length
            items.append(
                {
                    "features": frames[starts[k] : ends[k]],
                    "label": rec.label,
                    "split": rec.split,
                    "seconds": length,
                    "source": str(rec.path),
                    "audio": None,
                }
            )
        if skipped and not ctx.quiet:
            ctx.console.print(
                f"[yellow]{len(skipped)} unusable audio files skipped, e.g. {skipped[0][0]}: {skipped[0][1]}[/]"
            )
        return items, skipped, seconds, cached and bool(items)

    @staticmethod
    def _identity(path: Path) -> tuple[str, int, int]:
        """(path, size, mtime): what says a file is unchanged; (path, -1, -1) if unreadable."""
        try:
            stat = path.stat()
        except OSError:
            return str(path), -1, -1
        return str(path), stat.st_size, stat.st_mtime_ns

    def _file_features(self, path: Path, extractor: FeatureExtractor, o: SpeechConfig) -> dict:
        audio = self._cut(read_audio(path, o.sample_rate), o)
        window = int(o.sample_rate * extractor.settings.win_ms / 1000)
        if len(audio) <= window:
            raise BadAudio(f"too short ({len(audio)} samples; one analysis window is {window})")
        return {
            "features": torch.from_numpy(extractor(audio)),
            "seconds": len(audio) / o.sample_rate,
        }

    @staticmethod
    def _split(
        items: list[dict], labels: np.ndarray, o: SpeechConfig, seed: int, where: str
    ) -> dict[str, list[int]]:
        given = [i["split"] for i in items]
        if all(s is not None for s in given):
            parts = {
                s: [k for k, g in enumerate(given) if g == s] for s in ("train", "val", "test")
            }
            if (
                not parts["val"] and parts["train"]
            ):  # a test list alone: carve validation from training
                inner = stratified_split(
                    labels[parts["train"]], o.val_fraction / (1 - o.test_fraction), 0.0, seed
                )
                parts["val"] = [parts["train"][k] for k in inner["val"]]
                parts["train"] = [parts["train"][k] for k in inner["train"]]
            return parts
        return stratified_split(labels, o.val_fraction, o.test_fraction, seed)

    # -- model ----------------------------------------------------------------------

    def input_adapter(self, ctx: Context, spec: dict[str, Any]) -> SpecAugmentInput:
        return SpecAugmentInput(spec["features"], ctx.options.freq_mask, ctx.options.time_mask)

    def head(self, ctx: Context, spec: dict[str, Any], in_features: int) -> PooledHead:
        return PooledHead(in_features, spec["classes"], ctx.options.pooling, ctx.options.dropout)

    def loss(self, output: torch.Tensor, batch: dict[str, Any]) -> torch.Tensor:
        return F.cross_entropy(output.float(), batch["label"])

    # -- evaluation -------------------------------------------------------------------

    def evaluate(
        self, ctx: Context, model: Any, prepared: Prepared, split: str
    ) -> dict[str, float]:
        return classify.evaluate(model, prepared, split, ctx.device)

    def baselines(self, ctx: Context, prepared: Prepared) -> dict[str, dict[str, float]]:
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        items, parts, labels = (
            prepared.data["items"],
            prepared.data["parts"],
            prepared.data["labels"],
        )
        k = len(prepared.data["classes"])

        def summary(rows: list[int]) -> np.ndarray:  # mean and spread of each coefficient over time
            return np.stack(
                [
                    np.concatenate([items[r]["features"].mean(0), items[r]["features"].std(0)])
                    for r in rows
                ]
            )

        train, test = parts["train"], parts["test"]
        model = make_pipeline(
            StandardScaler(), LogisticRegression(max_iter=2000, C=1.0, random_state=ctx.seed)
        )
        model.fit(summary(train), labels[train])
        majority = np.full(len(test), np.bincount(labels[train], minlength=k).argmax())
        return {
            "majority": classification(labels[test], majority, k),
            "mfcc_stats_logreg": classification(labels[test], model.predict(summary(test)), k),
        }

    def report(self, ctx: Context, model: Any, prepared: Prepared, results: Results) -> None:
        classify.confusion_report(ctx, prepared, results, self.name)
        example = next((i for i in prepared.data["items"] if i.get("audio") is not None), None)
        audio = example["audio"].numpy() if example is not None else None
        if audio is None:
            first = prepared.data["items"][0]
            if Path(first["source"]).exists():
                audio = read_audio(first["source"], ctx.options.sample_rate)
            example = first
        if audio is not None:
            example_plot(
                audio,
                example["features"],
                ctx.options.sample_rate,
                example["label"],
                ctx.path("plots/example.png"),
            )
        self.audio_samples(ctx, prepared, results)
        skipped = prepared.data["skipped"]
        if skipped:
            atomic.write_text(
                ctx.path("skipped_files.txt"), "".join(f"{p}\t{why}\n" for p, why in skipped)
            )

    # -- inference ----------------------------------------------------------------------

    def predict(
        self, ctx: Context, model: Any, inputs: list[str], options: dict[str, Any]
    ) -> list[dict[str, Any]]:
        paths = [Path(p) for p in inputs]
        if options.get("data"):
            paths += [r.path for r in recordings.load(options["data"])]
        if not paths:
            raise UserError(
                "give audio files to classify, e.g. seqsuite predict RUN_DIR a.wav b.wav"
            )
        settings = FeatureSettings(**ctx.state["settings"])
        extractor = FeatureExtractor(settings)
        classes = ctx.state["classes"]
        rows: list[dict[str, Any]] = []
        features, kept = [], []
        for path in paths:
            try:
                audio = self._cut(read_audio(path, settings.sample_rate), ctx.options)
                if len(audio) <= int(settings.sample_rate * settings.win_ms / 1000):
                    raise BadAudio(f"too short ({len(audio)} samples)")
            except BadAudio as err:
                if len(paths) == 1:
                    raise UserError(f"{path}: {err}") from None
                rows.append(
                    {"file": str(path), "label": None, "probability": None, "error": str(err)}
                )
                continue
            features.append(torch.from_numpy(normalise(extractor(audio))))
            kept.append(len(rows))
            rows.append({"file": str(path)})
        if features:
            x, lengths = pad_sequences(features)
            split = ArraySplit({"x": x, "lengths": lengths}, bucket=True)
            probs = classify.class_probabilities(model, split, ctx.device)
            for row, q in zip(kept, probs, strict=True):
                rows[row].update(
                    label=classes[int(q.argmax())], probability=round(float(q.max()), 4), error=""
                )
        return rows

    def audio_samples(self, ctx: Context, prepared: Prepared, results: Results, count: int = 3):
        """A few test recordings whose audio is at hand, as ``samples/NN-TRUE-as-PRED.wav``,
        so that the report lets a person hear what the model heard."""
        items, classes = prepared.data["items"], prepared.data["classes"]
        written = 0
        for k, row in enumerate(prepared.data["parts"]["test"]):
            item = items[row]
            if item.get("audio") is not None:
                audio = np.asarray(item["audio"], dtype=np.float32)
            else:
                try:
                    audio = read_audio(item["source"], ctx.options.sample_rate)
                except (BadAudio, OSError):
                    continue
            heard = classes[int(results.test.outputs[k])]
            name = f"samples/{written + 1:02d}-{item['label']}-as-{heard}.wav"
            write_wav(ctx.path(name), audio, ctx.options.sample_rate)
            written += 1
            if written == count:
                break

    # -- in-memory data (seqsuite.fit, Hugging Face data sets) ----------------------------

    def write_data(self, ctx: Context, data: Any, folder: Path) -> Any:
        """Recordings in memory -> WAV files and ``manifest.csv`` (``path,label[,split]``).
        Takes a list of ``(waveform, sample_rate, label)`` or a
        :class:`~seqsuite.memory.Table` whose ``task.audio_column`` holds Hugging Face
        ``Audio`` values (``{"bytes", "path"}`` or ``{"array", "sampling_rate"}``; the
        layout of ``google/speech_commands``), decoded with soundfile."""
        import pandas as pd

        from seqsuite.memory import Table
        from seqsuite.task import DataFiles

        o = ctx.options
        if isinstance(data, Table):
            audio = data.column(o.audio_column, ["audio"], "audio", "task.audio_column")
            label = data.column(o.label_column, ["label"], "label", "task.label_column")
            frame = data.concat(split_column="split")
            rows = [
                (decode_audio(v, f"{data.name} row {k + 1}"), lab)
                for k, (v, lab) in enumerate(zip(frame[audio], frame[label], strict=True))
            ]
            splits = frame["split"].tolist() if "split" in frame else None
        else:
            rows, splits = _waveforms(data), None
        (folder / "audio").mkdir(parents=True, exist_ok=True)
        manifest = []
        for k, ((samples, rate), lab) in enumerate(rows):
            name = f"audio/{k:06d}.wav"
            write_wav(folder / name, samples, rate)
            manifest.append({"path": name, "label": str(lab)})
            if splits:
                manifest[-1]["split"] = splits[k]
        path = folder / "manifest.csv"
        atomic.write_text(path, pd.DataFrame(manifest).to_csv(index=False))
        return DataFiles(str(path))

    def predict_inputs(self, ctx: Context, obj: Any, folder: Path) -> tuple[list, dict]:
        """Recordings: file paths, or ``(waveform, sample_rate)`` pairs (written as WAV
        files into ``folder``), one or a list."""
        items = [obj] if isinstance(obj, tuple) else obj
        if isinstance(items, list) and any(isinstance(i, tuple) for i in items):
            paths = []
            for k, item in enumerate(items):
                if isinstance(item, tuple):
                    samples, rate = decode_audio({"array": item[0], "sampling_rate": item[1]}, k)
                    item = folder / f"input-{k:04d}.wav"
                    write_wav(item, samples, rate)
                paths.append(str(item))
            return paths, {}
        return super().predict_inputs(ctx, obj, folder)


def decode_audio(value: Any, where: Any) -> tuple[np.ndarray, int]:
    """A Hugging Face ``Audio`` value (undecoded ``{"bytes", "path"}`` or decoded
    ``{"array", "sampling_rate"}``) -> (samples, rate), decoded with soundfile."""
    import io

    import soundfile

    if isinstance(value, dict) and value.get("array") is not None:
        samples = np.asarray(value["array"], dtype=np.float32)
        return samples, int(value["sampling_rate"])
    source = None
    if isinstance(value, dict) and value.get("bytes"):
        source = io.BytesIO(value["bytes"])
    elif isinstance(value, dict) and value.get("path"):
        source = str(value["path"])
    if source is None:
        raise UserError(f"{where}: the audio value holds no bytes, array or path")
    try:
        samples, rate = soundfile.read(source, dtype="float32", always_2d=True)
    except Exception as err:  # noqa: BLE001 - libsndfile reports many kinds of damage
        raise UserError(f"{where}: cannot decode the audio ({err})") from None
    return samples.mean(axis=1), int(rate)


def write_wav(path: Path, samples: Any, rate: int) -> None:
    """Float samples as a 32-bit float WAV file, atomically."""
    import io

    import soundfile

    samples = np.asarray(samples, dtype=np.float32)
    if samples.ndim == 2:  # (channels, time) or (time, channels): mono by averaging
        samples = samples.mean(axis=0 if samples.shape[0] < samples.shape[1] else 1)
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, int(rate), format="WAV", subtype="FLOAT")
    atomic.write_bytes(path, buffer.getvalue())


def _waveforms(data: Any) -> list[tuple[tuple[np.ndarray, int], Any]]:
    """``[(waveform, rate, label), ...]`` -> ``[((samples, rate), label), ...]``."""
    try:
        return [((np.asarray(w, dtype=np.float32), int(r)), label) for w, r, label in data]
    except (TypeError, ValueError):
        raise UserError(
            "speech: expected a list of (waveform, sample_rate, label), a DataFrame or a "
            "Hugging Face data set with an Audio column"
        ) from None


def _packed(values: list[dict]) -> dict:
    """Per-file results as one tensor of frames plus per-file counts (fast to load)."""
    good = [v["features"] for v in values if "error" not in v]
    width = good[0].shape[1] if good else 0
    return {
        "features": torch.cat(good) if good else torch.zeros(0, width),
        "frames": torch.tensor([0 if "error" in v else len(v["features"]) for v in values]),
        "seconds": torch.tensor([v.get("seconds", 0.0) for v in values], dtype=torch.float64),
        "errors": [v.get("error", "") for v in values],
    }
