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
from seqsuite.input_files import regular_file
from seqsuite.task import Context, Evaluation, Prepared, Results, Task

from . import cmvn, sources
from . import data as recordings
from .audio import BadAudio, read_clip
from .features import FeatureSettings, trimmed_seconds
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
        who = [loaded.speakers[r] for r in rows]
        # what the data does not split is split by speaker where it says who spoke: a
        # voice held out judges the epoch and the score for voices never heard
        parts = classify.choose_split(
            given, encoded.index, o.val_fraction, o.test_fraction, ctx.seed, loaded.where, who
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
        apart = classify.groups_apart(parts, who)
        return self._prepared(ctx, loaded, state, rows, parts, splits, spec, seconds, apart)

    def _prepared(
        self, ctx, loaded: Loaded, state, rows, parts, splits, spec, seconds, apart: bool
    ) -> Prepared:
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
                + (" (speakers apart)" if apart else "")
                + (f", {skipped} unusable files skipped" if skipped else "")
                + (f", {truncated} cut at {ctx.options.max_seconds:g} s" if truncated else "")
                + (f"; {twins}" if (twins := classify.case_twins(classes)) else "")
                + f"; features {speed}, ready in {seconds:.1f} s"
            ),
            info={
                "skipped_files": skipped,
                "truncated_examples": truncated,
                "synthesised_examples": synthesised,
                "speakers": speakers,
                "speakers_apart": apart,
                "feature_seconds": round(seconds, 3),
            },
            refit_train=FrameSplit.joined([train, val]),
            data={
                "classes": classes,
                "store": store,
                "paths": loaded.paths,
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
        return {"x": torch.randn(2, 5, self.front_end(ctx, spec).n_mels) * 10 - 40}

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
                start=trimmed_seconds(audio, settings),
            )
        self.audio_samples(ctx, prepared, results)
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
        listed, speakers = [], [None] * len(inputs)
        if options.get("data"):
            found = recordings.load(options["data"], max_files=ctx.config.data.max_files)
            listed = [r.path for r in found]
            speakers += [r.speaker for r in found]
        settings = self._settings(ctx)
        rows, frames, kept = read_inputs(
            [Path(p) for p in inputs], listed, settings, ctx.config.data, ctx.options.max_seconds
        )
        if frames:
            split = classify.labelled_split(frames, None, "x")
            mode = ctx.state.get("normalise", "utterance")
            if together and mode != "utterance":
                if len({speakers[k] for k in kept} - {None}) > 1:
                    ctx.console.print(
                        "[yellow]note:[/] same_speaker=true: the files are normalised as one "
                        "speaker's, although the data names several; leave it out to "
                        "normalise by each speaker's files"
                    )
                split = self._one_speaker(ctx, model, split)
            elif mode == "speaker" and any(speakers[k] is not None for k in kept):
                split = self._by_speaker(ctx, model, split, [speakers[k] for k in kept])
            probs = classify.class_probabilities(model, split, ctx.device)
            found_rows = classify.prediction_rows(
                probs, ctx.state["classes"], [rows[k] for k in kept], every_class
            )
            for k, row in zip(kept, found_rows, strict=True):
                rows[k] = {**row, "error": ""}
        return rows

    @staticmethod
    def _by_speaker(
        ctx: Context, model: Any, split: ArraySplit, speakers: list[str | None]
    ) -> ArraySplit:
        """``split`` normalised as ``eval --data`` normalises the same files: by their
        speaker's statistics where the data says who spoke, by the run's training
        statistics elsewhere (a manifest's ``speaker`` column was ignored: the same
        files scored 90 % under ``eval`` and 74 % under ``predict``)."""
        saved = ctx.state.get("statistics")
        if not saved:
            return split
        ids, stats = cmvn.saved_groups(split, model.adapter, speakers, saved)
        rows = torch.from_numpy(ids).long()
        per_file = {k: v[rows] for k, v in stats.tables().items()}
        return ArraySplit({**split.tensors, **per_file}, seq_key="x", bucket=True)

    @staticmethod
    def _one_speaker(ctx: Context, model: Any, split: ArraySplit) -> ArraySplit:
        """``split`` with the statistics of all its files together as each one's."""
        groups = np.zeros(split.size, np.int32)
        stats = cmvn.statistics(cmvn.moments(split, model.adapter, groups, 1))
        per_file = {k: v.expand(split.size, -1, -1) for k, v in stats.tables().items()}
        return ArraySplit({**split.tensors, **per_file}, seq_key="x", bucket=True)

    def audio_samples(self, ctx: Context, prepared: Prepared, results: Results, count: int = 3):
        """A few test recordings read from their files, as ``samples/NN-TRUE-as-PRED.wav``,
        so that the report lets a person hear what the model heard (none for the
        synthesised digits, which have no files)."""
        paths, classes = prepared.data.get("paths"), prepared.data["classes"]
        if not paths:
            return
        written = 0
        for k, row in enumerate(prepared.data["parts"]["test"]):
            try:
                clip = read_clip(
                    paths[row], ctx.options.sample_rate, ctx.config.data, ctx.options.max_seconds
                )
            except (BadAudio, OSError):
                continue
            truth = classes[int(prepared.test["label"][k])]
            heard = classes[int(results.test.outputs[k])]
            name = f"samples/{written + 1:02d}-{truth}-as-{heard}.wav"
            write_wav(ctx.path(name), clip.samples, ctx.options.sample_rate)
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
        source = str(regular_file(value["path"], "audio file"))
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
