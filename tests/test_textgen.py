"""The textgen task: tokenisation, stream batches, state carry-over, generation, bad input."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from seqsuite.adapters import TokenInput
from seqsuite.backbone import Backbone, BackboneConfig
from seqsuite.batches import StreamSplit
from seqsuite.heads import StepHead
from seqsuite.model import SequenceModel
from seqsuite.token_lm import generate, generate_rerunning_prefix, stream_nll
from seqsuite.vocab import UNK, Vocabulary
from seqsuite_tasks.textgen.ngram import KneserNey, unigram_nll

TEXT = (
    "It is a truth universally acknowledged, that a single man in possession of a good fortune.\n"
    * 40
)
SMALL = [
    "--epochs",
    "1",
    "--set",
    "backbone.hidden_size=16",
    "--set",
    "backbone.num_layers=1",
    "--set",
    "task.bptt=20",
    "--set",
    "train.time_budget=0",
    "--set",
    "train.eval_every=0",
    "--set",
    "task.sample_length=30",
    "--set",
    "train.batch_size=4",
]


def test_char_vocabulary_round_trips_and_maps_unknown_characters():
    vocab = Vocabulary.build(list(TEXT), "char")
    assert vocab.decode(vocab.encode(TEXT)) == TEXT
    ids = vocab.encode("a Zebra")
    assert vocab.unknown("a Zebra") == ["Z", "b"]  # never seen in TEXT
    assert ids.count(vocab.index[UNK]) == 2 and len(ids) == 7
    again = Vocabulary.from_dict(json.loads(json.dumps(vocab.to_dict())))
    assert again.encode(TEXT) == vocab.encode(TEXT)


def test_word_vocabulary_round_trips_words_and_punctuation():
    vocab = Vocabulary.build(Vocabulary("word").split(TEXT), "word")
    line = "It is a truth universally acknowledged, that a single man in possession of a good fortune.\n"
    assert vocab.decode(vocab.encode(line)) == line
    assert vocab.encode("a unicorn")[1] == vocab.index[UNK]


def test_min_frequency_sends_rare_tokens_to_unknown():
    vocab = Vocabulary.build(["a", "a", "b"], "word", min_freq=2)
    assert "b" not in vocab.index and vocab.encode("b") == [vocab.index[UNK]]


def test_stream_batches_continue_the_same_streams():
    tokens = torch.arange(101)
    split = StreamSplit(tokens, bptt=10)
    batches = list(split.batches(batch_size=2))
    assert len(batches) == split.num_batches(2) == 5
    first, second = batches[0], batches[1]
    assert first["tokens"][0].tolist() == list(range(10)) and first["targets"][0].tolist() == list(
        range(1, 11)
    )
    assert first["tokens"][1][0] == 50  # the second stream starts half-way
    assert second["tokens"][0][0] == 10  # and the next batch continues each stream


def tiny_lm(vocab_size=12, seed=0):
    torch.manual_seed(seed)
    backbone = Backbone(8, BackboneConfig(hidden_size=8, num_layers=2))
    return SequenceModel(TokenInput(vocab_size, 8), backbone, StepHead(8, vocab_size)).eval()


def test_stream_likelihood_carries_state_across_chunks():
    model = tiny_lm()
    tokens = torch.randint(2, 12, (61,))
    total, count = stream_nll(model, StreamSplit(tokens, bptt=7), torch.device("cpu"), streams=1)
    with torch.no_grad():
        logits, _ = model({"tokens": tokens[:-1].unsqueeze(0)})
    whole = torch.nn.functional.cross_entropy(logits[0], tokens[1:], reduction="sum")
    assert count == 60 and total == pytest.approx(float(whole), rel=1e-5)


def test_generation_with_carried_state_equals_rereading_the_prefix():
    model = tiny_lm()
    fast = generate(model, [2, 3, 4], 25, temperature=1.0, seed=7)
    slow = generate_rerunning_prefix(model, [2, 3, 4], 25, seed=7)
    assert fast == slow


def test_generation_options():
    model = tiny_lm()
    same = [generate(model, [2], 20, temperature=0.8, seed=1) for _ in range(2)]
    assert same[0] == same[1]
    assert generate(model, [2], 20, temperature=0.8, seed=2) != same[0]
    greedy = generate(model, [2], 10, temperature=0)
    assert generate(model, [2], 10, temperature=1.0, top_k=1, seed=5) == greedy
    allowed = set(torch.topk(model({"tokens": torch.tensor([[2]])})[0][0, -1], 3).indices.tolist())
    firsts = {generate(model, [2], 1, temperature=5.0, top_k=3, seed=s)[0] for s in range(30)}
    assert firsts <= allowed and len(firsts) > 1
    assert 0 not in generate(model, [2], 50, temperature=3.0, seed=0)  # padding is never sampled


def test_kneser_ney_is_a_distribution_and_beats_unigram_on_repetitive_text():
    vocab = Vocabulary.build(list(TEXT), "char")
    ids = vocab.encode(TEXT)
    kn = KneserNey(ids[:3000], order=4, vocab_size=len(vocab))
    total = sum(kn.prob(tuple(ids[10:13]), t) for t in range(len(vocab)))
    assert total == pytest.approx(1.0, abs=1e-9)
    test = ids[3000:3500]
    assert kn.nll(test, ids[:3000]) < 0.5 * unigram_nll(ids[:3000], test, len(vocab))


def test_textgen_run_generate_and_eval(cli, tmp_path):
    data = tmp_path / "book.txt"
    data.write_text(TEXT)
    result = cli("run", "textgen", "--data", str(data), "--out", "r", *SMALL)
    assert result.code == 0, result.err
    metrics = json.loads(Path("r/metrics.json").read_text())
    assert set(metrics["test"]) == {"nll", "perplexity", "bpc"}
    assert metrics["test"]["bpc"] == pytest.approx(metrics["test"]["nll"] / math.log(2), rel=1e-6)
    assert set(metrics["baselines"]) == {"unigram", "kneser_ney_5gram"}
    assert Path("r/samples.txt").read_text().count("=== temperature") == 3
    state = json.loads(Path("r/task_state.json").read_text())
    assert state["state"]["vocab"]["level"] == "char"

    generated = cli(
        "generate", "r", "--prompt", "It is Ω", "--length", "40", "--seed", "3", "--out", "g.txt"
    )
    assert generated.code == 0, generated.err
    text = Path("g.txt").read_text()
    assert text.startswith("It is Ω") and len(text) == len("It is Ω") + 40
    assert "not in the vocabulary" in generated.out
    again = cli(
        "generate", "r", "--prompt", "It is Ω", "--length", "40", "--seed", "3", "--out", "h.txt"
    )
    assert again.code == 0
    assert Path("h.txt").read_text() == text
    assert cli("eval", "r").code == 0


def test_word_level_run(cli, tmp_path):
    data = tmp_path / "book.txt"
    data.write_text(TEXT * 3)
    result = cli(
        "run", "textgen", "--data", str(data), "--out", "r", *SMALL, "--set", "task.level='word'"
    )
    assert result.code == 0, result.err
    metrics = json.loads(Path("r/metrics.json").read_text())
    assert "bpc" not in metrics["test"] and "kneser_ney_3gram" in metrics["baselines"]


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "file is empty"),
        (b"\x00\x01\x02binary\xff" * 100, "looks like a binary file"),
        ("caf\xe9 au lait, s'il vous pla\xeet. ".encode("latin-1") * 100, "not valid UTF-8"),
        (b"a" * 10_000, "distinct characters"),
    ],
)
def test_bad_text_is_a_clear_user_error(cli, tmp_path, content, message):
    data = tmp_path / "bad.txt"
    data.write_bytes(content)
    result = cli("run", "textgen", "--data", str(data), "--out", "r", *SMALL)
    assert result.code == 2 and message in result.err and len(result.err.strip().splitlines()) == 1
    assert not Path("r").exists()


def test_folder_without_text_files_is_a_user_error(cli, tmp_path):
    (tmp_path / "empty").mkdir()
    result = cli("run", "textgen", "--data", str(tmp_path / "empty"), *SMALL)
    assert result.code == 2 and "holds no .txt files" in result.err


def test_embedded_corpus_loads_offline():
    from seqsuite_tasks.textgen import corpus

    text = corpus.kjv()
    assert text.startswith("Genesis\n\n1:1 In the beginning God created the heaven and the earth.")
    assert len(text) > 4_000_000
