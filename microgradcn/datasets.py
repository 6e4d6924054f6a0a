"""Small toy datasets made with numpy (no downloads), for training networks on Values.

Each function returns ``(X, y)`` as numpy arrays: X of shape (n, features),
y of shape (n,). Everything is reproducible through `seed`. `digits` is the
exception: real handwritten digits shipped inside scikit-learn (the ``data``
extra), already split into training, validation and test sets.

Labels: binary datasets give 0/1 by default (as scikit-learn does); pass
``signed=True`` for -1/+1, the labels micrograd's max-margin (hinge) loss and
the moons benchmark use. `spiral` gives class indices 0..n_classes-1.
"""

from __future__ import annotations

import math
from typing import Optional, Tuple

import numpy as np

__all__ = ["xor", "make_moons", "make_circles", "spiral", "polynomial", "digits"]

Dataset = Tuple[np.ndarray, np.ndarray]


def _positive_int(name: str, n: object, minimum: int = 1) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {n!r}")
    return int(n)


def _noise(noise: float) -> float:
    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not noise >= 0:
        raise ValueError(f"noise must be a non-negative number, got {noise!r}")
    return float(noise)


def _labels(y: np.ndarray, signed: bool) -> np.ndarray:
    return (2.0 * y - 1.0) if signed else y.astype(float)


def xor(signed: bool = False) -> Dataset:
    """The four XOR points: (0,0)->0, (0,1)->1, (1,0)->1, (1,1)->0. No line separates them."""
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = np.array([0, 1, 1, 0])
    return X, _labels(y, signed)


def _two_classes(
    class0: np.ndarray, class1: np.ndarray, rng: np.random.Generator, noise: float, signed: bool
) -> Dataset:
    """Stack two point sets as classes 0 and 1, shuffle them, then add Gaussian noise."""
    X = np.concatenate([class0, class1])
    y = np.concatenate([np.zeros(len(class0), dtype=int), np.ones(len(class1), dtype=int)])
    order = rng.permutation(len(X))
    X, y = X[order], y[order]
    X = X + rng.normal(scale=noise, size=X.shape)
    return X, _labels(y, signed)


def make_moons(n: int = 100, noise: float = 0.1, seed: Optional[int] = 0, signed: bool = False) -> Dataset:
    """Two interleaving half circles (like sklearn.datasets.make_moons), shuffled, Gaussian noise added.

    The upper moon (centre (0, 0), radius 1) is class 0 (-1 if signed); the
    lower one (centre (1, 0.5)) is class 1 (+1).
    """
    n = _positive_int("n", n, 2)
    noise = _noise(noise)
    rng = np.random.default_rng(seed)
    n_upper = n // 2
    n_lower = n - n_upper
    t_upper = np.linspace(0.0, math.pi, n_upper)
    t_lower = np.linspace(0.0, math.pi, n_lower)
    upper = np.stack([np.cos(t_upper), np.sin(t_upper)], axis=1)
    lower = np.stack([1.0 - np.cos(t_lower), 0.5 - np.sin(t_lower)], axis=1)
    return _two_classes(upper, lower, rng, noise, signed)


def make_circles(
    n: int = 100, noise: float = 0.05, factor: float = 0.5, seed: Optional[int] = 0, signed: bool = False
) -> Dataset:
    """A small circle (radius `factor`, class 1) inside a unit circle (class 0), shuffled, with noise."""
    n = _positive_int("n", n, 2)
    noise = _noise(noise)
    if not 0 < factor < 1:
        raise ValueError(f"factor (inner radius) must be in (0, 1), got {factor!r}")
    rng = np.random.default_rng(seed)
    n_outer = n // 2
    n_inner = n - n_outer
    t_outer = np.linspace(0.0, 2 * math.pi, n_outer, endpoint=False)
    t_inner = np.linspace(0.0, 2 * math.pi, n_inner, endpoint=False)
    outer = np.stack([np.cos(t_outer), np.sin(t_outer)], axis=1)
    inner = factor * np.stack([np.cos(t_inner), np.sin(t_inner)], axis=1)
    return _two_classes(outer, inner, rng, noise, signed)


