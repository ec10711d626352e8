"""The speech task: which word was spoken, from log-mel frames.

Waveform -> mono at ``task.sample_rate`` -> log-mel energies, stored once in a
memory-mapped frame store (:mod:`.extract`) -> the model's front end (:mod:`.frontend`:
MFCCs, deltas, per-utterance normalisation; in training, vocal-tract-length
perturbation, noise and SpecAugment, drawn anew every epoch) -> the shared backbone
(bidirectional, packed) -> pooling -> class scores. Labels, splits, baselines and
prediction rows go through :mod:`seqsuite.classify`, as every classifier's do.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F

from seqsuite import atomic, classify
from seqsuite.errors import UserError
from seqsuite.frame_store import FrameSplit, FrameStore
from seqsuite.heads import PooledHead
from seqsuite.task import Context, Evaluation, Prepared, Results, Task

from . import data as recordings
from .audio import AudioLimit, BadAudio, read_clip
from .extract import SPLIT_CODES, files_store, synth_store, words_store
from .features import FeatureSettings, LogMel
from .frontend import FrontEndSettings, SpeechFrontEnd, summary
from .report import example_plot
from .synth import DIGITS


def spoken_text(label: str) -> str | None:
    """What eSpeak NG should say for a class label: the label itself when it looks like
    a word or a number ("yes", "0", "left turn"); None for labels such as "_unknown_"."""
    text = label.replace("_", " ").strip()
    if label.startswith("_") or not re.fullmatch(r"[A-Za-z0-9' -]{1,40}", text):
        return None
    return text


NAMED = {"digits": "the ten digits, synthesised by eSpeak NG over many accents and voices"}
SPLIT_NAMES = {code: name for name, code in SPLIT_CODES.items()}


@dataclass
class SpeechConfig:
    """The ``[task]`` section of ``seqsuite run speech``."""

    sample_rate: int = field(default=16_000, metadata={"min": 4000})
    features: Literal["mfcc", "logmel"] = "mfcc"
    n_mfcc: int = field(default=20, metadata={"min": 4})
    n_mels: int = field(default=40, metadata={"min": 8})
    f_max: float = field(
        default=0.0,
        metadata={"min": 0.0, "help": "highest frequency analysed (Hz); 0 = half the sample rate"},
    )
    deltas: int = field(
        default=1, metadata={"min": 0, "max": 2, "help": "0, 1 (deltas) or 2 (+ delta-deltas)"}
    )
    pooling: Literal["last", "mean", "max", "meanmax", "attention"] = "meanmax"
    dropout: float = field(default=0.3, metadata={"min": 0.0, "below": 1.0})
    warp: float = field(
        default=0.0,
        metadata={
            "min": 0.0,
            "below": 0.5,
            "help": "training: frequency axis scaled by 1 +- up to this (vocal tract length)",
        },
    )
    noise_snr: list[float] = field(
        default_factory=list,
        metadata={"help": "training: noise added at an SNR drawn from [low, high] dB; [] = none"},
    )
    freq_mask: int = field(
        default=4, metadata={"min": 0, "help": "SpecAugment: widest masked band (coefficients)"}
    )
    time_mask: int = field(
        default=10, metadata={"min": 0, "help": "SpecAugment: longest masked stretch (frames)"}
    )
    masks: int = field(
        default=1, metadata={"min": 1, "help": "SpecAugment: bands and stretches per utterance"}
    )
    synth_voices: int = field(
        default=0,
        metadata={
            "min": 0,
            "help": "your data: each label spoken by this many eSpeak NG voices, added to "
            "training (labels must be the words spoken; 0 = none)",
        },
    )
    max_seconds: float = field(
        default=4.0,
        metadata={"min": 0.1, "help": "longer audio is cut (counted as truncated_examples)"},
    )
    val_fraction: float = field(default=0.1, metadata={"min": 0.0, "below": 0.5})
    test_fraction: float = field(default=0.1, metadata={"min": 0.0, "below": 0.5})
    label_order: Literal["natural", "alphabetical", "first_seen"] = field(
        default="natural",
        metadata={"help": "class order: numbers (and number words) by value, a-z, or as listed"},
    )
    speakers: int = field(
        default=100, metadata={"min": 4, "help": "digits: training speakers (accent + voice)"}
    )
    takes: int = field(
        default=2, metadata={"min": 1, "help": "digits: utterances per speaker and word"}
    )

    def validate(self) -> None:
        snr = self.noise_snr
        if snr and (len(snr) != 2 or not snr[0] <= snr[1]):
            raise UserError(f"task.noise_snr: got {snr}, expected [low, high] in dB, or []")
        if self.f_max and self.f_max > self.sample_rate / 2:
            raise UserError(
                f"task.f_max: {self.f_max:g} Hz is above half the sample rate "
                f"({self.sample_rate / 2:g} Hz)"
            )

    def feature_settings(self) -> FeatureSettings:
        return FeatureSettings(self.sample_rate, self.n_mels, f_max=self.f_max)


@dataclass
class Loaded:
    """A store and what the listing says of its rows."""

    store: FrameStore
    labels: list[str]  # per row
    splits: list[str | None] | None  # per row, or None when the data gives no split
    name: str  # the data set's name
    where: str  # how errors name the data
    cached: bool
    example_source: str | None = None  # the first usable row's file (drawn in the report)


class SpeechTask(Task):
    name = "speech"
    summary = "spoken-word recognition from MFCCs (synthesised digits, or your recordings)"
    config_class = SpeechConfig
    datasets = tuple(NAMED)
    primary_metric = "accuracy"
    higher_is_better = True
    quick = {"train": {"epochs": 4}, "task": {"speakers": 40}}
    predict_options = {"probabilities": "true: a p(CLASS) column for every class"}
    defaults = {
        "backbone": {"hidden_size": 128, "num_layers": 2, "bidirectional": True, "dropout": 0.2},
        "train": {"epochs": 20, "batch_size": 32, "lr": 2e-3, "patience": 6, "schedule": "cosine"},
    }

    # -- data -----------------------------------------------------------------------

    def prepare(self, ctx: Context) -> Prepared:
        started = time.perf_counter()
        settings = self._settings(ctx)
        loaded = self._load(ctx, settings)
        seconds = time.perf_counter() - started
        store, o = loaded.store, ctx.options
        rows = self._usable(loaded)
        saved = (ctx.state or {}).get("classes")
        labels = [loaded.labels[r] for r in rows]
        encoded = classify.encode_labels(labels, loaded.where, saved, o.label_order)
        given = None if loaded.splits is None else [loaded.splits[r] for r in rows]
        parts = classify.choose_split(
            given, encoded.index, o.val_fraction, o.test_fraction, ctx.seed, loaded.where
        )
        splits = {
            name: FrameSplit(store, rows[part], encoded.index[part]) for name, part in parts.items()
        }
        voices = self._synthesised(ctx, settings, encoded.classes) if ctx.config.run.data else None
        if min(s.size for s in splits.values()) == 0:
            raise UserError(
                f"{loaded.where}: too few usable recordings for a train / val / test split "
                f"({len(rows)})"
            )
        if voices is not None:
            splits["train"] = FrameSplit.joined([splits["train"], voices])
        return self._prepared(ctx, loaded, settings, encoded.classes, rows, parts, splits, seconds)

    def _prepared(self, ctx, loaded, settings, classes, rows, parts, splits, seconds) -> Prepared:
        store = loaded.store
        audio = float(store.seconds[rows].sum())
        speed = (
            "from the cache"
            if loaded.cached
            else f"at {audio / max(seconds, 1e-9):.0f} s of audio per s"
        )
        skipped = store.meta["failed"]
        truncated = int(store.truncated_rows[rows].sum())
        train, val, test = splits["train"], splits["val"], splits["test"]
        synthesised = train.size - len(parts["train"])
        return Prepared(
            train=train,
            val=val,
            test=test,
            spec=self._spec(ctx, settings, len(classes)),
            state={"classes": classes, "settings": settings.to_state()},
            dataset=loaded.name,
            summary=(
                f"{len(rows):,} utterances ({audio / 60:.1f} min of audio), {len(classes)} words: "
                f"{len(parts['train'])} train"
                + (f" + {synthesised} synthesised" if synthesised else "")
                + f" / {val.size} val / {test.size} test"
                + (f", {skipped} unusable files skipped" if skipped else "")
                + (f", {truncated} cut at {ctx.options.max_seconds:g} s" if truncated else "")
                + f"; features {speed} in {seconds:.1f} s"
            ),
            info={
                "skipped_files": skipped,
                "truncated_examples": truncated,
                "synthesised_examples": synthesised,
                "feature_seconds": round(seconds, 3),
            },
            refit_train=FrameSplit.joined([train, val]),
            data={
                "classes": classes,
                "store": store,
                "parts": {k: rows[v] for k, v in parts.items()},  # store rows per split
                "example": {  # the report draws it
                    "row": int(rows[0]),
                    "label": loaded.labels[rows[0]],
                    "source": loaded.example_source,
                },
            },
        )

    def prepare_eval(self, ctx: Context) -> Prepared:
        """``eval RUN_DIR --data PATH``: every usable recording of PATH scored with the
        run's classes and feature settings (no split, nothing refitted)."""
        settings = self._settings(ctx)
        loaded = self._load(ctx, settings)
        rows = self._usable(loaded)
        labels = [loaded.labels[r] for r in rows]
        o = ctx.options
        encoded = classify.encode_labels(labels, loaded.where, ctx.state["classes"], o.label_order)
        split = FrameSplit(loaded.store, rows, encoded.index)
        classes = ctx.state["classes"]
        return Prepared(
            train=split,
            val=split,
            test=split,
            spec=self._spec(ctx, settings, len(classes)),
            state=ctx.state,
            dataset=loaded.name,
            info={
                "examples": len(rows),
                "skipped_files": loaded.store.meta["failed"],
                "truncated_examples": int(loaded.store.truncated_rows[rows].sum()),
            },
            data={"classes": classes, "store": loaded.store},
        )

    def _synthesised(
        self, ctx: Context, settings: FeatureSettings, classes: list[str]
    ) -> FrameSplit | None:
        """Each speakable class label said by ``task.synth_voices`` eSpeak NG voices
        (None when there are none to say)."""
        o = ctx.options
        spoken = {k: spoken_text(c) for k, c in enumerate(classes)}
        words = tuple(text for text in spoken.values() if text)
        if not o.synth_voices or not words:
            return None
        store, _ = words_store(words, ctx.seed, o.synth_voices, settings, o.max_seconds)
        to_class = np.array([k for k, text in spoken.items() if text])
        rows = store.usable
        return FrameSplit(store, rows, to_class[store.columns["label"][rows]])

    def _settings(self, ctx: Context) -> FeatureSettings:
        """The run's saved feature settings, or the options' for a new run."""
        saved = (ctx.state or {}).get("settings")
        return FeatureSettings.from_state(saved) if saved else ctx.options.feature_settings()

    def _spec(self, ctx: Context, settings: FeatureSettings, classes: int) -> dict[str, Any]:
        o = ctx.options
        front = {"kind": o.features, "n_mfcc": o.n_mfcc, "deltas": o.deltas}
        return {
            "n_mels": settings.n_mels,
            "sample_rate": settings.sample_rate,
            "f_min": settings.f_min,
            "f_max": settings.top_frequency,
            **front,
            "classes": classes,
        }

    def _load(self, ctx: Context, settings: FeatureSettings) -> Loaded:
        run, o = ctx.config.run, ctx.options
        if run.data:
            found = recordings.load(run.data, ctx.config.data.confine, ctx.config.data.max_files)
            store, cached, _ = files_store(
                found, run.data, settings, ctx.config.data, o.max_seconds
            )
            splits = [rec.split for rec in found]
            usable = store.usable
            return Loaded(
                store,
                [rec.label for rec in found],
                None if any(s is None for s in splits) else splits,
                Path(run.data).name,
                run.data,
                cached,
                str(found[usable[0]].path) if len(usable) else None,
            )
        name = run.dataset or self.default_dataset
        if name not in NAMED:
            raise UserError(f"--dataset {name!r}: unknown; embedded: {', '.join(NAMED)}")
        store, cached = synth_store(ctx.seed, o.speakers, o.takes, settings, o.max_seconds)
        labels = [DIGITS[k] for k in store.columns["label"]]
        splits = [SPLIT_NAMES.get(int(c)) for c in store.columns["split"]]
        return Loaded(store, labels, splits, name, name, cached)

    def _usable(self, loaded: Loaded) -> np.ndarray:
        """Rows with frames; if none, one line with the first reasons."""
        rows = loaded.store.usable
        if not len(rows):
            errors = loaded.store.errors(limit=3)
            reasons = "; ".join(f"{name}: {why}" for _, name, why in errors)
            raise UserError(
                f"{loaded.where}: no usable audio ({loaded.store.meta['failed']} files "
                f"skipped: {reasons})"
            )
        return rows

    # -- model ----------------------------------------------------------------------

    def input_adapter(self, ctx: Context, spec: dict[str, Any]) -> SpeechFrontEnd:
        return SpeechFrontEnd(self.front_end(ctx, spec))

    @staticmethod
    def front_end(ctx: Context, spec: dict[str, Any]) -> FrontEndSettings:
        """The front end's settings: what it computes from ``spec`` (saved), how it
        augments from the options."""
        o = ctx.options
        return FrontEndSettings(
            n_mels=spec["n_mels"],
            kind=spec["kind"],
            n_mfcc=spec["n_mfcc"],
            deltas=spec["deltas"],
            sample_rate=spec["sample_rate"],
            f_min=spec["f_min"],
            f_max=spec["f_max"],
            warp=o.warp,
            noise_snr=tuple(o.noise_snr) if o.noise_snr else (0.0, 0.0),
            freq_mask=o.freq_mask,
            time_mask=o.time_mask,
            masks=o.masks,
        )

    def head(self, ctx: Context, spec: dict[str, Any], in_features: int) -> PooledHead:
        return PooledHead(in_features, spec["classes"], ctx.options.pooling, ctx.options.dropout)

    def loss(self, output: torch.Tensor, batch: dict[str, Any]) -> torch.Tensor:
        return F.cross_entropy(output.float(), batch["label"])

    def export_inputs(self, ctx: Context, spec: dict[str, Any]) -> dict[str, torch.Tensor]:
        """Log-mel frames in dB, as the store holds them: (batch 2, 5 frames, n_mels)."""
        return {"x": torch.randn(2, 5, spec["n_mels"]) * 10 - 40}

    # -- evaluation -------------------------------------------------------------------

    def evaluate(self, ctx: Context, model: Any, prepared: Prepared, split: str) -> Evaluation:
        return classify.evaluate(model, prepared, split, ctx.device)

    #: the baseline is fitted on at most this many training utterances
    BASELINE_ROWS = 20_000

    def baselines(self, ctx: Context, prepared: Prepared) -> dict[str, Evaluation]:
        """The majority class, and a logistic regression on each utterance's mean and
        spread of every coefficient (what a model that ignores order can do), fitted on
        at most :attr:`BASELINE_ROWS` training utterances."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        store, rows = prepared.data["store"], prepared.data["parts"]
        front = self.front_end(ctx, prepared.spec)
        order = np.random.default_rng(ctx.seed).permutation(len(rows["train"]))
        picked = np.sort(order[: self.BASELINE_ROWS])
        train_y = prepared.train["label"].numpy()[picked]
        test_y = prepared.test["label"].numpy()
        features = {
            "train": store.summaries(rows["train"][picked], lambda x: summary(x, front)),
            "test": store.summaries(rows["test"], lambda x: summary(x, front)),
        }
        model = make_pipeline(
            StandardScaler(), LogisticRegression(max_iter=2000, C=1.0, random_state=ctx.seed)
        )
        n = len(picked)
        return classify.baselines(
            np.concatenate([train_y, test_y]),
            {"train": list(range(n)), "test": list(range(n, n + len(test_y)))},
            len(prepared.data["classes"]),
            {"mfcc_stats_logreg": (model, features["train"], features["test"])},
        )

    def report(self, ctx: Context, model: Any, prepared: Prepared, results: Results) -> None:
        classify.confusion_report(ctx, prepared, results, self.name)
        store, example = prepared.data["store"], prepared.data["example"]
        settings = self._settings(ctx)
        if example["source"]:
            audio = read_clip(
                example["source"], settings.sample_rate, ctx.config.data, ctx.options.max_seconds
            ).samples
        else:
            audio = store.columns.get("example_audio", np.zeros(0, np.float32))
        if len(audio):
            frames = torch.from_numpy(np.array(store.example(example["row"])))[None]
            model.eval()
            with torch.no_grad():
                seen = model.adapter({"x": frames.to(ctx.device)})[0].cpu().numpy()
            example_plot(
                audio,
                seen,
                self.front_end(ctx, prepared.spec),
                settings.hop_ms,
                example["label"],
                ctx.path("plots/example.png"),
            )
        errors = store.errors()
        if errors:
            atomic.write_text(
                ctx.path("skipped_files.txt"),
                "".join(f"{name}\t{why}\n" for _, name, why in errors),
            )

    # -- inference ----------------------------------------------------------------------

    def predict(
        self, ctx: Context, model: Any, inputs: list[str], options: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Each file's most likely word. A file given by name that breaks a ``[data]``
        limit, or a single file that cannot be read, is refused (exit 2); among several
        (or in ``--option data=FOLDER``) an unusable file gets a row saying why."""
        every_class = classify.every_class_option(options)
        named = [Path(p) for p in inputs]
        listed = []
        if options.get("data"):
            found = recordings.load(options["data"], max_files=ctx.config.data.max_files)
            listed = [r.path for r in found]
        paths = named + listed
        if not paths:
            raise UserError(
                "give audio files to classify, e.g. seqsuite predict RUN_DIR a.wav b.wav"
            )
        settings = self._settings(ctx)
        extractor = LogMel(settings)
        rows: list[dict[str, Any]] = []
        frames, kept = [], []
        for k, path in enumerate(paths):
            try:
                clip = read_clip(
                    path, settings.sample_rate, ctx.config.data, ctx.options.max_seconds
                )
                if len(clip.samples) <= settings.window:
                    raise BadAudio(f"too short ({len(clip.samples)} samples)")
            except BadAudio as err:
                explicit = k < len(named)
                if explicit and (isinstance(err, AudioLimit) or len(paths) == 1):
                    raise UserError(f"{path}: {err}") from None
                rows.append(
                    {"file": str(path), "label": None, "probability": None, "error": str(err)}
                )
                continue
            frames.append(torch.from_numpy(extractor(clip.samples)))
            kept.append(len(rows))
            rows.append({"file": str(path)})
        if frames:
            split = classify.labelled_split(frames, None, "x")
            probs = classify.class_probabilities(model, split, ctx.device)
            classes = ctx.state["classes"]
            found_rows = classify.prediction_rows(
                probs, classes, [rows[k] for k in kept], every_class
            )
            for k, row in zip(kept, found_rows, strict=True):
                rows[k] = {**row, "error": ""}
        return rows
