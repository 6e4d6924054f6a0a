"""Mini-batches, K-fold splits, accuracy and the confusion matrix, on numpy arrays.

>>> import numpy as np
>>> from microgradcn.data import DataLoader
>>> X, y = np.arange(10.0).reshape(5, 2), np.array([0, 1, 0, 1, 1])
>>> loader = DataLoader(X, y, batch_size=2, shuffle=False)
>>> [len(yb) for _, yb in loader]          # one epoch: 2 + 2 + 1 samples
[2, 2, 1]
>>> len(loader)
3
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from numbers import Integral

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["DataLoader", "accuracy", "batches", "confusion_matrix", "kfold"]

Batch = tuple[np.ndarray, np.ndarray]


def _positive(name: str, n: object) -> int:
    if isinstance(n, bool) or not isinstance(n, Integral) or n < 1:
        raise ValueError(f"{name} must be a positive int, got {n!r}")
    return int(n)


def _arrays(X, y) -> tuple[np.ndarray, np.ndarray]:
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim == 0 or y.ndim == 0:
        raise ValueError("X and y must be arrays of samples, got a single number")
    if len(X) != len(y):
        raise ValueError(f"X and y must hold the same number of samples, got {len(X)} and {len(y)}")
    if len(X) == 0:
        raise ValueError("X and y are empty: there is nothing to batch")
    return X, y


def _order(n: int, shuffle: bool, rng: np.random.Generator) -> np.ndarray:
    return rng.permutation(n) if shuffle else np.arange(n)


def _split(X: np.ndarray, y: np.ndarray, order: np.ndarray, batch_size: int, drop_last: bool) -> Iterator[Batch]:
    n = len(order)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        idx = order[start:start + batch_size]
        yield X[idx], y[idx]


def batches(
    X, y, batch_size: int, shuffle: bool = True, seed: int | None = 0, drop_last: bool = False
) -> Iterator[Batch]:
    """One epoch of mini-batches ``(X_batch, y_batch)``.

    With `shuffle`, the samples are visited in the order of
    ``numpy.random.default_rng(seed).permutation(n)``; otherwise in their
    order. The last batch is smaller when `batch_size` does not divide n,
    unless `drop_last` drops it. Use `DataLoader` for several epochs.
    """
    X, y = _arrays(X, y)
    batch_size = _positive("batch_size", batch_size)
    return _split(X, y, _order(len(X), shuffle, np.random.default_rng(seed)), batch_size, drop_last)


class DataLoader:
    """Mini-batches over epochs, like ``torch.utils.data.DataLoader``: each ``for`` loop is one epoch.

    Shuffling draws a new order every epoch from one Generator seeded with
    `seed`, so a new DataLoader with the same seed gives the same sequence of
    epochs. ``len(loader)`` is the number of batches per epoch.
    """

    def __init__(
        self, X, y, batch_size: int = 32, shuffle: bool = True, seed: int | None = 0, drop_last: bool = False
    ) -> None:
        self.X, self.y = _arrays(X, y)
        self.batch_size = _positive("batch_size", batch_size)
        if drop_last and self.batch_size > len(self.X):
            raise ValueError(f"batch_size {self.batch_size} > {len(self.X)} samples with drop_last: "
                             "every epoch would be empty")
        self.shuffle, self.drop_last = bool(shuffle), bool(drop_last)
        self._rng = np.random.default_rng(seed)
        self.epochs = 0  # epochs started so far

    def __iter__(self) -> Iterator[Batch]:
        self.epochs += 1
        order = _order(len(self.X), self.shuffle, self._rng)  # drawn now: one permutation per epoch
        return _split(self.X, self.y, order, self.batch_size, self.drop_last)

    def __len__(self) -> int:
        n, b = len(self.X), self.batch_size
        return n // b if self.drop_last else -(-n // b)

    @property
    def samples_per_epoch(self) -> int:
        """How many samples one epoch visits (fewer than len(X) with drop_last)."""
        n = len(self.X)
        return n - n % self.batch_size if self.drop_last else n

    def __repr__(self) -> str:
        return (f"DataLoader({len(self.X)} samples, batch_size={self.batch_size}, shuffle={self.shuffle}, "
                f"drop_last={self.drop_last})")


def kfold(
    n: int, k: int = 5, seed: int | None = 0, stratify: Sequence | None = None
) -> list[tuple[np.ndarray, np.ndarray]]:
    """K-fold cross-validation: `k` pairs ``(train_indices, val_indices)`` over ``range(n)``.

    Every index is in exactly one validation fold. The indices are shuffled
    with `seed` (scikit-learn's `KFold`), or, given the labels `stratify`,
    every fold keeps the classes in the same proportions (`StratifiedKFold`).
    Needs scikit-learn (the ``data`` extra).
    """
    n = _positive("n", n)
    k = _positive("k", k)
    if not 2 <= k <= n:
        raise ValueError(f"k must be between 2 and n = {n}, got {k}")
    try:
        from sklearn.model_selection import KFold, StratifiedKFold
    except ImportError as error:
        raise ImportError('kfold needs scikit-learn: pip install "microgradcn[data]"') from error
    if stratify is None:
        splits = KFold(n_splits=k, shuffle=True, random_state=seed).split(np.zeros(n))
    else:
        labels = np.asarray(stratify)
        if len(labels) != n:
            raise ValueError(f"stratify must hold n = {n} labels, got {len(labels)}")
        splits = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(np.zeros(n), labels)
    return [(train, val) for train, val in splits]


def accuracy(pred_labels: ArrayLike, y: ArrayLike) -> float:
    """Fraction of predicted labels equal to the true labels."""
    p, t = np.asarray(pred_labels), np.asarray(y)
    if p.shape != t.shape or p.ndim != 1:
        raise ValueError(f"pred_labels and y must be two lists of the same length, got shapes {p.shape} and {t.shape}")
    if len(t) == 0:
        raise ValueError("accuracy of no samples is undefined: got empty lists")
    return float(np.mean(p == t))


def confusion_matrix(y_true: ArrayLike, y_pred: ArrayLike, n_classes: int) -> np.ndarray:
    """Counts ``C[i][j]`` of samples of true class i predicted as class j (rows: truth, columns: prediction)."""
    n_classes = _positive("n_classes", n_classes)
    t, p = np.asarray(y_true), np.asarray(y_pred)
    if t.shape != p.shape or t.ndim != 1:
        raise ValueError(f"y_true and y_pred must be two lists of the same length, got shapes {t.shape} and {p.shape}")
    for name, labels in (("y_true", t), ("y_pred", p)):
        bad = [v for v in labels.tolist() if isinstance(v, bool) or not isinstance(v, Integral)
               or not 0 <= int(v) < n_classes]
        if bad:
            raise ValueError(f"{name} must hold class indices in [0, {n_classes}), got {bad[0]!r}")
    counts = np.zeros((n_classes, n_classes), dtype=int)
    np.add.at(counts, (t.astype(int), p.astype(int)), 1)
    return counts
