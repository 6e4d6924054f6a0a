"""datasets: shapes, labels, geometry and reproducibility of the toy data."""

from __future__ import annotations

import math

import numpy as np
import pytest

from microgradcn import datasets


def test_xor_truth_table():
    X, y = datasets.xor()
    assert X.tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]]
    assert y.tolist() == [0, 1, 1, 0]
    assert datasets.xor(signed=True)[1].tolist() == [-1, 1, 1, -1]


def test_moons_geometry_labels_and_seed():
    X, y = datasets.make_moons(100, noise=0.0, seed=0)
    assert X.shape == (100, 2) and sorted(set(y.tolist())) == [0.0, 1.0] and y.sum() == 50
    upper, lower = X[y == 0], X[y == 1]
    assert np.hypot(upper[:, 0], upper[:, 1]) == pytest.approx(np.ones(50))  # unit half circle
    assert np.all(upper[:, 1] >= -1e-12)
    assert np.hypot(lower[:, 0] - 1, lower[:, 1] - 0.5) == pytest.approx(np.ones(50))
    assert np.all(lower[:, 1] <= 0.5 + 1e-12)
    a, ya = datasets.make_moons(100, noise=0.1, seed=3, signed=True)
    b, yb = datasets.make_moons(100, noise=0.1, seed=3, signed=True)
    assert np.array_equal(a, b) and np.array_equal(ya, yb) and set(ya.tolist()) == {-1.0, 1.0}
    assert not np.array_equal(a, datasets.make_moons(100, noise=0.1, seed=4)[0])
    noisy = datasets.make_moons(2000, noise=0.1, seed=0)[0]
    clean = datasets.make_moons(2000, noise=0.0, seed=0)[0]
    assert np.std(noisy - clean) == pytest.approx(0.1, rel=0.05)


def test_circles_radii():
    X, y = datasets.make_circles(60, noise=0.0, factor=0.3, seed=1)
    r = np.hypot(X[:, 0], X[:, 1])
    assert r[y == 0] == pytest.approx(np.ones(30)) and r[y == 1] == pytest.approx(0.3 * np.ones(30))
    with pytest.raises(ValueError, match="factor"):
        datasets.make_circles(factor=1.5)


def test_spiral_shape_labels_and_radius():
    X, y = datasets.spiral(3, 40, noise=0.0, seed=0)
    assert X.shape == (120, 2) and np.bincount(y).tolist() == [40, 40, 40]
    r = np.hypot(X[:40, 0], X[:40, 1])
    assert r == pytest.approx(np.linspace(0, 1, 40))


def test_polynomial_matches_the_d2l_formula():
    features, y, true_w = datasets.polynomial(n=50, noise=0.0, seed=0)
    assert features.shape == (50, 20) and true_w[:4].tolist() == [5, 1.2, -3.4, 5.6]
    x = features[:, 1]
    assert features[:, 0] == pytest.approx(np.ones(50))
    assert features[:, 5] == pytest.approx(x**5 / math.factorial(5))
    assert y == pytest.approx(5 + 1.2 * x - 3.4 * x**2 / 2 + 5.6 * x**3 / 6)
    _, noisy, _ = datasets.polynomial(n=4000, noise=0.1, seed=0)
    feats, clean, _ = datasets.polynomial(n=4000, noise=0.0, seed=0)
    assert np.std(noisy - clean) == pytest.approx(0.1, rel=0.05)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: datasets.make_moons(1), "n must be an int >= 2"),
        (lambda: datasets.make_moons(10, noise=-1), "noise"),
        (lambda: datasets.spiral(1), "n_classes"),
        (lambda: datasets.polynomial(max_degree=3), "max_degree"),
    ],
)
def test_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()
