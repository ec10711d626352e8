"""The sentiment task: tokens, packing, labels, predictions, transfer, bad input."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from seqsuite import classify
from seqsuite.adapters import TokenInput
from seqsuite.assembly import load
from seqsuite.backbone import Backbone, BackboneConfig
from seqsuite.heads import PooledHead
from seqsuite.model import SequenceModel
from seqsuite.vocab import Vocabulary
from seqsuite_tasks.sentiment.data import clean_tweet
from seqsuite_tasks.sentiment.task import tokenize

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
TRAINED = [
    "--epochs",
    "12",
    "--set",
    "backbone.hidden_size=16",
    "--set",
    "train.batch_size=16",
    "--set",
    "train.patience=0",
    "--set",
    "task.min_freq=1",
    "--set",
    "task.embedding_dim=16",
]
BAD = ["dull and too long", "a boring mess", "terrible acting", "I hated it", "a waste of time"]


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQSUITE_CACHE", str(tmp_path / "cache"))


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
    assert tokenize("Loved it!! @bob see http://x.co/a", 100) == (
        ["loved", "it", "!", "!", "@", "user", "see", "http"],
        False,
    )
    assert tokenize("One two three four", 3, lowercase=False) == (["One", "two", "three"], True)
    assert tokenize("a b c", 3) == (["a", "b", "c"], False)


def test_tweet_mojibake_is_repaired():
    assert clean_tweet("I donÕ¢_\x8aÎ_\x86¢t want either &amp; you") == "I don't want either & you"
    assert (
        clean_tweet("Sadie hates the google car. Õ\x8d\x81ô\x8fÒ_Ñ_")
        == "Sadie hates the google car. ..."
    )


def test_run_then_predict_classifies_clear_texts_after_short_training(cli, tmp_path):
    data = reviews(tmp_path / "reviews.csv", n=120)
    result = cli("run", "sentiment", "--data", str(data), "--out", "r", *TRAINED)
    assert result.code == 0, result.err
    metrics = json.loads(Path("r/metrics.json").read_text())
    assert set(metrics["test"]) == {"accuracy", "macro_f1"}
    assert set(metrics["baselines"]) == {"majority", "bow_logreg"}
    assert metrics["test"]["accuracy"] == 1.0  # the set is easy: every phrase says its class
    assert Path("r/plots/confusion.png").exists()
    state = json.loads(Path("r/task_state.json").read_text())["state"]
    assert state["classes"] == ["neg", "pos"]

    texts = ["truly great acting", "a boring mess", "zxqv unseen words"]
    predicted = cli("predict", "r", *texts, "--json", "--option", "probabilities=true")
    assert predicted.code == 0, predicted.err
    rows = json.loads(predicted.out)
    assert [r["text"] for r in rows] == texts
    assert [r["label"] for r in rows[:2]] == ["pos", "neg"]
    run = load("r", quiet=True)
    index = Vocabulary.from_dict(state["vocab"]).index
    ids = [[index.get(w, 1) for w in tokenize(t, 100)[0]] for t in texts]
    split = classify.labelled_split([torch.tensor(i) for i in ids], None, "tokens")
    expected = classify.class_probabilities(run.model, split, run.ctx.device)
    for row, p in zip(rows, expected, strict=True):
        assert row["p(neg)"] + row["p(pos)"] == pytest.approx(1.0, abs=1e-3)
        assert [row["p(neg)"], row["p(pos)"]] == pytest.approx(p.tolist(), abs=1e-4)
        assert row["probability"] == pytest.approx(p.max(), abs=1e-4)

    out = cli("predict", "r", "--data", str(data), "--out", "preds.csv")
    assert out.code == 0 and len(pd.read_csv("preds.csv")) == 120
    frame = pd.read_csv("preds.csv")
    assert (frame["label"] == pd.read_csv(data)["label"]).all()
    pd.read_csv(data).rename(columns={"text": "review"}).to_csv("renamed.csv", index=False)
    missing = cli("predict", "r", "--data", "renamed.csv")
    assert missing.code == 2 and "--option text_column" in missing.err
    renamed = cli("predict", "r", "--data", "renamed.csv", "--option", "text_column=review")
    assert renamed.code == 0, renamed.err


def test_label_order_option(cli, tmp_path):
    data = reviews(tmp_path / "reviews.csv")
    frame = pd.read_csv(data)
    frame["label"] = frame["label"].map({"neg": "10", "pos": "9"})
    frame.to_csv(data, index=False)
    assert cli("run", "sentiment", "--data", str(data), "--out", "a", *SMALL).code == 0
    assert json.loads(Path("a/task_state.json").read_text())["state"]["classes"] == ["9", "10"]
    order = ["--set", "task.label_order='first_seen'"]
    assert cli("run", "sentiment", "--data", str(data), "--out", "b", *SMALL, *order).code == 0
    assert json.loads(Path("b/task_state.json").read_text())["state"]["classes"] == ["10", "9"]


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


def test_transfer_from_a_bidirectional_language_model(cli, tmp_path):
    text = tmp_path / "unlabelled.txt"
    text.write_text("".join(f"{t}\n" for t in GOOD + BAD) * 20)
    tiny = ["--set", "backbone.hidden_size=12", "--set", "task.embedding_dim=10"]
    lm = cli(
        "run",
        "bilm",
        "--data",
        str(text),
        "--out",
        "lm",
        "--epochs",
        "10",
        *tiny,
        "--set",
        "task.min_freq=1",
        "--set",
        "train.lr=0.01",
    )
    assert lm.code == 0, lm.err
    metrics = json.loads(Path("lm/metrics.json").read_text())
    history = pd.read_csv("lm/history.csv")
    assert metrics["val"]["nll"] < np.log(30)  # better than guessing among the ~30 words
    assert history["train_loss"].iloc[-1] < history["train_loss"].iloc[0]

    data = reviews(tmp_path / "reviews.csv")
    tuned = ["--epochs", "2", "--set", "task.min_freq=1", "--set", "train.layer_lr_decay=2.6"]
    tuned += ["--set", "train.unfreeze_epochs=1"]
    result = cli("run", "sentiment", "--data", str(data), "--out", "r", "--init-from", "lm", *tuned)
    assert result.code == 0, result.err
    config = (Path("r") / "config.toml").read_text()
    assert "hidden_size = 12" in config and "bidirectional = true" in config  # the source's
    vocab = json.loads(Path("lm/task_state.json").read_text())["state"]["vocab"]["tokens"]
    mine = json.loads(Path("r/task_state.json").read_text())["state"]["vocab"]["tokens"]
    start = torch.load("r/best.pt", weights_only=True)["model"]
    assert start["adapter.embedding.weight"].shape[1] == 10  # the source's embedding size
    shared = [w for w in mine if w in vocab]
    copied = f"embedding: {len(shared)} of {len(mine)} words copied from the source vocabulary"
    assert len(shared) > 10 and copied in " ".join(result.out.split())

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
    two_layers = cli(
        "run", "bilm", "--data", str(text), "--out", "x", "--set", "backbone.num_layers=2"
    )
    assert two_layers.code == 2 and "num_layers = 1" in two_layers.err


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


def _prepare(data: Path, *sets: str):
    """The sentiment task's prepare on ``data``, as ``seqsuite run`` calls it."""
    from rich.console import Console

    from seqsuite import config as configs
    from seqsuite.registry import get_task
    from seqsuite.task import Context

    task = get_task("sentiment")
    config = configs.resolve(
        task, sets=list(sets), flags={"run": {"data": str(data), "dataset": ""}}
    )
    ctx = Context(
        config=config, device=torch.device("cpu"), console=Console(quiet=True), quiet=True
    )
    return task.prepare(ctx)


