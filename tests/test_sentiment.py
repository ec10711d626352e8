"""The sentiment task: tokens, packing, labels, predictions, transfer, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from seqsuite.adapters import TokenInput
from seqsuite.backbone import Backbone, BackboneConfig
from seqsuite.batches import ArraySplit
from seqsuite.heads import PooledHead
from seqsuite.model import SequenceModel
from seqsuite.splits import stratified_split
from seqsuite.vocab import Vocabulary
from seqsuite_tasks.sentiment.data import clean_tweet
from seqsuite_tasks.sentiment.task import normalize, pad_tokens

SMALL = [
    "--epochs",
    "2",
    "--set",
    "backbone.hidden_size=8",
    "--set",
    "train.batch_size=16",
    "--set",
    "task.min_freq=1",
]
GOOD = [
    "a great movie",
    "wonderful and moving",
    "truly great acting",
    "I loved it",
    "a joy to watch",
]
BAD = ["dull and too long", "a boring mess", "terrible acting", "I hated it", "a waste of time"]


def reviews(path: Path, n: int = 60, **columns) -> Path:
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n):
        label = i % 2
        text = rng.choice(GOOD if label else BAD)
        rows.append({"text": text, "label": "pos" if label else "neg", "other": i})
    frame = pd.DataFrame(rows).rename(columns=columns)
    frame.to_csv(path, index=False)
    return path


def test_word_tokens_fold_urls_and_mentions():
    vocab = Vocabulary("word", lowercase=True)
    assert vocab.split(normalize("Loved it!! @bob see http://x.co/a")) == [
        "loved",
        "it",
        "!",
        "!",
        "@",
        "user",
        "see",
        "http",
    ]


def test_tweet_mojibake_is_repaired():
    assert clean_tweet("I donÕ¢_\x8aÎ_\x86¢t want either &amp; you") == "I don't want either & you"
    assert (
        clean_tweet("Sadie hates the google car. Õ\x8d\x81ô\x8fÒ_Ñ_")
        == "Sadie hates the google car. ..."
    )


def test_stratified_split_keeps_class_shares_and_is_seeded():
    labels = np.array([0] * 80 + [1] * 20)
    parts = stratified_split(labels, 0.1, 0.1, seed=3)
    assert sorted(parts["train"] + parts["val"] + parts["test"]) == list(range(100))
    assert (labels[parts["test"]] == 1).sum() == 2 and len(parts["test"]) == 10
    assert (
        stratified_split(labels, 0.1, 0.1, seed=3)
        == parts
        != stratified_split(labels, 0.1, 0.1, seed=4)
    )


@pytest.mark.parametrize("pooling", PooledHead.POOLINGS)
def test_padded_batch_gives_the_same_logits_as_one_by_one(pooling):
    torch.manual_seed(0)
    backbone = Backbone(6, BackboneConfig(hidden_size=5, bidirectional=True))
    model = SequenceModel(TokenInput(20, 6), backbone, PooledHead(10, 3, pooling)).eval()
    texts = [[3, 4, 5, 6, 7], [8, 9], [10, 11, 12]]
    tokens, lengths = pad_tokens(texts)
    split = ArraySplit({"tokens": tokens, "lengths": lengths}, seq_key="tokens", bucket=True)
    together = torch.zeros(3, 3)
    for batch in split.batches(3):
        together[batch["index"]] = model(batch)[0].detach()
    for i, ids in enumerate(texts):
        alone = model({"tokens": torch.tensor([ids]), "lengths": torch.tensor([len(ids)])})[0]
        torch.testing.assert_close(together[i], alone[0].detach(), atol=1e-5, rtol=1e-5)


def test_bucketing_groups_similar_lengths_and_cuts_padding():
    lengths = torch.tensor([1, 9, 2, 8, 3, 7, 4, 6] * 25)
    split = ArraySplit({"x": torch.zeros(200, 9), "lengths": lengths}, bucket=True)
    widths = [
        b["x"].shape[1]
        for b in split.batches(8, shuffle=True, generator=torch.Generator().manual_seed(0))
    ]
    assert sum(widths) / len(widths) < 7  # unbucketed, nearly every batch would be 9 wide
    seen = torch.cat(
        [b["index"] for b in split.batches(8, shuffle=True, generator=torch.Generator())]
    )
    assert sorted(seen.tolist()) == list(range(200))


def test_run_predict_and_labels(cli, tmp_path):
    data = reviews(tmp_path / "reviews.csv")
    result = cli("run", "sentiment", "--data", str(data), "--out", "r", *SMALL)
    assert result.code == 0, result.err
    metrics = json.loads(Path("r/metrics.json").read_text())
    assert set(metrics["test"]) == {"accuracy", "macro_f1"}
    assert set(metrics["baselines"]) == {"majority", "bow_logreg"}
    assert Path("r/plots/confusion.png").exists()
    state = json.loads(Path("r/task_state.json").read_text())["state"]
    assert state["classes"] == ["neg", "pos"]

    predicted = cli("predict", "r", "a great movie", "a boring mess", "zxqv unseen words", "--json")
    assert predicted.code == 0, predicted.err
    rows = json.loads(predicted.out)
    assert [r["text"] for r in rows] == ["a great movie", "a boring mess", "zxqv unseen words"]
    assert all(r["label"] in {"neg", "pos"} and 0.5 <= r["probability"] <= 1 for r in rows)

    out = cli("predict", "r", "--data", str(data), "--out", "preds.csv")
    assert out.code == 0 and len(pd.read_csv("preds.csv")) == 60


def test_numeric_labels_and_renamed_columns(cli, tmp_path):
    data = reviews(tmp_path / "r.tsv", text="review", label="stars")
    frame = pd.read_csv(data)
    frame["stars"] = frame["stars"].map({"neg": 1, "pos": 5})
    frame.to_csv(data, sep="\t", index=False)
    args = ["--set", "task.text_column='review'", "--set", "task.label_column='stars'"]
    result = cli("run", "sentiment", "--data", str(data), "--out", "r", *SMALL, *args)
    assert result.code == 0, result.err
    assert json.loads(Path("r/task_state.json").read_text())["state"]["classes"] == ["1", "5"]


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: reviews(p, label="y"), "no label column 'label'"),
        (lambda p: reviews(p, text="txt"), "did you mean 'txt'"),
        (
            lambda p: (
                pd.DataFrame({"text": [""] * 30, "label": ["a", "b"] * 15}).to_csv(p, index=False),
                p,
            )[1],
            "holds no text",
        ),
        (
            lambda p: (
                pd.DataFrame({"text": GOOD * 6, "label": ["pos"] * 30}).to_csv(p, index=False),
                p,
            )[1],
            "single class",
        ),
    ],
)
def test_bad_input_is_one_clear_line(cli, tmp_path, make, message):
    data = make(tmp_path / "bad.csv")
    result = cli("run", "sentiment", "--data", str(data), "--out", "r", *SMALL)
    assert result.code == 2 and message in result.err and len(result.err.strip().splitlines()) == 1
    assert not Path("r").exists()


def test_transfer_from_a_word_language_model(cli, tmp_path):
    text = tmp_path / "unlabelled.txt"
    text.write_text(" ".join(GOOD + BAD) * 40)
    lm = cli(
        "run",
        "textgen",
        "--data",
        str(text),
        "--out",
        "lm",
        "--epochs",
        "1",
        "--set",
        "task.level='word'",
        "--set",
        "backbone.hidden_size=12",
        "--set",
        "backbone.num_layers=1",
        "--set",
        "backbone.dropout=0.0",
        "--set",
        "task.bptt=10",
        "--set",
        "train.time_budget=0",
        "--set",
        "train.batch_size=4",
        "--set",
        "task.sample_length=5",
    )
    assert lm.code == 0, lm.err
    data = reviews(tmp_path / "reviews.csv")
    result = cli(
        "run",
        "sentiment",
        "--data",
        str(data),
        "--out",
        "r",
        "--init-from",
        "lm",
        "--epochs",
        "1",
        "--set",
        "task.min_freq=1",
        "--set",
        "train.layer_lr_decay=2.6",
        "--set",
        "train.unfreeze_epochs=1",
    )
    assert result.code == 0, result.err
    assert "words copied from the source vocabulary" in result.out
    config = (Path("r") / "config.toml").read_text()
    assert (
        "hidden_size = 12" in config and "bidirectional = false" in config
    )  # the source's backbone

    mismatch = cli(
        "run",
        "sentiment",
        "--data",
        str(data),
        "--out",
        "s",
        "--init-from",
        "lm",
        "--set",
        "backbone.hidden_size=16",
        *SMALL[:2],
    )
    assert mismatch.code == 2 and "has shape" in mismatch.err and not Path("s").exists()


def test_discriminative_learning_rates_and_gradual_unfreezing():
    from seqsuite import TrainConfig, Trainer

    torch.manual_seed(0)
    backbone = Backbone(4, BackboneConfig(hidden_size=4, num_layers=2))
    model = SequenceModel(TokenInput(10, 4), backbone, PooledHead(4, 2))
    trainer = Trainer(TrainConfig(lr=1.0, layer_lr_decay=2.0, unfreeze_epochs=1))
    groups = trainer.make_optimizer(model).param_groups
    assert [g["lr"] for g in groups] == [1.0, 0.5, 0.25, 0.125]  # head, layer 1, layer 0, embedding
    trainer._unfreeze(model, epoch=0)
    assert all(p.requires_grad for p in model.head.parameters())
    assert not any(p.requires_grad for p in model.adapter.parameters())
    trainer._unfreeze(model, epoch=3)
    assert all(p.requires_grad for p in model.parameters())
