"""The hand-written layers of 《深度学习入门》 chapter 5, in numpy, beside the autograd engine.

Each layer is a small object with ``forward`` and ``backward``, exactly the
interface the book uses, so a reader can follow the book line by line:

* `MulLayer`, `AddLayer`: ``forward(x, y)`` returns the output,
  ``backward(dout)`` returns the pair ``(dx, dy)``;
* `Relu`, `Sigmoid`: ``forward(x)``, ``backward(dout)`` returns ``dx``;
* `Affine(W, b)`: ``forward(x)`` computes ``x @ W + b`` and keeps ``x``;
  ``backward(dout)`` returns ``dx`` and stores ``dW`` and ``db``;
* `SoftmaxWithLoss`: ``forward(x, t)`` returns the cross-entropy loss of
  ``softmax(x)`` against ``t`` (one-hot rows or class labels);
  ``backward(dout=1)`` returns ``(y - t) / batch_size``.

Every backward is written by hand from the local derivative of its layer:
this is what the engine's ``backward()`` does for you, node by node.

>>> apple, apple_num, tax = 100, 2, 1.1
>>> mul_apple, mul_tax = MulLayer(), MulLayer()
>>> price = mul_tax.forward(mul_apple.forward(apple, apple_num), tax)
>>> round(price, 6)
220.0
>>> dapple_price, dtax = mul_tax.backward(1)
>>> dapple, dapple_num = mul_apple.backward(dapple_price)
>>> round(dapple, 6), round(dapple_num, 6), dtax
(2.2, 110.0, 200)
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import TYPE_CHECKING, Any

import numpy as np

__all__ = [
    "AddLayer",
    "Affine",
    "MulLayer",
    "Relu",
    "Sigmoid",
    "SoftmaxWithLoss",
    "cross_entropy_error",
    "softmax",
]

if TYPE_CHECKING:
    ArrayLike = np.ndarray | float | int


def _number_or_array(x: Any, what: str) -> Any:
    """Numbers stay numbers (so 100 * 2 prints 200, as in the book); anything else becomes a float array."""
    if isinstance(x, (bool, str, bytes)):
        raise TypeError(f"{what} must be a number or a numpy array, got {type(x).__name__}: {x!r}")
    if isinstance(x, (Real, np.ndarray)):
        return x
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{what} must be a number or a numpy array, got {type(x).__name__}: {x!r}") from None
    return arr


def _float_array(x: Any, what: str) -> np.ndarray:
    if isinstance(x, (bool, str, bytes)):
        raise TypeError(f"{what} must be a numpy array (or a number), got {type(x).__name__}: {x!r}")
    try:
        arr = np.array(x, dtype=float)  # a copy: the caller's array is never changed
    except (TypeError, ValueError):
        raise TypeError(f"{what} must be a numpy array of numbers, got {type(x).__name__}: {x!r}") from None
    return arr


def _sum_to_shape(grad: Any, shape: tuple[int, ...]) -> Any:
    """Undo numpy broadcasting: sum `grad` over the axes that were stretched to reach its shape."""
    if not isinstance(grad, np.ndarray) or grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad.reshape(shape)


def _shape(x: Any) -> tuple[int, ...]:
    return x.shape if isinstance(x, np.ndarray) else ()


def _need_forward(layer: object, ready: bool) -> None:
    if not ready:
        raise RuntimeError(f"{type(layer).__name__}.backward() was called before forward()")


# ------------------------------------------------------------ multiply and add
class MulLayer:
    """The multiplication node ``out = x * y``: backward swaps the inputs, ``dx = dout * y``, ``dy = dout * x``.

    Works on numbers and on numpy arrays (with broadcasting: each gradient is
    summed back to its input's shape).
    """

    def __init__(self) -> None:
        self.x: Any = None
        self.y: Any = None

    def forward(self, x: ArrayLike, y: ArrayLike) -> ArrayLike:
        """Remember both inputs (backward needs them) and return ``x * y``."""
        self.x = _number_or_array(x, "MulLayer input x")
        self.y = _number_or_array(y, "MulLayer input y")
        return self.x * self.y

    def backward(self, dout: ArrayLike) -> tuple[ArrayLike, ArrayLike]:
        """``(dout * y, dout * x)``: the upstream gradient times the *other* input."""
        _need_forward(self, self.x is not None)
        dout = _number_or_array(dout, "MulLayer dout")
        dx = _sum_to_shape(dout * self.y, _shape(self.x))
        dy = _sum_to_shape(dout * self.x, _shape(self.y))
        return dx, dy


class AddLayer:
    """The addition node ``out = x + y``: backward passes ``dout`` on unchanged to both inputs."""

    def __init__(self) -> None:
        self._shapes: tuple[tuple[int, ...], tuple[int, ...]] | None = None

    def forward(self, x: ArrayLike, y: ArrayLike) -> ArrayLike:
        """Return ``x + y`` (nothing needs remembering but the shapes, for broadcasting)."""
        x = _number_or_array(x, "AddLayer input x")
        y = _number_or_array(y, "AddLayer input y")
        self._shapes = (_shape(x), _shape(y))
        return x + y

    def backward(self, dout: ArrayLike) -> tuple[ArrayLike, ArrayLike]:
        """``(dout * 1, dout * 1)``."""
        _need_forward(self, self._shapes is not None)
        assert self._shapes is not None
        dout = _number_or_array(dout, "AddLayer dout")
        return _sum_to_shape(dout * 1, self._shapes[0]), _sum_to_shape(dout * 1, self._shapes[1])


# ----------------------------------------------------------------- activations
class Relu:
    """``max(0, x)`` element-wise. Keeps the mask ``x <= 0``; backward zeroes ``dout`` there.

    Unlike the book's version, backward does not overwrite the caller's
    ``dout`` array: it returns a new one.
    """

    def __init__(self) -> None:
        self.mask: np.ndarray | None = None

    def forward(self, x: ArrayLike) -> np.ndarray:
        """Return a copy of `x` with every entry ``<= 0`` set to 0."""
        out = _float_array(x, "Relu input x")
        self.mask = out <= 0
        out[self.mask] = 0.0
        return out

    def backward(self, dout: ArrayLike) -> np.ndarray:
        """``dout`` where the input was positive, 0 elsewhere (the derivative at 0 is taken to be 0)."""
        _need_forward(self, self.mask is not None)
        dx = _float_array(dout, "Relu dout")
        assert self.mask is not None
        if dx.shape != self.mask.shape:
            raise ValueError(f"Relu dout must have the forward output's shape {self.mask.shape}, got {dx.shape}")
        dx[self.mask] = 0.0
        return dx


class Sigmoid:
    """``y = 1 / (1 + exp(-x))`` element-wise; backward uses only the output: ``dx = dout * y * (1 - y)``."""

    def __init__(self) -> None:
        self.out: np.ndarray | None = None

    def forward(self, x: ArrayLike) -> np.ndarray:
        """The sigmoid of `x`, without overflow for any x (keeps the output for backward)."""
        x = _float_array(x, "Sigmoid input x")
        z = np.exp(-np.abs(x))  # in (0, 1]: never overflows
        self.out = np.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z))
        return self.out.copy()

    def backward(self, dout: ArrayLike) -> np.ndarray:
        """``dout * y * (1 - y)``."""
        _need_forward(self, self.out is not None)
        assert self.out is not None
        dout = _float_array(dout, "Sigmoid dout")
        return dout * (1.0 - self.out) * self.out


# ---------------------------------------------------------------------- Affine
class Affine:
    """The fully connected layer ``out = x @ W + b`` with ``W`` of shape (in, out) and ``b`` of shape (out,).

    As in the book, an input of shape (N, d1, d2, ...) is flattened to
    (N, d1·d2·...) first, and ``backward`` returns ``dx`` in the original
    shape. A 1-D input of shape (in,) is one sample and gives a 1-D output.
    ``backward`` stores ``dW = xᵀ @ dout`` and ``db = Σ dout`` (over the batch).
    `W` and `b` are used as given (not copied), so an optimiser that updates
    them in place updates the layer.
    """

    def __init__(self, W: np.ndarray, b: np.ndarray) -> None:
        if not isinstance(W, np.ndarray) or W.ndim != 2:
            raise ValueError(f"Affine W must be a 2-D numpy array (inputs × outputs), got {W!r}")
        if not isinstance(b, np.ndarray) or b.shape != (W.shape[1],):
            shape = b.shape if isinstance(b, np.ndarray) else type(b).__name__
            raise ValueError(f"Affine b must be a numpy array of shape ({W.shape[1]},) to match W, got {shape}")
        self.W = W
        self.b = b
        self.x: np.ndarray | None = None
        self.original_x_shape: tuple[int, ...] | None = None
        self.dW: np.ndarray | None = None
        self.db: np.ndarray | None = None

    def forward(self, x: ArrayLike) -> np.ndarray:
        """Flatten `x` to (batch, features), keep it, and return ``x @ W + b``."""
        x = _float_array(x, "Affine input x")
        if x.ndim == 0:
            raise ValueError(
                f"Affine input must be an array of {self.W.shape[0]} features or a batch of them, got a scalar"
            )
        self.original_x_shape = x.shape
        flat = x.reshape(1, -1) if x.ndim == 1 else x.reshape(x.shape[0], -1)
        if flat.shape[1] != self.W.shape[0]:
            raise ValueError(
                f"Affine expects {self.W.shape[0]} features per sample (W is {self.W.shape}), "
                f"got input of shape {x.shape}"
            )
        self.x = flat
        out = flat @ self.W + self.b
        return out[0] if x.ndim == 1 else out

    def backward(self, dout: ArrayLike) -> np.ndarray:
        """Return ``dx = dout @ Wᵀ`` (in the input's shape); store ``dW`` and ``db``."""
        _need_forward(self, self.x is not None)
        assert self.x is not None and self.original_x_shape is not None
        dout = _float_array(dout, "Affine dout").reshape(self.x.shape[0], self.W.shape[1])
        dx = dout @ self.W.T
        self.dW = self.x.T @ dout
        self.db = dout.sum(axis=0)
        return dx.reshape(self.original_x_shape)


# ------------------------------------------------------------ softmax and loss
def softmax(x: ArrayLike) -> np.ndarray:
    """Softmax over the last axis, with the maximum subtracted first (finite for any input)."""
    x = _float_array(x, "softmax input x")
    shifted = x - x.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=-1, keepdims=True)


def _labels_and_onehot(t: Any, batch: int, classes: int) -> tuple[np.ndarray, np.ndarray]:
    """(class labels, one-hot rows) from t given as labels or as one-hot (or probability) rows."""
    if isinstance(t, Integral) and not isinstance(t, bool):
        t = np.array([t])
    arr = np.asarray(t)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.number):
        raise TypeError(f"t must be class labels (ints) or one-hot rows (numbers), got dtype {arr.dtype}")
    if arr.size == batch * classes and arr.ndim >= 1 and arr.shape[-1] == classes and (arr.ndim > 1 or batch == 1):
        onehot = arr.reshape(batch, classes).astype(float)
        return onehot.argmax(axis=1), onehot
    if arr.size == batch and np.issubdtype(arr.dtype, np.integer):
        labels = arr.reshape(batch).astype(int)
        if labels.min() < 0 or labels.max() >= classes:
            raise ValueError(f"class labels must be in [0, {classes}), got {labels.tolist()}")
        onehot = np.zeros((batch, classes))
        onehot[np.arange(batch), labels] = 1.0
        return labels, onehot
    raise ValueError(
        f"t must be {batch} class labels (ints) or {batch} one-hot rows of {classes} entries, "
        f"got shape {arr.shape} with dtype {arr.dtype}"
    )


