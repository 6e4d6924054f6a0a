"""text: the Faker names, the character tokenizer, training and sampling; `train names`."""

from __future__ import annotations

import math
import re
import sys

import pytest

from microgradcn.cli import main
from microgradcn.nn import GPT
from microgradcn.text import (
    ENGLISH_LOCALES,
    CharTokenizer,
    _sorted_names,
    linear_decay,
    make_step,
    names,
    replayed_lengths,
    sample_names,
    train_names,
)

pytest.importorskip("faker")


# -------------------------------------------------------------------- names
def test_names_are_8602_distinct_lowercase_a_to_z_names():
    data = names(seed=None)
    assert len(data) == len(set(data)) == 8602
    assert data == sorted(data) and data[:3] == ["aaaqil", "aaban", "aabid"]
    assert all(name.isascii() and name.isalpha() and name.islower() for name in data)
    assert max(len(name) for name in data) == 12  # framed by two boundary tokens: 14 < 16 + 1
    assert "emma" in data and "olivia" in data and "en_US" in ENGLISH_LOCALES


def test_names_shuffle_is_seeded():
    assert names(0)[:5] == ["girtha", "jayleen", "omer", "acy", "patchaploy"]
    assert names(0) == names(0) != names(1)
    assert sorted(names(1)) == names(None)


def test_names_without_faker_says_which_extra_to_install(monkeypatch):
    for name in [m for m in sys.modules if m == "faker" or m.startswith("faker.")] + ["faker"]:
        monkeypatch.setitem(sys.modules, name, None)  # None in sys.modules: "import faker" fails
    _sorted_names.cache_clear()
    try:
        with pytest.raises(ImportError, match=r'pip install "microgradcn\[names\]" \(Faker==40\.54\.0\)'):
            names()
    finally:
        monkeypatch.undo()
        _sorted_names.cache_clear()


# ---------------------------------------------------------------- tokenizer
def test_tokenizer_frames_names_with_the_boundary_token():
    tok = CharTokenizer()
    assert tok.vocab_size == 27 and tok.bos == 26
    assert tok.encode("emma") == [26, 4, 12, 12, 0, 26]
    assert tok.encode("zoe", boundaries=False) == [25, 14, 4]
    assert tok.decode([26, 4, 12, 12, 0, 26]) == "emma"
    assert repr(tok) == "CharTokenizer(26 characters + boundary, vocab_size=27)"


def test_tokenizer_from_texts_and_errors():
    tok = CharTokenizer.from_texts(["李白", "白居易"])
    assert tok.chars == "".join(sorted("李白居易")) and tok.vocab_size == 5
    assert tok.decode(tok.encode("李白")) == "李白"
    with pytest.raises(ValueError, match="character '1' of 'a1' is not in the vocabulary"):
        CharTokenizer().encode("a1")
    with pytest.raises(ValueError, match=r"token id must be an int in \[0, 27\), got 30"):
        CharTokenizer().decode([30])
    with pytest.raises(ValueError, match="must not repeat"):
        CharTokenizer("aba")
    with pytest.raises(TypeError, match="text must be a str"):
        CharTokenizer().encode(["a"])


# ----------------------------------------------------------------- training
def test_step_is_forward_and_backward_and_returns_the_loss():
    model = GPT(27, seed=0)
    step = make_step(model)
    tokens = CharTokenizer().encode("emma")
    loss = step(tokens)
    assert loss == pytest.approx(model.loss(tokens).data, rel=1e-15)
    assert any(p.grad != 0 for p in model.parameters())


def test_linear_decay_is_microgpts_schedule():
    rate = linear_decay(0.01, 1000)
    assert (rate(0), rate(500), rate(999)) == (0.01, 0.005, pytest.approx(1e-5))
    with pytest.raises(ValueError, match="steps must be a positive int"):
        linear_decay(0.01, 0)


@pytest.mark.slow
def test_a_short_training_run_is_deterministic_and_learns():
    a = train_names(20, seed=0, num_samples=2)
    b = train_names(20, seed=0, num_samples=2)
    assert a.losses == b.losses and a.samples == b.samples
    assert a.losses[0] == pytest.approx(3.2613921085243724, rel=1e-12)  # near ln 27 = 3.2958 at the start
    assert abs(a.losses[0] - math.log(27)) < 0.1
    assert sum(a.losses[-5:]) / 5 < sum(a.losses[:5]) / 5 - 0.2
    assert a.final_loss == pytest.approx(sum(a.losses) / 20)
    assert len(a.samples) == 2 and all(set(s) <= set("abcdefghijklmnopqrstuvwxyz") for s in a.samples)


def test_sample_names_is_seeded():
    model = GPT(27, seed=0)
    tok = CharTokenizer()
    assert sample_names(model, tok, 5, seed=3) == sample_names(model, tok, 5, seed=3)
    assert sample_names(model, tok, 0) == []
    with pytest.raises(ValueError, match="n must be a non-negative int"):
        sample_names(model, tok, -1)


def test_train_names_rejects_bad_arguments():
    with pytest.raises(ValueError, match="steps must be a positive int, got 0"):
        train_names(0)
    with pytest.raises(ValueError, match="at least one name"):
        train_names(1, data=[])


