"""Digits data, mini-batches, K-fold, accuracy, the confusion matrix, fit_batches and `train digits`."""

from __future__ import annotations

import hashlib
import re
import sys

import numpy as np
import pytest

from microgradcn import datasets
from microgradcn import functional as F
from microgradcn.cli import main
from microgradcn.data import DataLoader, accuracy, batches, confusion_matrix, kfold
from microgradcn.nn import Dropout, Linear, ReLU, Sequential
from microgradcn.optim import SGD, Adam
from microgradcn.train import (
    digits_model,
    evaluate,
    fit_batches,
    make_sample_loss,
    make_step,
    train_digits,
)

sklearn = pytest.importorskip("sklearn")


# ---------------------------------------------------------------------- data
def test_digits_split_shapes_scaling_and_stratification():
    (X_train, y_train), (X_val, y_val), (X_test, y_test) = datasets.digits(seed=0)
    assert X_train.shape == (1149, 8, 8) and X_val.shape == (288, 8, 8) and X_test.shape == (360, 8, 8)
    assert len(y_train) == 1149 and len(y_val) == 288 and len(y_test) == 360
    for X in (X_train, X_val, X_test):
        assert X.min() == 0.0 and X.max() == 1.0
    assert sorted(set(y_test.tolist())) == list(range(10))
    # stratified: every digit is about 10% of each set (load_digits has 174..183 of each)
    for y in (y_train, y_val, y_test):
        counts = np.bincount(y, minlength=10) / len(y)
        assert counts.min() > 0.09 and counts.max() < 0.11
    # the three sets are disjoint and make up all 1,797 images
    every = np.concatenate([X_train, X_val, X_test]).reshape(-1, 64)
    original = sklearn.datasets.load_digits().data / 16.0
    assert sorted(row.tobytes() for row in every) == sorted(row.tobytes() for row in original)


def test_digits_is_seeded():
    a = datasets.digits(seed=0)
    b = datasets.digits(seed=0)
    c = datasets.digits(seed=1)
    assert all(np.array_equal(x, y) for (x, _), (y, _) in zip(a, b))
    assert not np.array_equal(a[0][0], c[0][0])
    with pytest.raises(ValueError, match="test_size must be a fraction"):
        datasets.digits(test_size=1.5)


def test_digits_without_scikit_learn_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=re.escape('pip install "microgradcn[data]"')):
        datasets.digits()


def test_moons_data_is_unchanged_bit_for_bit():
    # the benchmark workload's data: a hash of the exact bytes, taken before the digits were added
    X, y = datasets.make_moons(100, noise=0.1, seed=0, signed=True)
    digest = hashlib.sha256(X.tobytes() + y.tobytes()).hexdigest()
    assert digest == "778fc93c0d80be39fb1e7c84276c3c7d66efc9802e64f8f4ebb4b35176c95dbd"


def test_batches_and_dataloader():
    X, y = np.arange(20.0).reshape(10, 2), np.arange(10)
    epoch = list(batches(X, y, 4, shuffle=False))
    assert [b[1].tolist() for b in epoch] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert [b[1].tolist() for b in batches(X, y, 4, shuffle=False, drop_last=True)] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    shuffled = np.concatenate([b[1] for b in batches(X, y, 3, seed=5)])
    assert shuffled.tolist() == np.random.default_rng(5).permutation(10).tolist()
    assert np.array_equal(X[shuffled], np.concatenate([b[0] for b in batches(X, y, 3, seed=5)]))

    loader = DataLoader(X, y, batch_size=4, seed=1)
    assert len(loader) == 3 and loader.samples_per_epoch == 10
    first = np.concatenate([yb for _, yb in loader])
    second = np.concatenate([yb for _, yb in loader])
    assert sorted(first.tolist()) == list(range(10)) and first.tolist() != second.tolist()  # new order each epoch
    again = DataLoader(X, y, batch_size=4, seed=1)
    assert np.concatenate([yb for _, yb in again]).tolist() == first.tolist()  # same seed, same epochs
    assert loader.epochs == 2
    dropped = DataLoader(X, y, batch_size=4, drop_last=True)
    assert len(dropped) == 2 and dropped.samples_per_epoch == 8
    with pytest.raises(ValueError, match="batch_size must be a positive int, got 0"):
        DataLoader(X, y, batch_size=0)
    with pytest.raises(ValueError, match="same number of samples, got 10 and 9"):
        DataLoader(X, y[:9])
    with pytest.raises(ValueError, match="every epoch would be empty"):
        DataLoader(X, y, batch_size=11, drop_last=True)