def test_a_very_long_row_is_cut_and_read_in_bounded_memory(cli, tmp_path):
    import tracemalloc

    data = reviews(tmp_path / "long.csv", n=60)
    row = "word " * 1_000_000  # 5 M characters in one text
    with data.open("a") as handle:
        handle.write(f"{row},pos,60\n")
    limit = ["--set", "data.max_line_chars=4000000"]
    refused = cli("run", "sentiment", "--data", str(data), "--out", "r", *SMALL, *limit)
    assert refused.code == 2 and len(refused.err.strip().splitlines()) == 1
    assert (
        "data row 61 holds a field or line longer than data.max_line_chars (4,000,000"
        in refused.err
    )

    tracemalloc.start()
    try:
        prepared = _prepare(data)  # within the default limit (10 M characters)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert prepared.info["examples_truncated"] == 1 and prepared.info["max_length"] == 100
    assert peak < 12 * len(row)  # the row's own size, a few times over; not the whole file's
    assert prepared.data["store"].lengths.max() == 100
    again = _prepare(data)
    assert again.info["tokens_from_cache"] and again.info["examples_truncated"] == 1


def test_too_many_rows_or_a_fifo_is_one_clear_line(cli, tmp_path):
    data = reviews(tmp_path / "reviews.csv")
    many = cli(
        "run", "sentiment", "--data", str(data), "--out", "r", *SMALL, "--set", "data.max_rows=10"
    )
    assert many.code == 2 and "more than 10 rows (data.max_rows)" in many.err
    assert len(many.err.strip().splitlines()) == 1
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    piped = cli("run", "sentiment", "--data", str(fifo), "--out", "r", *SMALL)
    assert piped.code == 2 and "not a regular file" in piped.err and not Path("r").exists()


