"""The loss graphs of one training step of the project's own models, for the explorer.

* ``moons``: ``MLP(2, [16, 16, 1])`` (seed 0) on the 100 moons points, mean hinge loss plus
  1e-4·Σp² (the moons benchmark's step, 65,818 nodes);
* ``digits-cnn``: the digits CNN (seed 0) on the first training image, softmax cross-entropy
  (needs scikit-learn, the ``data`` extra);
* ``gpt``: the names GPT (seed 0) on the name ``emma``.

Every model is untrained: its weights are the seeded initial ones. The loss is labelled ``loss``.
The model is returned with the loss: keep it while drawing, since the names of
boxes and parameters are read from the live model (scopes hold modules weakly).

>>> loss, model = step_graph("moons")          # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Tuple

from ..engine import Value

__all__ = ["STEP_GRAPHS", "step_graph"]


def _moons() -> Tuple[Value, Any]:
    from .. import datasets
    from .. import functional as F
    from ..nn import MLP
    from ..train import to_values

    X, y = datasets.make_moons(100, noise=0.1, seed=0, signed=True)
    model = MLP(2, [16, 16, 1], seed=0)
    scores = [model(x) for x in to_values(X)]
    return F.hinge(scores, [float(t) for t in y]) + F.l2_penalty(model.parameters(), 1e-4), model


def _digits_cnn() -> Tuple[Value, Any]:
    from .. import datasets
    from .. import functional as F
    from ..train import digits_model

    (X_train, y_train), _, _ = datasets.digits(seed=0)  # ImportError without scikit-learn
    model = digits_model("cnn", seed=0)
    return F.cross_entropy(model(X_train[0].reshape(1, 8, 8)), int(y_train[0])), model


def _gpt() -> Tuple[Value, Any]:
    from ..nn import GPT
    from ..text import CharTokenizer

    tokenizer = CharTokenizer()
    model = GPT(tokenizer.vocab_size, seed=0)
    return model.loss(tokenizer.encode("emma")), model


STEP_GRAPHS: Dict[str, Callable[[], Tuple[Value, Any]]] = {"moons": _moons, "digits-cnn": _digits_cnn, "gpt": _gpt}


def step_graph(name: str) -> Tuple[Value, Any]:
    """(loss, model) of one step of model `name` (one of `STEP_GRAPHS`); the loss is labelled ``loss``.

    Raises ValueError for an unknown name, ImportError when ``digits-cnn`` lacks scikit-learn.
    """
    if name not in STEP_GRAPHS:
        raise ValueError(f"没有叫 {name!r} 的模型 (unknown model {name!r}; choose one of: "
                         f"{', '.join(STEP_GRAPHS)})")
    loss, model = STEP_GRAPHS[name]()
    loss.label = "loss"
    return loss, model