def test_kfold_covers_every_index_once_and_stratifies():
    folds = kfold(10, k=5, seed=0)
    assert len(folds) == 5
    val = np.concatenate([v for _, v in folds])
    assert sorted(val.tolist()) == list(range(10))
    for train, v in folds:
        assert len(v) == 2 and sorted(np.concatenate([train, v]).tolist()) == list(range(10))
    assert [v.tolist() for _, v in kfold(10, 5, seed=0)] == [v.tolist() for _, v in folds]  # seeded
    labels = np.array([0] * 6 + [1] * 3)
    for _, v in kfold(9, 3, seed=0, stratify=labels):
        assert labels[v].tolist().count(1) == 1  # each fold: 2 zeros and 1 one
    with pytest.raises(ValueError, match="k must be between 2 and n = 3"):
        kfold(3, k=4)
    with pytest.raises(ValueError, match="stratify must hold n = 9 labels"):
        kfold(9, 3, stratify=[0, 1])


def test_accuracy_and_confusion_matrix():
    y_true = [0, 0, 1, 2, 2, 2]
    y_pred = [0, 1, 1, 2, 0, 2]
    assert accuracy(y_pred, y_true) == 4 / 6
    cm = confusion_matrix(y_true, y_pred, 3)
    assert cm.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]  # rows: truth, columns: prediction
    assert cm.tolist() == sklearn.metrics.confusion_matrix(y_true, y_pred, labels=[0, 1, 2]).tolist()
    assert np.trace(cm) / cm.sum() == accuracy(y_pred, y_true)
    with pytest.raises(ValueError, match="class indices in \\[0, 3\\), got 3"):
        confusion_matrix([0, 3], [0, 1], 3)
    with pytest.raises(ValueError, match="same length"):
        accuracy([0, 1], [0])


# ---------------------------------------------------------------- training
def _tiny():
    (X, y), (Xv, yv), _ = datasets.digits(seed=0)
    return X[:48].reshape(-1, 64), y[:48], Xv[:40].reshape(-1, 64), yv[:40]


def test_make_step_is_the_mean_of_sample_losses_and_adds_to_grads():
    X, y, _, _ = _tiny()
    model = Sequential(Linear(64, 10, seed=0))
    sample_loss = make_sample_loss(model, F.cross_entropy)
    step = make_step(sample_loss, per_sample=True)
    loss = step(X[:3], y[:3])
    expected = sum(sample_loss(x, t).data for x, t in zip(X[:3], y[:3])) / 3
    assert loss == pytest.approx(expected, rel=1e-15)
    g1 = [p.grad for p in model.parameters()]
    step(X[:3], y[:3])  # no zero_grad in between: gradients add up
    assert [p.grad for p in model.parameters()] == pytest.approx([2 * g for g in g1])
    # the gradient is the mean of the per-sample gradients
    model.zero_grad()
    for x, t in zip(X[:3], y[:3]):
        (sample_loss(x, t) * (1 / 3)).backward()
    assert [p.grad for p in model.parameters()] == pytest.approx(g1, rel=1e-12, abs=1e-15)


def test_fit_batches_reports_each_epoch_and_learns():
    X, y, Xv, yv = _tiny()
    model = Sequential(Linear(64, 16, seed=0), ReLU(), Linear(16, 10, seed=1))
    opt = Adam(model.parameters(), lr=0.05)
    loader = DataLoader(X, y, batch_size=16, seed=0)
    history = fit_batches(model, F.cross_entropy, opt, loader, 4, val=(Xv, yv), evaluate_train=True)
    assert history.epochs == 4 and len(history.val_loss) == 4 and len(history.train_accuracy) == 4
    assert len(history.batch_loss) == 4 * 3 and opt.steps == 12
    assert history.loss[-1] < history.loss[0] and history.val_loss[-1] < history.val_loss[0]
    assert history.train_accuracy[-1] > 0.5
    v_loss, v_acc, preds = evaluate(model, F.cross_entropy, Xv, yv)
    assert v_loss == history.val_loss[-1] and v_acc == history.val_accuracy[-1] == accuracy(preds, yv)
    assert model.training  # evaluation puts the mode back
    assert history.seconds >= history.train_seconds > 0


def test_fit_batches_step_fn_replaces_the_step():
    X, y, _, _ = _tiny()
    model = Sequential(Linear(64, 10, seed=0))
    calls = []
    real = make_step(make_sample_loss(model, F.cross_entropy), per_sample=True)

    def step(bx, by):
        calls.append(len(by))
        return real(bx, by)

    fit_batches(model, F.cross_entropy, SGD(model.parameters(), lr=0.1), DataLoader(X, y, 20), 2, step_fn=step)
    assert calls == [20, 20, 8] * 2


