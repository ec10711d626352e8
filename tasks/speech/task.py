"""The speech task: which word was spoken, from log-mel frames.

Waveform -> mono at ``task.sample_rate`` -> log-mel energies, stored once in a
memory-mapped frame store (:mod:`.extract`) -> the model's front end (:mod:`.frontend`:
MFCCs, deltas, normalisation by the speaker's statistics (:mod:`.cmvn`); in training,
SpecAugment and optional warping and noise, drawn anew every epoch) -> the shared
backbone (bidirectional, packed) -> pooling -> class scores. Labels, splits, baselines
and prediction rows go through :mod:`seqsuite.classify`, as every classifier's do.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from seqsuite import atomic, classify
from seqsuite.batches import ArraySplit
from seqsuite.errors import UserError
from seqsuite.frame_store import FrameSplit
from seqsuite.heads import PooledHead
from seqsuite.task import Context, Evaluation, Prepared, Results, Task

from . import cmvn, sources
from . import data as recordings
from .audio import read_clip
from .features import FeatureSettings
from .frontend import FrontEndSettings, SpeechFrontEnd, summary
from .options import SpeechConfig
from .predictions import read_inputs, same_speaker_option
from .report import example_plot
from .sources import NAMED, Loaded, spoken_text

__all__ = ["SpeechConfig", "SpeechTask", "spoken_text"]


class SpeechTask(Task):
    name = "speech"
    summary = "spoken-word recognition from MFCCs (synthesised digits, or your recordings)"
    config_class = SpeechConfig
    datasets = tuple(NAMED)
    primary_metric = "accuracy"
    higher_is_better = True
    quick = {"train": {"epochs": 4}, "task": {"speakers": 40}}
    predict_options = {
        "probabilities": "true: a p(CLASS) column for every class",
        "same_speaker": "true: the files are one speaker's; normalise them by their statistics",
    }
    defaults = {
        "backbone": {"hidden_size": 128, "num_layers": 2, "bidirectional": True, "dropout": 0.2},
        "train": {"epochs": 20, "batch_size": 32, "lr": 2e-3, "patience": 6, "schedule": "cosine"},
    }

    # -- data -----------------------------------------------------------------------

    def prepare(self, ctx: Context) -> Prepared:
        started = time.perf_counter()
        settings = self._settings(ctx)
        loaded = sources.load(ctx, settings, ctx.config.run.dataset or self.default_dataset)
        o = ctx.options
        rows = loaded.usable()
        saved = (ctx.state or {}).get("classes")
        labels = [loaded.labels[r] for r in rows]
        encoded = classify.encode_labels(labels, loaded.where, saved, o.label_order)
        given = None if loaded.splits is None else [loaded.splits[r] for r in rows]
        parts = classify.choose_split(
            given, encoded.index, o.val_fraction, o.test_fraction, ctx.seed, loaded.where
        )
        splits = {
            k: FrameSplit(loaded.store, rows[part], encoded.index[part])
            for k, part in parts.items()
        }
        if min(s.size for s in splits.values()) == 0:
            raise UserError(
                f"{loaded.where}: too few usable recordings for a train / val / test split "
                f"({len(rows)})"
            )
        speakers = {k: [loaded.speakers[r] for r in rows[part]] for k, part in parts.items()}
        recordings_train = splits["train"]
        voices = None
        if ctx.config.run.data:
            voices = sources.synthesised(
                encoded.classes, o.synth_voices, ctx.seed, settings, o.max_seconds
            )
        if voices is not None:
            splits["train"] = FrameSplit.joined([splits["train"], voices[0]])
            speakers["train"] = speakers["train"] + voices[1]
        spec = self._spec(ctx, settings, len(encoded.classes))
        front = SpeechFrontEnd(self.front_end(ctx, spec))
        splits, stats = cmvn.normalised(o.normalise, front, splits, speakers, recordings_train)
        state = {
            "classes": encoded.classes,
            "settings": settings.to_state(),
            "normalise": o.normalise,  # the training data's statistics, for later files:
            "statistics": None if stats is None else stats.data_group(),
        }
        seconds = time.perf_counter() - started
        return self._prepared(ctx, loaded, state, rows, parts, splits, spec, seconds)

    def _prepared(self, ctx, loaded: Loaded, state, rows, parts, splits, spec, seconds) -> Prepared:
        store, classes = loaded.store, state["classes"]
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
        speakers = len({s for s in loaded.speakers if s is not None})
        return Prepared(
            train=train,
            val=val,
            test=test,
            spec=spec,
            state=state,
            dataset=loaded.name,
            summary=(
                f"{len(rows):,} utterances ({audio / 60:.1f} min of audio), {len(classes)} words"
                + (f", {speakers} speakers" if speakers else "")
                + f": {len(parts['train'])} train"
                + (f" + {synthesised} synthesised" if synthesised else "")
                + f" / {val.size} val / {test.size} test"
                + (f", {skipped} unusable files skipped" if skipped else "")
                + (f", {truncated} cut at {ctx.options.max_seconds:g} s" if truncated else "")
                + f"; features {speed}, ready in {seconds:.1f} s"
            ),
            info={
                "skipped_files": skipped,
                "truncated_examples": truncated,
                "synthesised_examples": synthesised,
                "speakers": speakers,
                "feature_seconds": round(seconds, 3),
            },
            refit_train=FrameSplit.joined([train, val]),
            data={
                "classes": classes,
                "store": store,
                "parts": {k: rows[v] for k, v in parts.items()},  # store rows per split
                "example": self._example(loaded, rows, splits["train"]),
            },
        )

    @staticmethod
    def _example(loaded: Loaded, rows: np.ndarray, train: FrameSplit) -> dict[str, Any]:
        """What the report draws: the first usable row, with the statistics it is read by."""
        row = int(rows[0])
        example = {"row": row, "label": loaded.labels[row], "source": loaded.example_source}
        first = np.flatnonzero((train.rows == row) & (train.which == 0))
        if train.groups is not None and len(first):
            group = int(train.groups[first[0]])
            example.update({name: table[group : group + 1] for name, table in train.tables.items()})
        return example

    def prepare_eval(self, ctx: Context) -> Prepared:
        """``eval RUN_DIR --data PATH``: every usable recording of PATH scored with the
        run's classes, feature settings and normalisation (its speakers' own statistics
        where the data says who spoke); no split, nothing refitted."""
        settings = self._settings(ctx)
        loaded = sources.load(ctx, settings, ctx.config.run.dataset or self.default_dataset)
        rows = loaded.usable()
        labels = [loaded.labels[r] for r in rows]
        classes = ctx.state["classes"]
        encoded = classify.encode_labels(labels, loaded.where, classes, ctx.options.label_order)
        spec = self._spec(ctx, settings, len(classes))
        split = cmvn.with_saved(
            ctx.state.get("normalise", "utterance"),
            self.input_adapter(ctx, spec),
            FrameSplit(loaded.store, rows, encoded.index),
            [loaded.speakers[r] for r in rows],
            ctx.state.get("statistics"),
        )
        return Prepared(
            train=split,
            val=split,
            test=split,
            spec=spec,
            state=ctx.state,
            dataset=loaded.name,
            info={
                "examples": len(rows),
                "skipped_files": loaded.store.meta["failed"],
                "truncated_examples": int(loaded.store.truncated_rows[rows].sum()),
            },
            data={"classes": classes, "store": loaded.store},
        )

    def _settings(self, ctx: Context) -> FeatureSettings:
        """The run's saved feature settings, or the options' for a new run."""
        saved = (ctx.state or {}).get("settings")
        return FeatureSettings.from_state(saved) if saved else ctx.options.feature_settings()

    def _spec(self, ctx: Context, settings: FeatureSettings, classes: int) -> dict[str, Any]:
        o = ctx.options
        return {
            "n_mels": settings.n_mels,
            "sample_rate": settings.sample_rate,
            "f_min": settings.f_min,
            "f_max": settings.top_frequency,
            "kind": o.features,
            "n_mfcc": o.n_mfcc,
            "deltas": o.deltas,
            "classes": classes,
        }

    # -- model ----------------------------------------------------------------------

    def input_adapter(self, ctx: Context, spec: dict[str, Any]) -> SpeechFrontEnd:
        """The front end, normalising by the run's training statistics (``state``) when
        a batch brings none of its own."""
        statistics = (ctx.state or {}).get("statistics")
        return SpeechFrontEnd(self.front_end(ctx, spec), tuple(statistics) if statistics else None)

    @staticmethod
    def front_end(ctx: Context, spec: dict[str, Any]) -> FrontEndSettings:
        """The front end's settings: what it computes from ``spec`` (saved), how it
        augments from the options."""
        o = ctx.options
        # runs made before the front end saved only the feature size: their options say
        spec = {
            "n_mels": o.n_mels,
            "kind": o.features,
            "n_mfcc": o.n_mfcc,
            "deltas": o.deltas,
            "sample_rate": o.sample_rate,
            "f_min": 0.0,
            "f_max": o.sample_rate / 2,
            **spec,
        }
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
        """Log-mel frames in dB, as the store holds them: (batch 2, 5 frames, n_mels).
        The exported front end normalises by the run's training statistics."""
        return {"x": torch.randn(2, 5, spec["n_mels"]) * 10 - 40}

    # -- evaluation -------------------------------------------------------------------

    def evaluate(self, ctx: Context, model: Any, prepared: Prepared, split: str) -> Evaluation:
        return classify.evaluate(model, prepared, split, ctx.device)

    #: the baseline is fitted on at most this many training utterances
    BASELINE_ROWS = 20_000

    def baselines(self, ctx: Context, prepared: Prepared) -> dict[str, Evaluation]:
        """The majority class, and a logistic regression on each utterance's mean and
        spread of every coefficient (what a model that ignores order can do), fitted on
        at most :attr:`BASELINE_ROWS` of the training recordings."""
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
            batch = {"x": torch.from_numpy(np.array(store.example(example["row"])))[None]}
            batch.update({k: example[k] for k in ("mean", "std") if k in example})
            model.eval()
            with torch.no_grad():
                seen = model.adapter({k: v.to(ctx.device) for k, v in batch.items()})
            example_plot(
                audio,
                seen[0].cpu().numpy(),
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

    # -- serving (seqsuite serve): see serving.py ----------------------------------------

    serve_examples = {"predict": {"audio": "<base64 of a WAV file>"}}

    def parse_request(self, ctx: Context, body: dict[str, Any]) -> list[bytes]:
        from .serving import parse

        return parse(body)

    def predict_batch(self, ctx: Context, model: Any, requests: list[list[bytes]]) -> list[dict]:
        from .serving import classify_uploads

        return classify_uploads(self, ctx, model, requests)

    # -- inference ----------------------------------------------------------------------

    def predict(
        self, ctx: Context, model: Any, inputs: list[str], options: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Each file's most likely word (see :mod:`.predictions` for bad files). Files are
        normalised by the run's training statistics, or with ``same_speaker`` by their
        own statistics together."""
        every_class = classify.every_class_option(options)
        together = same_speaker_option(options)
        listed = []
        if options.get("data"):
            found = recordings.load(options["data"], max_files=ctx.config.data.max_files)
            listed = [r.path for r in found]
        settings = self._settings(ctx)
        rows, frames, kept = read_inputs(
            [Path(p) for p in inputs], listed, settings, ctx.config.data, ctx.options.max_seconds
        )
        if frames:
            split = classify.labelled_split(frames, None, "x")
            if together and ctx.state.get("normalise", "utterance") != "utterance":
                split = self._one_speaker(ctx, model, split)
            probs = classify.class_probabilities(model, split, ctx.device)
            found_rows = classify.prediction_rows(
                probs, ctx.state["classes"], [rows[k] for k in kept], every_class
            )
            for k, row in zip(kept, found_rows, strict=True):
                rows[k] = {**row, "error": ""}
        return rows

    @staticmethod
    def _one_speaker(ctx: Context, model: Any, split: ArraySplit) -> ArraySplit:
        """``split`` with the statistics of all its files together as each one's."""
        groups = np.zeros(split.size, np.int32)
        stats = cmvn.statistics(cmvn.moments(split, model.adapter, groups, 1))
        per_file = {k: v.expand(split.size, -1, -1) for k, v in stats.tables().items()}
        return ArraySplit({**split.tensors, **per_file}, seq_key="x", bucket=True)