def test_json_lines_with_a_split_column_and_eval_on_another_file(cli, tmp_path):
    rows = pd.read_csv(reviews(tmp_path / "r.csv", n=60))
    rows["split"] = ["test"] * 10 + ["val"] * 10 + ["train"] * 40
    rows.to_json(tmp_path / "r.jsonl", orient="records", lines=True)
    result = cli("run", "sentiment", "--data", str(tmp_path / "r.jsonl"), "--out", "r", *SMALL)
    assert result.code == 0, result.err
    assert "40 train / 10 val / 10 test" in result.out.replace("\n", " ")
    other = pd.DataFrame(
        {"text": ["a joy to watch", "a boring mess", "well"], "label": ["pos", "neg", "pos"]}
    )
    other.to_csv(tmp_path / "other.csv", index=False)
    evaluated = cli("eval", "r", "--data", str(tmp_path / "other.csv"))
    assert evaluated.code == 0, evaluated.err
    report = json.loads(Path("r/eval.json").read_text())
    assert report["data"]["examples"] == 3 and set(report["test"]) == {"accuracy", "macro_f1"}
    other.assign(label=["pos", "meh", "neg"]).to_csv(tmp_path / "bad.csv", index=False)
    unknown = cli("eval", "r", "--data", str(tmp_path / "bad.csv"))
    assert unknown.code == 2 and "labels ['meh'] are not among" in unknown.err


def _vectors(words: dict[str, list[float]], path: Path, binary: bool) -> Path:
    """A word2vec file: text (``COUNT DIM`` then ``word v1 v2 ...``) or binary."""
    dim = len(next(iter(words.values())))
    if not binary:
        lines = [f"{len(words)} {dim}"] + [
            f"{w} " + " ".join(f"{v:.6f}" for v in vec) for w, vec in words.items()
        ]
        path.write_text("\n".join(lines) + "\n")
        return path
    body = b"".join(
        w.encode() + b" " + np.asarray(vec, "<f4").tobytes() + b"\n" for w, vec in words.items()
    )
    path.write_bytes(f"{len(words)} {dim}\n".encode() + body)
    return path