def test_fit_batches_same_seed_same_numbers():
    X, y, Xv, yv = _tiny()

    def once():
        model = Sequential(Linear(64, 8, seed=0), ReLU(), Dropout(0.2, seed=0), Linear(8, 10, seed=0))
        h = fit_batches(model, F.cross_entropy, Adam(model.parameters(), lr=0.01), DataLoader(X, y, 16, seed=2), 2,
                        val=(Xv, yv))
        return h.loss + h.val_loss

    assert once() == once()


def test_early_stopping_restores_the_best_epoch():
    X, y, Xv, yv = _tiny()
    model = Sequential(Linear(64, 10, seed=0))
    # a learning rate far too large: validation loss soon rises
    opt = SGD(model.parameters(), lr=lambda k: 0.5 if k < 3 else 40.0)
    history = fit_batches(model, F.cross_entropy, opt, DataLoader(X, y, 16, seed=0), 20, val=(Xv, yv),
                          early_stopping=2)
    assert history.stopped_early and history.epochs < 20
    best = history.best_epoch
    assert history.val_loss[best - 1] == min(history.val_loss)
    assert history.epochs == best + 2
    assert evaluate(model, F.cross_entropy, Xv, yv)[0] == history.val_loss[best - 1]  # best weights are back
    with pytest.raises(ValueError, match="early_stopping needs a validation set"):
        fit_batches(model, F.cross_entropy, opt, DataLoader(X, y, 16), 1, early_stopping=2)
    with pytest.raises(ValueError, match="epochs must be a non-negative int"):
        fit_batches(model, F.cross_entropy, opt, DataLoader(X, y, 16), -1)
    with pytest.raises(TypeError, match="DataLoader"):
        fit_batches(model, F.cross_entropy, opt, [(X, y)], 1)


@pytest.mark.slow
def test_digits_models_shapes_and_nodes_per_sample():
    mlp, cnn = digits_model("mlp"), digits_model("cnn")
    assert len(mlp.parameters()) == 64 * 32 + 32 + 32 * 10 + 10 == 2410
    assert len(cnn.parameters()) == 8 * 9 + 8 + 200 * 10 + 10 == 2090
    assert len(cnn(np.zeros((1, 8, 8)))) == 10
    run = train_digits("cnn", epochs=1, subset=16)
    assert run.nodes_per_sample == 12_271 and run.train_samples == 16 and len(run.y_test) == 360
    with pytest.raises(ValueError, match="unknown digits model 'rnn'"):
        digits_model("rnn")


def test_cli_train_digits_last_line(capsys):
    assert main(["train", "digits", "--model", "mlp", "--epochs", "1", "--subset", "32", "--no-progress",
                 "--replay"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    assert re.fullmatch(r"test accuracy \d+\.\d% \(360 images\), \d+\.\d s", lines[-1])
    assert "7,287 nodes per sample" in captured.out and "epoch  1:" in captured.out
    assert "seed 0, replay" in captured.out  # the command line replays by default


def test_cli_train_digits_errors_are_one_line(capsys):
    assert main(["train", "digits", "--steps", "3"]) == 2
    assert main(["train", "moons", "--model", "cnn"]) == 2
    assert main(["train", "digits", "--epochs", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("microgradcn train: ") for line in err)
    with pytest.raises(SystemExit):
        main(["train", "digits", "--eager", "--replay"])


def test_fit_batches_with_replay_evaluates_through_replay_with_eager_numbers():
    """Training steps and every evaluation (validation, training set) replayed: the same numbers as eager."""
    X, y, Xv, yv = _tiny()
    histories = []
    for replay in (None, "numpy", "python"):
        model = Sequential(Linear(64, 8, seed=0), ReLU(), Dropout(0.2, seed=0), Linear(8, 10, seed=0))
        h = fit_batches(model, F.cross_entropy, Adam(model.parameters(), lr=0.01), DataLoader(X, y, 16, seed=2), 2,
                        val=(Xv, yv), evaluate_train=True, replay=replay)
        histories.append((h.loss, h.val_loss, h.val_accuracy, h.train_eval_loss, h.train_accuracy,
                          list(evaluate(model, F.cross_entropy, Xv, yv, replay=replay)[2])))
    assert histories[0] == histories[1] == histories[2]
