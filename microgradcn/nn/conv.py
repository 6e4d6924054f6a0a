"""Convolution and pooling on images of Values: `Conv2d`, `MaxPool2d`, `AvgPool2d`, `Flatten`.

PyTorch's conventions without the batch axis: an image is a nested list
``[channel][row][col]`` of numbers or Values (a numpy array of shape
(C, H, W) works too) and so is every output. Nothing is vectorised: one
output pixel of a convolution is the expression ``b + Σ w·x`` over its
window, built from ordinary `Value` additions and multiplications, so its
graph can be drawn and every gradient checked.

>>> from microgradcn.nn import Conv2d
>>> conv = Conv2d(1, 2, kernel_size=2, seed=0)
>>> out = conv([[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]])
>>> len(out), len(out[0]), len(out[0][0])     # 2 channels of 2x2
(2, 2, 2)
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from typing import Any, Union

import numpy as np

from .. import init as initialisers
from .._messages import bilingual
from ..engine import Value
from ._nested import as_value, flatten
from .module import Module

__all__ = ["AvgPool2d", "Conv2d", "Flatten", "MaxPool2d"]

Image = list[list[list[Value]]]
Size = Union[int, tuple[int, int]]  # noqa: UP007 - a runtime alias: keep Python 3.9 working


def _pair(name: str, x: Size, minimum: int) -> tuple[int, int]:
    items = (x, x) if not isinstance(x, (tuple, list)) else tuple(x)
    if len(items) != 2 or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < minimum
                              for v in items):
        raise ValueError(bilingual(f"{name} 必须是不小于 {minimum} 的整数,或两个这样的整数",
                                   f"{name} must be an int >= {minimum} or a pair of them, got {x!r}"))
    return int(items[0]), int(items[1])


def _image(x: Any, channels: int | None, who: str) -> Image:
    """Check that `x` is [channel][row][col] (all rows equal length) and wrap numbers into Values once."""
    if isinstance(x, np.ndarray):
        x = x.tolist()
    if not isinstance(x, (list, tuple)) or not x or not all(isinstance(c, (list, tuple)) and c for c in x):
        raise ValueError(bilingual(f"{who} 需要一张图像:嵌套列表 [通道][行][列]",
                                   f"{who} expects an image [channel][row][col] (nested lists), "
                                   f"got {type(x).__name__}"))
    if channels is not None and len(x) != channels:
        raise ValueError(bilingual(f"{who} 需要 {channels} 个输入通道,得到 {len(x)} 个",
                                   f"{who} expects {channels} input channels, got {len(x)}"))
    height, width = len(x[0]), len(x[0][0]) if isinstance(x[0][0], (list, tuple)) else -1
    out = []
    for c in x:
        if len(c) != height or not all(isinstance(r, (list, tuple)) and len(r) == width for r in c):
            raise ValueError(bilingual(f"{who} 需要每个通道都是 {height} 行、每行 {width} 个像素",
                                       f"{who} expects every channel to be {height} rows of {width} pixels, "
                                       "as nested lists [channel][row][col]"))
        out.append([[as_value(v) for v in row] for row in c])
    return out


def _out_size(who: str, size: int, kernel: int, stride: int, padding: int) -> int:
    n = (size + 2 * padding - kernel) // stride + 1
    if n < 1:
        raise ValueError(bilingual(f"{who}:输入大小 {size}(填充 {padding})比卷积核 {kernel} 还小",
                                   f"{who}: input size {size} (padding {padding}) is smaller than the kernel size "
                                   f"{kernel}"))
    return n


# --------------------------------------------------------------------- Conv2d
class Conv2d(Module):
    """2-D convolution (cross-correlation, as in every deep-learning library).

    ``out[o][i][j] = bias[o] + Σ_c Σ_u Σ_v weight[o][c][u][v] · x[c][i·s + u − p][j·s + v − p]``
    where s is the stride and p the zero padding; the padded zeros are left
    out of the sum (they would add exactly 0). `.weight` is nested
    ``[out_channels][in_channels][kh][kw]`` and `.bias` a list of
    `out_channels` Values, drawn from `init` (default PyTorch's
    U(−1/√fan_in, 1/√fan_in), fan_in = in_channels·kh·kw), weights first.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Size,
        stride: Size = 1,
        padding: Size = 0,
        bias: bool = True,
        init: str | Callable = "fan_in_uniform",
        rng: np.random.Generator | None = None,
        seed: int | None = None,
    ) -> None:
        for name, n in (("in_channels", in_channels), ("out_channels", out_channels)):
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                raise ValueError(bilingual(f"Conv2d 的 {name} 必须是正整数",
                                           f"Conv2d {name} must be a positive int, got {n!r}"))
        self._in, self._out = in_channels, out_channels
        self._kernel = _pair("kernel_size", kernel_size, 1)
        self._stride = _pair("stride", stride, 1)
        self._padding = _pair("padding", padding, 0)
        self._has_bias = bool(bias)
        kh, kw = self._kernel
        fan_in, fan_out = in_channels * kh * kw, out_channels * kh * kw
        draw = initialisers.get(init)
        rng = initialisers.make_rng(seed, rng)
        self.weight = [
            [[[Value(draw(rng, fan_in, fan_out)) for _ in range(kw)] for _ in range(kh)] for _ in range(in_channels)]
            for _ in range(out_channels)
        ]
        if bias:
            self.bias = [Value(draw(rng, fan_in, fan_out)) for _ in range(out_channels)]

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        """(rows, cols) of the output for an input of `height` x `width` pixels."""
        (kh, kw), (sh, sw), (ph, pw) = self._kernel, self._stride, self._padding
        return (_out_size(repr(self), height, kh, sh, ph), _out_size(repr(self), width, kw, sw, pw))

    def __call__(self, x: Any) -> Image:
        image = _image(x, self._in, repr(self))
        height, width = len(image[0]), len(image[0][0])
        rows, cols = self.output_size(height, width)
        (kh, kw), (sh, sw), (ph, pw) = self._kernel, self._stride, self._padding
        out = []
        for o in range(self._out):
            w_o = self.weight[o]
            channel = []
            for i in range(rows):
                top = i * sh - ph
                row = []
                for j in range(cols):
                    left = j * sw - pw
                    act: Value | None = self.bias[o] if self._has_bias else None
                    for c in range(self._in):
                        x_c, w_oc = image[c], w_o[c]
                        for u in range(kh):
                            r = top + u
                            if not 0 <= r < height:
                                continue
                            x_r, w_ocu = x_c[r], w_oc[u]
                            for v in range(kw):
                                col = left + v
                                if 0 <= col < width:
                                    term = w_ocu[v] * x_r[col]
                                    act = term if act is None else act + term
                    row.append(act if act is not None else Value(0.0))  # a window entirely in the padding
                channel.append(row)
            out.append(channel)
        return out

    def __repr__(self) -> str:
        extra = ""
        if self._stride != (1, 1):
            extra += f", stride={_show(self._stride)}"
        if self._padding != (0, 0):
            extra += f", padding={_show(self._padding)}"
        if not self._has_bias:
            extra += ", bias=False"
        return f"Conv2d({self._in}, {self._out}, kernel_size={_show(self._kernel)}{extra})"