@pytest.mark.parametrize("binary", [False, True])
def test_pretrained_vectors_initialise_the_embedding(cli, tmp_path, binary):
    rng = np.random.default_rng(0)
    words = {w: rng.normal(size=6).round(4).tolist() for w in ["great", "Boring", "zzz"]}
    words["boring"] = [0.5] * 6  # an exact match wins over the capitalised one
    words["Movie"] = [0.25] * 6  # found through its lower-cased form
    vectors = _vectors(words, tmp_path / ("v.bin" if binary else "v.vec"), binary)
    data = reviews(tmp_path / "reviews.csv")
    frozen = ["--set", f"task.embeddings='{vectors}'", "--set", "task.freeze_embeddings=true"]
    result = cli("run", "sentiment", "--data", str(data), "--out", "r", *SMALL, *frozen)
    assert result.code == 0, result.err
    assert "embedding: 3 of" in result.out and "frozen" in result.out
    info = json.loads(Path("r/metrics.json").read_text())["data"]
    vocab = json.loads(Path("r/task_state.json").read_text())["state"]["vocab"]["tokens"]
    assert info["vectors_found"] == 3 and info["vectors_missing"] == len(vocab) - 2 - 3
    weight = torch.load("r/best.pt", weights_only=True)["model"]["adapter.embedding.weight"]
    assert weight.shape[1] == 6  # the vectors' dimension
    for word, expected in [("great", words["great"]), ("boring", [0.5] * 6), ("movie", [0.25] * 6)]:
        torch.testing.assert_close(
            weight[vocab.index(word)], torch.tensor(expected), atol=1e-4, rtol=0
        )

    tuned = cli("run", "sentiment", "--data", str(data), "--out", "t", *SMALL, *frozen[:2])
    assert tuned.code == 0 and "fine-tuned" in tuned.out
    weight = torch.load("t/best.pt", weights_only=True)["model"]["adapter.embedding.weight"]
    assert not torch.allclose(weight[vocab.index("boring")], torch.tensor([0.5] * 6), atol=1e-4)


def vectors(value: object) -> list[str]:
    return ["--set", f"task.embeddings='{value}'"]


def test_bad_vectors_and_an_offline_hub_name_are_one_clear_line(cli, tmp_path):
    data = reviews(tmp_path / "reviews.csv")
    broken = tmp_path / "broken.vec"
    broken.write_text("2 3\ngreat 0.1 0.2 0.3\nboring 0.1 x 0.3\n")
    for value, message in [
        (broken, "broken.vec: line 3: not a word followed by numbers"),
        ("someone/glove-tiny", "task.embeddings someone/glove-tiny: not a local file"),
    ]:
        result = cli("run", "sentiment", "--data", str(data), "--out", "r", *SMALL, *vectors(value))
        assert result.code == 2 and message in result.err, result.err
        assert len(result.err.strip().splitlines()) == 1 and not Path("r").exists()
    small = _vectors({"great": [1.0, 2.0]}, tmp_path / "g.vec", False)
    sized = cli(
        "run", "sentiment", "--data", str(data), *vectors(small), "--set", "task.embedding_dim=16"
    )
    assert sized.code == 2 and "have 2 dimensions" in sized.err


def test_ngram_rows_ignore_padding_and_differ_by_order():
    from seqsuite_tasks.sentiment.hybrid import ngram_rows

    tokens = torch.tensor([[5, 6, 7], [5, 6, 0]])
    rows, mask = ngram_rows(tokens, torch.tensor([3, 2]), orders=2, buckets=1000)
    assert rows.shape == mask.shape == (2, 5)  # 3 unigrams + 2 bigrams
    assert mask.tolist() == [[True, True, True, True, True], [True, True, False, True, False]]
    assert rows[0, :2].tolist() == rows[1, :2].tolist() and rows[0, 3] == rows[1, 3]  # same n-grams
    assert len(set(rows[0].tolist())) == 5  # unigram 5 and bigram (5, 6) are different rows