def cross_entropy_error(y: ArrayLike, t: Any) -> float:
    """The book's cross-entropy ``-Σ t·log(y + 1e-7) / batch_size`` for probabilities `y`.

    `y` is one row of probabilities or a batch of rows; `t` holds one-hot
    (or probability) rows of the same shape, or one class label per row.
    """
    y = _float_array(y, "cross_entropy_error y")
    if y.ndim not in (1, 2):
        raise ValueError(f"y must be one row of probabilities or a batch (2-D), got shape {y.shape}")
    rows = y.reshape(1, -1) if y.ndim == 1 else y
    _, onehot = _labels_and_onehot(t, rows.shape[0], rows.shape[1])
    return float(-np.sum(onehot * np.log(rows + 1e-7)) / rows.shape[0])


class SoftmaxWithLoss:
    """Softmax followed by cross-entropy, as one layer (the book's last layer).

    ``forward(x, t)``: `x` is a batch of score rows (N, C) or one row (C,);
    `t` is one-hot rows like `x`, or N class labels. Returns the loss
    ``-Σ t·log(y + 1e-7) / N`` with ``y = softmax(x)``, and keeps ``y`` and
    ``t`` (``t`` is stored one-hot).

    ``backward(dout=1)`` returns ``dout * (y - t) / N``, shaped like `x`.
    This is the derivative of the loss *without* the 1e-7 (the book's choice):
    the two differ by about 1e-7 relative, far below anything that matters.
    """

    def __init__(self) -> None:
        self.loss: float | None = None
        self.y: np.ndarray | None = None
        self.t: np.ndarray | None = None
        self._one_row = False

    def forward(self, x: ArrayLike, t: Any) -> float:
        """The mean cross-entropy loss of ``softmax(x)`` against `t`."""
        x = _float_array(x, "SoftmaxWithLoss input x")
        if x.ndim not in (1, 2):
            raise ValueError(f"SoftmaxWithLoss expects scores of shape (N, C) or (C,), got shape {x.shape}")
        self._one_row = x.ndim == 1
        rows = x.reshape(1, -1) if self._one_row else x
        _, self.t = _labels_and_onehot(t, rows.shape[0], rows.shape[1])
        self.y = softmax(rows)
        self.loss = float(-np.sum(self.t * np.log(self.y + 1e-7)) / rows.shape[0])
        return self.loss

    def backward(self, dout: float = 1) -> np.ndarray:
        """``dout * (y - t) / batch_size``: the gradient of the loss with respect to the scores."""
        _need_forward(self, self.y is not None)
        assert self.y is not None and self.t is not None
        if isinstance(dout, bool) or not isinstance(dout, Real):
            raise TypeError(f"SoftmaxWithLoss dout must be a number (the loss is a scalar), got {dout!r}")
        dx = dout * (self.y - self.t) / self.y.shape[0]
        return dx[0] if self._one_row else dx