# ---------------------------------------------------------------------- CLI
@pytest.mark.slow
def test_cli_train_names_prints_final_loss_then_20_samples_and_saves(tmp_path, capsys):
    path = tmp_path / "names.json"
    assert main(["train", "names", "--steps", "2", "--no-progress", "--replay", "--save", str(path)]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    final = re.fullmatch(r"最后 2 步的平均损失 final loss \(mean of the last 2 steps\) (\d\.\d\d);"
                         r"最后一步 last step \(the bar's loss=\) (\d\.\d{4})", lines[-21])
    assert final, lines[-21]
    assert [line[:10] for line in lines[-20:]] == [f"sample {i:2d}:" for i in range(1, 21)]
    assert "4,192 个参数" in lines[0] and "(replay)" in lines[0]
    model = GPT(27, seed=1)
    model.load(path)  # the saved numbers fit the model again
    assert model.state_dict() != GPT(27, seed=1).state_dict()


def test_cli_train_names_says_which_loss_is_which(capsys, monkeypatch):
    """The last line before the samples: the mean of the last 50 steps, then the last step's loss (the bar's)."""
    from microgradcn.text import NamesRun

    def fake_training(steps, **kwargs):
        run = NamesRun(kwargs["model"], kwargs["tokenizer"], losses=[4.0] * 10 + [2.0] * 49 + [1.5])
        run.samples = ["ab"] * 20
        return run

    monkeypatch.setattr("microgradcn.text.names", lambda seed=0: ["ab"])
    monkeypatch.setattr("microgradcn.text.train_names", fake_training)
    assert main(["train", "names", "--steps", "60", "--no-progress"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-21] == ("最后 50 步的平均损失 final loss (mean of the last 50 steps) 1.99;"
                          "最后一步 last step (the bar's loss=) 1.5000")


@pytest.mark.parametrize("argv, message", [
    (["train", "names", "--steps", "0"], "steps must be a positive int, got 0"),
    (["train", "names", "--optimizer", "sgd"], "trains with Adam only"),
    (["train", "names", "--lr", "-1"], "lr must be a positive number"),
])
def test_cli_train_names_errors_are_one_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_train_names_replayed_equals_eager_step_by_step():
    tokenizer = CharTokenizer()
    # Names of two lengths: the replayed run records twice and replays ten times (each recording takes a while).
    data = [name for name in names(seed=0) if len(name) in (5, 6)][:12]
    assert {len(name) for name in data} == {5, 6}
    runs = []
    for replay in (False, True):
        model = GPT(tokenizer.vocab_size, seed=3)
        run = train_names(12, seed=0, data=data, tokenizer=tokenizer, model=model,
                          step=make_step(model, replay=replay), num_samples=3)
        runs.append((run.losses, [p.data for p in model.parameters()], run.samples))
    assert runs[0] == runs[1]


# ------------------------------------------------ which name lengths replay
def test_replayed_lengths_are_those_met_often_enough():
    sequences = [[0] * 3] * 3 + [[0] * 4] + [[0] * 5] * 2
    assert replayed_lengths(sequences, min_count=2) == {3, 5}
    assert replayed_lengths(sequences, min_count=3) == {3}
    assert replayed_lengths(iter(sequences), min_count=1) == {3, 4, 5}
    for bad in (0, True, 2.0):
        with pytest.raises(ValueError, match="min_count"):
            replayed_lengths(sequences, min_count=bad)


def _tiny_gpt(seed: int = 0) -> GPT:
    return GPT(CharTokenizer().vocab_size, n_embd=4, n_head=2, block_size=8, seed=seed)


def test_a_step_replays_the_given_lengths_and_runs_the_others_eagerly_with_the_same_numbers():
    model = _tiny_gpt()
    tokenizer = CharTokenizer()
    eager, mixed = make_step(model), make_step(model, replay=True, lengths={4})
    for name in ("ab", "cde", "fg", "hi", "jkl"):
        tokens = tokenizer.encode(name)
        model.zero_grad()
        loss = eager(tokens)
        grads = [p.grad for p in model.parameters()]
        model.zero_grad()
        assert mixed(tokens) == loss and [p.grad for p in model.parameters()] == grads
    assert (mixed.records, mixed.eager_steps) == (1, 2)  # length 4 ("ab") recorded once; the 5s ran eagerly
    assert "eager_steps=2" in repr(mixed) and "[4]" in repr(mixed)


def test_train_names_with_replay_records_only_lengths_met_often(monkeypatch):
    import microgradcn.text as text

    tokenizer = CharTokenizer()
    data = ["ab", "cd", "efg", "hi", "jk", "lmno"]  # token lengths 4, 4, 5, 4, 4, 6
    made = []

    def policy(sequences):
        lengths = replayed_lengths(sequences, min_count=2)
        made.append(lengths)
        return lengths

    monkeypatch.setattr(text, "replayed_lengths", policy)
    runs = []
    for replay in (False, True):
        model = _tiny_gpt(seed=1)
        run = train_names(8, data=data, tokenizer=tokenizer, model=model, replay=replay, num_samples=2)
        runs.append((run.losses, [p.data for p in model.parameters()], run.samples))
    assert made == [{4}]  # asked once, for the replayed run: 8 steps meet length 4 six times
    assert runs[0] == runs[1]