def test_naive_bayes_weights_point_each_ngram_to_its_class():
    from seqsuite.batches import ArraySplit
    from seqsuite_tasks.sentiment.hybrid import HybridHead, naive_bayes_weights, ngram_rows

    tokens = torch.tensor([[2, 3], [2, 3], [4, 5], [4, 5]])
    split = ArraySplit(
        {"tokens": tokens, "lengths": torch.tensor([2] * 4), "label": torch.tensor([1, 1, 0, 0])},
        seq_key="tokens",
    )
    head = HybridHead(4, 2, "max", 0.0, orders=1, buckets=100, bag_dropout=0.0)
    assert "4 of 100 buckets" in naive_bayes_weights(head, split)
    rows, _ = ngram_rows(tokens, None, 1, 100)
    weight = head.bag.weight.detach()
    assert (weight[rows[0], 1] > 0).all() and (weight[rows[0], 0] < 0).all()  # words of class 1
    assert (weight[rows[2], 0] > 0).all() and (weight[rows[2], 1] < 0).all()
    assert weight.abs().sum() == pytest.approx(weight[rows[[0, 2]].flatten()].abs().sum().item())


def test_without_ngrams_the_head_is_the_pooled_bilstm_alone(cli, tmp_path):
    data = reviews(tmp_path / "reviews.csv")
    plain = ["--set", "task.ngram_orders=0"]
    assert cli("run", "sentiment", "--data", str(data), "--out", "r", *SMALL, *plain).code == 0
    weights = torch.load("r/best.pt", weights_only=True)["model"]
    assert not any(k.startswith("head.bag") for k in weights) and "head.linear.weight" in weights
    hybrid = ["--set", "task.ngram_buckets=4096", "--set", "task.ngram_dropout=0.5"]
    assert cli("run", "sentiment", "--data", str(data), "--out", "h", *SMALL, *hybrid).code == 0
    assert torch.load("h/best.pt", weights_only=True)["model"]["head.bag.weight"].shape == (4096, 2)


def test_bilm_reads_a_tables_text_column_and_checks_its_corpora(cli, tmp_path):
    data = reviews(tmp_path / "reviews.csv", review="text")
    tiny = ["--set", "backbone.hidden_size=8", "--set", "task.embedding_dim=8", "--epochs", "1"]
    result = cli(
        "run", "bilm", "--data", str(data), "--out", "lm", *tiny, "--set", "task.min_freq=1"
    )
    assert result.code == 0, result.err
    assert "60 texts" in " ".join(result.out.split())
    unknown = cli(
        "run", "bilm", "--data", str(data), "--out", "x", "--set", "task.corpora=['wiki']"
    )
    assert unknown.code == 2 and "'wiki' is not one of tweets, kjv" in unknown.err
    missing = cli(
        "run", "bilm", "--data", str(data), "--out", "x", "--set", "task.text_column='body'"
    )
    assert missing.code == 2 and "no text column 'body'" in missing.err


def test_a_loaded_runs_vocabulary_is_built_once_and_again_for_a_new_state():
    """Served predictions read the saved vocabulary on every call: built once per state."""
    from rich.console import Console

    from seqsuite.task import Context
    from seqsuite.vocab import saved_vocabulary

    ctx = Context(config=None, device=torch.device("cpu"), console=Console(quiet=True))
    ctx.state = {"vocab": Vocabulary("word", ["<pad>", "<unk>", "good"]).to_dict()}
    first = saved_vocabulary(ctx)
    assert saved_vocabulary(ctx) is first and first.index["good"] == 2
    ctx.state = {"vocab": Vocabulary("word", ["<pad>", "<unk>", "bad", "good"]).to_dict()}
    assert saved_vocabulary(ctx) is not first and saved_vocabulary(ctx).index["good"] == 3