def spiral(n_classes: int = 3, n_per_class: int = 50, noise: float = 0.2, seed: Optional[int] = 0) -> Dataset:
    """`n_classes` arms of a spiral (the CS231n toy problem); labels are class indices.

    Arm k: radius r from 0 to 1, angle 4k + 4r plus Gaussian noise on the angle.
    """
    n_classes = _positive_int("n_classes", n_classes, 2)
    n_per_class = _positive_int("n_per_class", n_per_class, 1)
    noise = _noise(noise)
    rng = np.random.default_rng(seed)
    X = np.zeros((n_classes * n_per_class, 2))
    y = np.zeros(n_classes * n_per_class, dtype=int)
    for k in range(n_classes):
        rows = slice(k * n_per_class, (k + 1) * n_per_class)
        r = np.linspace(0.0, 1.0, n_per_class)
        angle = np.linspace(4.0 * k, 4.0 * (k + 1), n_per_class) + rng.normal(scale=noise, size=n_per_class)
        X[rows] = np.stack([r * np.sin(angle), r * np.cos(angle)], axis=1)
        y[rows] = k
    return X, y


def polynomial(
    n: int = 200, max_degree: int = 20, noise: float = 0.1, seed: Optional[int] = 0
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """d2l's (动手学深度学习) data for under/over-fitting: y = 5 + 1.2x − 3.4x²/2! + 5.6x³/3! + ε, ε ~ N(0, noise²).

    x ~ N(0, 1). Returns ``(features, y, true_w)``: features[:, i] = xⁱ / i!
    for i < max_degree (dividing by i! keeps high powers from exploding), and
    true_w = [5, 1.2, -3.4, 5.6, 0, 0, ...], so y = features @ true_w + ε.
    """
    n = _positive_int("n", n, 1)
    max_degree = _positive_int("max_degree", max_degree, 4)
    noise = _noise(noise)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 1))
    powers = np.arange(max_degree).reshape(1, -1)
    factorials = np.array([math.factorial(i) for i in range(max_degree)], dtype=float)
    features = np.power(x, powers) / factorials
    true_w = np.zeros(max_degree)
    true_w[:4] = [5.0, 1.2, -3.4, 5.6]
    y = features @ true_w + rng.normal(scale=noise, size=n)
    return features, y, true_w


# ----------------------------------------------------------------- real data
DATA_EXTRA_HINT = 'pip install "microgradcn[data]"'


def _sklearn():
    try:
        import sklearn.datasets
        import sklearn.model_selection
    except ImportError as error:
        raise ImportError(
            f"this needs scikit-learn, which ships the handwritten digits: {DATA_EXTRA_HINT} "
            f"(or pip install scikit-learn)"
        ) from error
    return sklearn


def digits(
    seed: Optional[int] = 0, test_size: float = 0.2, val_size: float = 0.2
) -> Tuple[Dataset, Dataset, Dataset]:
    """The 1,797 handwritten 8x8 digits of scikit-learn's `load_digits`, split three ways.

    Returns ``(X_train, y_train), (X_val, y_val), (X_test, y_test)``: X of shape
    (n, 8, 8) with pixels scaled from 0..16 to [0, 1], y the digits 0-9
    (int). The split is stratified (every set has the digits in the same
    proportions) and seeded (sklearn's `train_test_split` with
    ``random_state=seed``): `test_size` of all images are the test set (360),
    then `val_size` of the rest the validation set (288), leaving 1,149 to
    train on. The data ships inside scikit-learn; nothing is downloaded.
    """
    for name, frac in (("test_size", test_size), ("val_size", val_size)):
        if isinstance(frac, bool) or not isinstance(frac, (int, float)) or not 0 < frac < 1:
            raise ValueError(f"{name} must be a fraction strictly between 0 and 1, got {frac!r}")
    sklearn = _sklearn()
    bunch = sklearn.datasets.load_digits()
    X = (bunch.images / 16.0).astype(float)
    y = bunch.target.astype(int)
    split = sklearn.model_selection.train_test_split
    X_rest, X_test, y_rest, y_test = split(X, y, test_size=test_size, stratify=y, random_state=seed)
    X_train, X_val, y_train, y_val = split(X_rest, y_rest, test_size=val_size, stratify=y_rest, random_state=seed)
    return (X_train, y_train), (X_val, y_val), (X_test, y_test)
