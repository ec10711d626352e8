"""Command lines as people mistype them: a repeated option, two ways of naming the same
thing, an output that is not what the command writes. Each is refused before any training,
in one line, instead of one of the two being dropped in silence."""

from __future__ import annotations

FAST = ["--quick", "--set", "train.epochs=1"]


def test_a_second_sweep_is_refused_not_dropped(cli, tmp_path):
    sweeps = ["--sweep", "backbone.hidden_size=8,16", "--sweep", "backbone.num_layers=1,2"]
    result = cli("compare", "forecast", *FAST, *sweeps, "--out", str(tmp_path / "c"))
    assert result.code == 2 and "--sweep given 2 times" in result.err
    assert not (tmp_path / "c").exists()


def test_backbone_files_and_a_sweep_together_are_refused(cli, tmp_path):
    (tmp_path / "bb8.toml").write_text("[backbone]\nhidden_size = 8\n")
    both = ["--backbones", str(tmp_path / "bb8.toml"), "--sweep", "backbone.hidden_size=8,16"]
    result = cli("compare", "forecast", *FAST, *both)
    assert result.code == 2 and "--backbones and --sweep" in result.err


def test_two_backbones_of_one_name_are_refused(cli, tmp_path):
    for folder in ("d1", "d2"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "bb.toml").write_text(f"[backbone]\nhidden_size = {len(folder) * 4}\n")
    files = ["--backbones", str(tmp_path / "d1" / "bb.toml"), str(tmp_path / "d2" / "bb.toml")]
    result = cli("compare", "forecast", *FAST, *files)
    assert result.code == 2 and "both called 'bb'" in result.err
    twice = cli("compare", "forecast", *FAST, "--sweep", "backbone.hidden_size=8,8")
    assert twice.code == 2 and "'hidden_size=8'" in twice.err


def test_compare_out_that_is_a_file_is_named(cli, tmp_path):
    target = tmp_path / "out_is_file"
    target.write_text("x\n")
    result = cli("compare", "forecast", *FAST, "--out", str(target))
    assert result.code == 2 and "is not a folder" in result.err
    assert target.read_text() == "x\n"


def test_an_option_given_twice_is_refused(cli, tmp_path):
    result = cli("predict", str(tmp_path), "--option", "horizon=2", "--option", "horizon=3")
    assert result.code == 2 and "--option horizon given twice" in result.err


def test_quantiles_repeated_or_out_of_order_are_refused(cli):
    for given in ("[0.5,0.5]", "[0.9,0.1]"):
        result = cli("config", "forecast", "--set", f"task.quantiles={given}")
        assert result.code == 2 and "increasing, each once" in result.err
    assert cli("config", "forecast", "--set", "task.quantiles=[0.05,0.5,0.95]").code == 0


def test_figures_of_a_task_without_a_test_part_are_called_validation():
    from types import SimpleNamespace

    from seqsuite.reporting import part

    shared = object()
    assert part(SimpleNamespace(val=shared, test=shared)).startswith("(validation")
    assert part(SimpleNamespace(val=object(), test=object())) == "(test)"