def test_a_run_stopped_before_its_first_checkpoint_resumes_as_it_would_have_run(tmp_path):
    """Stopped in its first epoch (no last.pt yet), a run resumed starts from the same
    weights a fresh run does: the pretrained vectors and the n-gram bag's naive-Bayes
    ratios, not random ones."""
    from seqsuite import runner

    data = reviews(tmp_path / "reviews.csv")
    vectors = _vectors({"great": [7.0] * 6, "boring": [-7.0] * 6}, tmp_path / "v.vec", False)
    sets = [
        "backbone.hidden_size=16",
        f"task.embeddings='{vectors}'",
        "task.freeze_embeddings=true",
    ]
    straight = runner.run("sentiment", data=str(data), sets=sets, epochs=2, out="a", quiet=True)

    class Stop(Exception):
        pass

    class StopAtTheFirstStep:
        def on_step(self, trainer):
            raise Stop

    with pytest.raises(Stop):
        runner.run(
            "sentiment",
            data=str(data),
            sets=sets,
            epochs=2,
            out="b",
            quiet=True,
            callbacks=[StopAtTheFirstStep()],
        )
    assert not Path("b/last.pt").exists()
    resumed = runner.resume("b", quiet=True)
    assert resumed.metrics["test"] == straight.metrics["test"]
    assert resumed.metrics["data"]["vectors_found"] == 2
    vocab = json.loads(Path("b/task_state.json").read_text())["state"]["vocab"]["tokens"]
    weight = torch.load("b/best.pt", weights_only=True)["model"]["adapter.embedding.weight"]
    torch.testing.assert_close(weight[vocab.index("great")], torch.full((6,), 7.0))


def test_files_as_spreadsheets_write_them(cli, tmp_path):
    """A text with an unquoted comma is refused at its row (it used to make the rest of
    the sentence a label); a latin-1 byte is named by line; Excel's UTF-16 "Unicode text"
    is read; a label column left blank in a JSON line, or a list, is one line."""
    base = pd.read_csv(reviews(tmp_path / "r.csv"))
    lines = [f"{t},{lab}" for t, lab in zip(base.text, base.label, strict=True)]
    lines[6] = "dull, and too long,neg"
    (tmp_path / "commas.csv").write_text("text,label\n" + "\n".join(lines) + "\n")
    commas = cli("run", "sentiment", "--data", str(tmp_path / "commas.csv"), "--out", "r", *SMALL)
    assert commas.code == 2 and "data row 7 has 3 fields, the header 2" in commas.err
    lines[6] = "café noir,pos"
    (tmp_path / "latin.csv").write_bytes(
        ("text,label\n" + "\n".join(lines) + "\n").encode("cp1252")
    )
    latin = cli("run", "sentiment", "--data", str(tmp_path / "latin.csv"), "--out", "r", *SMALL)
    assert latin.code == 2 and "not valid UTF-8 (line 8, byte" in latin.err and "xe9" in latin.err
    twice = base[["text", "label"]].assign(again="")
    twice.columns = ["text", "label", "text"]  # the second 'text' empty: the first is read
    twice.to_csv(tmp_path / "twice.csv", index=False)
    read = cli("run", "sentiment", "--data", str(tmp_path / "twice.csv"), "--out", "t", *SMALL)
    assert read.code == 0, read.err
    base.to_csv(tmp_path / "unicode.txt", sep="\t", index=False, encoding="utf-16")
    excel = cli("run", "sentiment", "--data", str(tmp_path / "unicode.txt"), "--out", "u", *SMALL)
    assert excel.code == 0, excel.err
    for label, message in (("NaN", "data row 3: missing label"), ('["neg"]', "a label is list")):
        jsonl = "\n".join(
            f'{{"text": "{t}", "label": {label if i == 2 else chr(34) + lab + chr(34)}}}'
            for i, (t, lab) in enumerate(zip(base.text, base.label, strict=True))
        )
        (tmp_path / "r.jsonl").write_text(jsonl + "\n")
        result = cli("run", "sentiment", "--data", str(tmp_path / "r.jsonl"), "--out", "j", *SMALL)
        assert result.code == 2 and message in result.err, result.err


def test_the_limits_hold_for_a_file_already_in_the_cache(cli, tmp_path):
    data = reviews(tmp_path / "reviews.csv")
    assert cli("run", "sentiment", "--data", str(data), "--out", "r", *SMALL).code == 0
    again = cli(
        "run", "sentiment", "--data", str(data), "--out", "s", *SMALL, "--set", "data.max_rows=10"
    )
    assert again.code == 2 and "more than 10 rows (data.max_rows)" in again.err


