"""The moons training with plain floats and hand-written backprop: the benchmark's yardstick.

Written the way a careful person writes it by hand for speed (``sum(map(mul, row, h), b)``
for a neuron, list comprehensions for the backward accumulations), and still doing the
same arithmetic in the same order as the engine's graph and backward loop:

* a neuron is ``b + w0*x0 + w1*x1 + ...`` (left to right, bias first), as ``Neuron``;
* the data loss adds the samples' hinge terms in order, ``* (1/n)``, then ``+ 1e-4 * Σ p*p``
  over the parameters in ``model.parameters()`` order;
* every gradient receives its contributions in the order the engine's backward loop
  visits them: samples in order, inside a sample the next layer's neurons in order, and
  the L2 term last, twice (``p * p`` has two parents that are both ``p``).

So the losses equal the engine's bit for bit, and so do the gradients (zero contributions,
from a ReLU that is off, are skipped: adding zeros changes no sum).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from operator import mul
from typing import Any, Iterable, List, Sequence, Tuple

from .timing import clock

Layers = List[Tuple[List[List[float]], List[float]]]


def _sequential_sum(items: Iterable[float], start: float) -> float:
    total = start
    for item in items:
        total += item
    return total


# From CPython 3.12 on, sum() of floats is compensated (Neumaier): more accurate, but not
# the engine's left-to-right order, so those versions add one by one.
_sum: Any = sum if sys.version_info < (3, 12) else _sequential_sum


@dataclass
class TrainResult:
    """What one training run produced (`losses`: the loss before each step's update)."""

    name: str
    steps: int
    seconds: float
    final_loss: float
    accuracy: float
    losses: List[float] = field(default_factory=list)

    @property
    def ms_per_step(self) -> float:
        return 1000 * self.seconds / self.steps


def model_weights(model: Any) -> Layers:
    """The model's weights as plain floats: per layer, (rows of weights, biases)."""
    return [([[w.data for w in n.w] for n in layer.neurons], [n.b.data for n in layer.neurons])
            for layer in model.layers]


def baseline_step(W: List[List[List[float]]], B: List[List[float]], X: Sequence[Sequence[float]],
                  y: Sequence[float]) -> Tuple[float, int, List[List[List[float]]], List[List[float]]]:
    """One step's loss, number of correct signs, and gradients (gW like W, gB like B).

    The model: ReLU hidden layers, a linear output of one unit; the loss: mean hinge
    ``relu(1 - y * score)`` plus ``1e-4 * Σ p*p``.
    """
    depth = len(W)
    last = depth - 1
    scale = 1.0 / len(X)
    gW = [[[0.0] * len(row) for row in rows] for rows in W]
    gB = [[0.0] * len(biases) for biases in B]
    data_sum = 0.0
    correct = 0
    remembered = []
    # ---- forward, keeping what backward needs: every layer's input and pre-activation
    for x, t in zip(X, y):
        h = x
        seen = []
        for layer in range(depth):
            pre = [_sum(map(mul, row, h), b) for row, b in zip(W[layer], B[layer])]
            seen.append((h, pre))
            h = [a if a > 0 else 0.0 for a in pre] if layer < last else pre
        score = h[0]
        margin = 1 + -t * score
        correct += (t > 0) == (score > 0)
        if margin > 0:
            data_sum += margin
            remembered.append((seen, -t * scale))  # d loss / d score
    square_sum = 0.0
    for rows, biases in zip(W, B):
        for row, b in zip(rows, biases):
            square_sum = _sum(map(mul, row, row), square_sum) + b * b
    total = data_sum * scale + 1e-4 * square_sum
    # ---- backward: samples in order (a sample whose hinge is off contributes nothing)
    for seen, g_score in remembered:
        grads = [g_score]
        for layer in range(last, -1, -1):
            h, pre = seen[layer]
            if layer < last:
                grads = [g if a > 0 else 0.0 for a, g in zip(pre, grads)]
            rows, grows, gbias = W[layer], gW[layer], gB[layer]
            gh = None
            for j, g in enumerate(grads):  # the layer's neurons in order, as the engine's loop visits them
                if not g:
                    continue
                gbias[j] += g
                grows[j] = [gw + hm * g for gw, hm in zip(grows[j], h)]
                if layer:
                    gh = [w * g for w in rows[j]] if gh is None else [a + w * g for a, w in zip(gh, rows[j])]
            if gh is None:  # the input layer, or no gradient reaches further down
                break
            grads = gh
    # ---- the L2 term: d (1e-4 * p*p) / dp arrives twice, once per parent of p*p
    c = 1e-4
    for rows, grows, biases, gbias in zip(W, gW, B, gB):
        for j, row in enumerate(rows):
            grows[j] = [gw + w * c + w * c for gw, w in zip(grows[j], row)]
            b = biases[j]
            gbias[j] = gbias[j] + b * c + b * c
    return total, correct, gW, gB


class BaselineTraining:
    """The baseline's training one step at a time, so that a benchmark can interleave it with another run.

    ``step(k)`` is SGD step k (lr = 1.0 - 0.9 k / 100, as the engine's loop),
    timed on its own; ``result()`` says what the steps so far produced.
    """

    def __init__(self, layers: Layers, X: Sequence[Sequence[float]], y: Sequence[float]) -> None:
        self.W = [[list(row) for row in rows] for rows, _ in layers]
        self.B = [list(biases) for _, biases in layers]
        self.X, self.y = X, y
        self.seconds = 0.0
        self.losses: List[float] = []
        self.correct = 0
        self._grads: Tuple[Any, Any] = ([], [])  # the last step's (gW, gB)

    def step(self, k: int) -> None:
        start = clock()
        total, self.correct, gW, gB = baseline_step(self.W, self.B, self.X, self.y)
        lr = 1.0 - 0.9 * k / 100
        for rows, grows, biases, gbias in zip(self.W, gW, self.B, gB):
            for j, (row, grow) in enumerate(zip(rows, grows)):
                rows[j] = [w - lr * g for w, g in zip(row, grow)]
            biases[:] = [b - lr * g for b, g in zip(biases, gbias)]
        self.seconds += clock() - start
        self.losses.append(total)
        self._grads = (gW, gB)

    def gradients(self) -> List[float]:
        """The last step's gradients, flattened in ``model.parameters()`` order."""
        gW, gB = self._grads
        return [g for grows, gbias in zip(gW, gB) for grow, gb in zip(grows, gbias) for g in (*grow, gb)]

    def result(self) -> TrainResult:
        steps = len(self.losses)
        return TrainResult("baseline", steps, self.seconds, self.losses[-1], self.correct / len(self.X),
                           list(self.losses))


def train_baseline(layers: Layers, X: Sequence[Sequence[float]], y: Sequence[float], steps: int = 100) -> TrainResult:
    """The moons demo in plain floats from the weights `layers`: `steps` full-batch SGD steps.

    lr = 1.0 - 0.9 k / 100 at step k, as the engine's loop.
    """
    run = BaselineTraining(layers, X, y)
    for k in range(steps):
        run.step(k)
    return run.result()
