"""Learning: the networks actually learn xor, moons (benchmark workload) and a spiral; the CLI runs."""

from __future__ import annotations

import json
import re

import pytest

from microgradcn import datasets
from microgradcn import functional as F
from microgradcn.cli import main
from microgradcn.nn import MLP
from microgradcn.optim import SGD
from microgradcn.train import final_accuracy, fit, make_step, make_task, sign_accuracy, to_values


def test_xor_reaches_100_percent_with_a_small_mlp():
    task = make_task("xor", seed=0)
    history = fit(task.model, task.inputs, task.targets, task.loss_fn, task.optimizer, task.steps, task.accuracy_fn)
    assert history.loss[-1] < history.loss[0]
    assert final_accuracy(task) == 1.0


@pytest.mark.slow
def test_moons_benchmark_workload_reaches_99_percent():
    # The moons benchmark workload, written with the public API in a few lines. The step is replayed, which
    # gives eager mode's numbers bit for bit (tests/test_steps.py, tests/test_replay.py) in a tenth of the time.
    X, y = datasets.make_moons(100, noise=0.1, seed=0, signed=True)
    inputs, labels = to_values(X), y.tolist()
    model = MLP(2, [16, 16, 1], seed=0)
    params = model.parameters()
    opt = SGD(params, lr=lambda k: 1.0 - 0.9 * k / 100)
    step = make_step(lambda rows, t: F.hinge([model(x) for x in rows], t) + F.l2_penalty(params, 1e-4), params,
                     replay="python")
    losses = []
    for _ in range(100):
        opt.zero_grad()
        losses.append(step(inputs, labels))
        opt.step()
    assert step.records == 1 and step.retraces == 0  # one recording, 99 replays
    assert losses[-1] < 0.02 < losses[0]
    assert sign_accuracy([model(x) for x in inputs], labels) >= 0.99


@pytest.mark.slow
def test_spiral_three_classes_reaches_90_percent():
    # Replayed: eager mode's numbers bit for bit (tests/test_steps.py), several times faster.
    task = make_task("spiral", seed=0)
    history = fit(task.model, task.inputs, task.targets, task.loss_fn, task.optimizer, task.steps, replay=True)
    assert history.steps == 200 and history.loss[-1] < history.loss[0] / 3
    assert final_accuracy(task) >= 0.90


def test_fit_history_and_bad_steps():
    task = make_task("xor", steps=3)
    history = fit(task.model, task.inputs, task.targets, task.loss_fn, task.optimizer, 3, task.accuracy_fn)
    assert history.steps == 3 and len(history.accuracy) == 3 and history.seconds > 0
    with pytest.raises(ValueError, match="steps"):
        fit(task.model, task.inputs, task.targets, task.loss_fn, task.optimizer, -1)
    with pytest.raises(ValueError, match="unknown task 'mnist'"):
        make_task("mnist")
    with pytest.raises(ValueError, match="unknown optimizer 'lbfgs'"):
        make_task("xor", optimizer="lbfgs")


def test_cli_train_prints_summary_and_saves(tmp_path, capsys):
    path = tmp_path / "xor.json"
    assert main(["train", "xor", "--steps", "150", "--seed", "0", "--save", str(path), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "150 steps" in out and "train accuracy 100.0%" in out
    assert json.loads(path.read_text())["format"] == "microgradcn-state"
    trained = make_task("xor", steps=150, seed=0)
    fit(trained.model, trained.inputs, trained.targets, trained.loss_fn, trained.optimizer, trained.steps)
    restored = MLP(2, [4, 1], activation="tanh", seed=1)
    assert restored.state_dict() != trained.model.state_dict()
    restored.load(path)
    assert restored.state_dict() == trained.model.state_dict()  # same seed, same steps: the same numbers


def test_cli_train_progress_bar(capsys):
    assert main(["train", "moons", "--steps", "2", "--optimizer", "adam", "--lr", "0.01", "--eager"]) == 0
    captured = capsys.readouterr()
    assert "moons" in captured.err and "loss=" in captured.err and "acc=" in captured.err  # tqdm bar
    assert main(["train", "xor", "--steps", "3"]) == 0  # replay is the command line's default
    captured = capsys.readouterr()
    assert "xor (replay)" in captured.err and "ms/step, replay)" in captured.out


def test_fit_with_replay_gives_the_eager_losses():
    from microgradcn.train import make_task

    histories = []
    for replay in (False, True):
        task = make_task("spiral", steps=6, seed=0)
        histories.append(fit(task.model, task.inputs, task.targets, task.loss_fn, task.optimizer, 6,
                             task.accuracy_fn, replay=replay).loss)
    assert histories[0] == histories[1]


@pytest.mark.parametrize(
    "args, message",
    [
        (["xor", "--lr", "-1"], "lr must be in \\[0, inf\\], got -1.0"),
        (["xor", "--lr", "inf"], "lr must be a finite number, got inf"),
        (["moons", "--lr", "-1"], "lr must be in \\[0, inf\\], got -1.0"),
        (["moons", "--lr", "nan"], "lr must be a finite number, got nan"),
        (["xor", "--steps", "-1"], "steps must be a positive int, got -1"),
        (["xor", "--steps", "0"], "steps must be a positive int, got 0"),
        (["xor", "--save", "/nonexistent/dir/m.json"], "directory /nonexistent/dir does not exist"),
    ],
)
def test_cli_train_rejects_bad_arguments_before_training(args, message, capsys, monkeypatch):
    def no_training(*args, **kwargs):
        raise AssertionError("fit must not run with bad arguments")

    monkeypatch.setattr("microgradcn.train.fit", no_training)
    assert main(["train", *args, "--no-progress"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and captured.err.startswith("microgradcn train: ")
    assert re.search(message, captured.err)


def test_cli_train_rejects_a_directory_as_save_path(tmp_path, capsys):
    assert main(["train", "xor", "--save", str(tmp_path), "--no-progress"]) == 2
    assert "is a directory, expected a file name" in capsys.readouterr().err


def test_cli_train_reports_a_failed_save_in_one_line(tmp_path, capsys, monkeypatch):
    def full_disk(self, path):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("microgradcn.nn.Module.save", full_disk)
    assert main(["train", "xor", "--steps", "1", "--save", str(tmp_path / "m.json"), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "could not save to" in err and "No space left on device" in err


def test_progress_bar_shows_the_numbers_and_is_silent_when_off(capsys):
    from microgradcn._progress import Progress

    bar = Progress(2, "demo", enabled=True)
    bar.advance(loss="0.5000")
    bar.show(loss="0.2500", acc="90.0%")
    bar.advance()
    bar.close()
    err = capsys.readouterr().err
    assert "demo" in err and "2/2" in err and "loss=0.2500" in err and "acc=90.0%" in err
    quiet = Progress(2, "quiet", enabled=False)
    quiet.advance(loss="1")
    quiet.close()
    assert capsys.readouterr() == ("", "")