def test_the_ngram_bag_is_bounded_by_classes_not_only_by_buckets(cli, tmp_path):
    """A label column of 120 classes (an id, a rating with decimals) used to build a bag of
    2^20 x 120 weights (7.5 GB); the bag now holds at most 2^22 weights."""
    from seqsuite_tasks.sentiment.hybrid import MAX_BAG_WEIGHTS, bag_buckets

    assert bag_buckets(1 << 20, 2) == bag_buckets(1 << 20, 3) == 1 << 20  # defaults as before
    assert bag_buckets(1 << 20, 120) == MAX_BAG_WEIGHTS // 120
    frame = pd.read_csv(reviews(tmp_path / "r.csv", n=400))
    frame["label"] = [f"c{i % 40}" for i in range(len(frame))]
    frame.to_csv(tmp_path / "many.csv", index=False)
    result = cli("run", "sentiment", "--data", str(tmp_path / "many.csv"), "--out", "r", *SMALL)
    assert result.code == 0, result.err
    bag = torch.load("r/best.pt", weights_only=True)["model"]["head.bag.weight"]
    assert bag.shape == (MAX_BAG_WEIGHTS // 40, 40)


def test_vectors_holding_nan_or_past_float32_are_named_with_their_file(tmp_path):
    from seqsuite.errors import UserError
    from seqsuite.word_vectors import match

    for line in ("boring nan 0.2", "boring 1e39 0.2", "boring inf 0.2"):
        path = tmp_path / "v.txt"
        path.write_text(f"great 0.1 0.2\n{line}\n")
        with pytest.raises(UserError, match=r"v.txt: vector 2 \('boring'\) holds NaN or infinite"):
            match(path, ["<pad>", "<unk>", "great", "boring"], 1000, 10_000)
    path.write_text("1000 100000000\n")
    with pytest.raises(UserError, match=r"v.txt: the header declares dimension 100000000"):
        match(path, ["<pad>", "<unk>", "great"], 1000, 10_000)


def test_texts_with_no_word_train_and_leave_the_bag_of_words_out(cli, tmp_path):
    """Emoji-only texts: the TF-IDF baseline found no word and the run ended with a
    traceback after training, with no metrics.json."""
    path = tmp_path / "emoji.csv"
    rows = ["😀😀🎉,pos" if k % 2 else "😡💩,neg" for k in range(120)]
    path.write_text("text,label\n" + "\n".join(rows) + "\n")
    result = cli("run", "sentiment", "--data", str(path), "--out", "r", *SMALL)
    assert result.code == 0, result.err
    metrics = json.loads(Path("r/metrics.json").read_text())
    assert set(metrics["baselines"]) == {"majority"} and metrics["test"]["accuracy"] >= 0
    assert "baseline bow_logreg left out" in result.out + result.err


def test_test_texts_that_were_trained_on_are_counted_and_said(cli, tmp_path):
    data = reviews(tmp_path / "reviews.csv")  # 60 rows of 10 texts: every test text repeats
    result = cli("run", "sentiment", "--data", str(data), "--out", "r", *SMALL)
    assert result.code == 0, result.err
    metrics = json.loads(Path("r/metrics.json").read_text())
    test_size = metrics["data"]["test_texts_also_in_training"]
    assert test_size > 0 and "test texts are also in training" in result.out
    frame = pd.read_csv(data)
    frame["text"] = [f"{text} number {i}" for i, text in enumerate(frame["text"])]
    frame.to_csv(data, index=False)
    result = cli("run", "sentiment", "--data", str(data), "--out", "u", *SMALL)
    assert result.code == 0, result.err
    assert (
        json.loads(Path("u/metrics.json").read_text())["data"]["test_texts_also_in_training"] == 0
    )
    assert "also in training" not in result.out


def test_labels_that_differ_only_in_case_are_said():
    from seqsuite.classify import case_twins

    assert case_twins(["negative", "positive", "Positive"]) == (
        "labels 'positive' and 'Positive' differ only in case and are separate classes"
    )
    assert case_twins(["neg", "pos"]) == ""