def _show(pair: tuple[int, int]) -> str:
    return str(pair[0]) if pair[0] == pair[1] else str(pair)


# ------------------------------------------------------------------- pooling
class _Pool2d(Module):
    _name = "Pool2d"

    def __init__(self, kernel_size: Size, stride: Size | None = None) -> None:
        self._kernel = _pair("kernel_size", kernel_size, 1)
        self._stride = self._kernel if stride is None else _pair("stride", stride, 1)

    def _windows(self, x: Any) -> list[list[list[list[Value]]]]:
        """For each channel, row and column of the output: the Values of its window, row by row."""
        image = _image(x, None, repr(self))
        height, width = len(image[0]), len(image[0][0])
        (kh, kw), (sh, sw) = self._kernel, self._stride
        rows = _out_size(repr(self), height, kh, sh, 0)
        cols = _out_size(repr(self), width, kw, sw, 0)
        return [
            [[[ch[i * sh + u][j * sw + v] for u in range(kh) for v in range(kw)] for j in range(cols)]
             for i in range(rows)]
            for ch in image
        ]

    def _reduce(self, x: Any, reduce: Callable[[list[Any]], Any]) -> Image:
        """`reduce` of every window, as an image [channel][row][col]."""
        return [[[reduce(window) for window in row] for row in channel] for channel in self._windows(x)]

    def __repr__(self) -> str:
        stride = "" if self._stride == self._kernel else f", stride={_show(self._stride)}"
        return f"{self._name}(kernel_size={_show(self._kernel)}{stride})"


class MaxPool2d(_Pool2d):
    """Largest value of each window (stride defaults to the kernel size, no padding).

    Built from the engine's `max` op, ``((x0.max(x1)).max(x2))...`` in the
    window's row-major order, so the gradient goes to the winner (the first
    one on a tie) and the graph has no Python comparison in it.
    """

    _name = "MaxPool2d"

    def __call__(self, x: Any) -> Image:
        return self._reduce(x, lambda window: functools.reduce(lambda m, v: m.max(v), window))


class AvgPool2d(_Pool2d):
    """Mean of each window: ``(x0 + x1 + ...) · (1 / window size)`` (stride defaults to the kernel size)."""

    _name = "AvgPool2d"

    def __call__(self, x: Any) -> Image:
        scale = 1.0 / (self._kernel[0] * self._kernel[1])
        return self._reduce(x, lambda window: functools.reduce(operator.add, window) * scale)


class Flatten(Module):
    """A nested list (e.g. an image [channel][row][col]) as one flat list, row-major like ``torch.flatten``."""

    def __call__(self, x: Any) -> list[Any]:
        return flatten(x)

    def __repr__(self) -> str:
        return "Flatten()"
