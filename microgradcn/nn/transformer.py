"""A GPT on scalar Values: `Embedding`, `RMSNorm`, causal self-attention, a residual MLP block, `GPT`.

The shapes follow karpathy's *microgpt*: token and position embeddings of
width 16, one block of pre-norm causal self-attention (4 heads) and a ReLU MLP
(hidden width 64), both with residual connections, and a linear head to the
vocabulary. There are no biases and no arrays: every number is one `Value`
(a vector is a list of them), so one training step on a 5-letter name is a
graph of about 49,000 nodes, each of which can be inspected.

Sequences are processed one position at a time with a key/value cache, the
way a GPT samples: position t computes its query, key and value, appends the
key and value to the cache, and attends to every cached position (0..t). That
is exactly causal attention, and the same code serves training and sampling.

Two functions are the only places where integers choose Values: `embed` (the
row of a token) and `nll` (the log-probability of the target). Everything else
is arithmetic on Values.

>>> model = GPT(vocab_size=27, seed=0)
>>> len(model.parameters())
4192
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from numbers import Integral
from typing import Union

import numpy as np

from .. import functional as F
from .. import init as initialisers
from .._messages import bilingual
from ..engine import Value, no_grad, select
from ..scopes import function_scope, method_scope, scope
from .linear import Linear
from .module import Module

__all__ = [
    "GPT",
    "Block",
    "CausalSelfAttention",
    "Embedding",
    "KVCache",
    "MLPBlock",
    "RMSNorm",
    "embed",
    "nll",
    "normal_init",
]

Vector = list[Value]
Init = Union[str, Callable[[np.random.Generator, int, int], float]]  # noqa: UP007 - a runtime alias, Python 3.9


def normal_init(std: float) -> Callable[[np.random.Generator, int, int], float]:
    """An initialiser drawing every weight from N(0, std²) (microgpt uses std = 0.08).

    >>> draw = normal_init(0.08)
    >>> round(draw(np.random.default_rng(0), 16, 16), 6)
    0.010058
    """
    if isinstance(std, bool) or not isinstance(std, (int, float)) or not math.isfinite(std) or std < 0:
        raise ValueError(bilingual("std 必须是有限的非负数", f"std must be a finite non-negative number, got {std!r}"))
    std = float(std)

    def normal(rng: np.random.Generator, fan_in: int, fan_out: int) -> float:
        return float(rng.normal(0.0, std))

    normal.__name__ = f"normal_{std:g}"
    return normal


def _positive(name: str, n: object) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(bilingual(f"{name} 必须是正整数", f"{name} must be a positive int, got {n!r}"))
    return n


def _index(what: str, i: object, size: int) -> int:
    if isinstance(i, bool) or not isinstance(i, Integral):
        raise TypeError(bilingual(f"{what} 必须是整数", f"{what} must be an int, got {type(i).__name__}: {i!r}"))
    k = int(i)
    if not 0 <= k < size:
        raise ValueError(bilingual(f"{what} 必须在 [0, {size}) 中", f"{what} must be in [0, {size}), got {k}"))
    return k


def _dot(a: Sequence[Value], b: Sequence[Value]) -> Value:
    """a0*b0 + a1*b1 + ..., summed left to right (no leading 0 node)."""
    acc = a[0] * b[0]
    for i in range(1, len(a)):
        acc = acc + a[i] * b[i]
    return acc


def _add(x: Sequence[Value], y: Sequence[Value]) -> Vector:
    return [a + b for a, b in zip(x, y)]


# ------------------------------------------------------------ the two lookups
def embed(table: Sequence[Sequence[Value]], index: int) -> Vector:
    """Row `index` of an embedding table: the vector of one token (or one position).

    Each entry is picked with `select` from its column, so the gradient of a
    loss reaches exactly that row, and the token id stays data, not graph
    structure: a replayed step (`microgradcn.replay`) picks the rows of new
    tokens without recording again.
    """
    _index("embedding index", index, len(table))
    return [select(column, index) for column in zip(*table)]


@function_scope
def nll(logits: Sequence[Value], target: int) -> Value:
    """Negative log-likelihood of class `target`: -log softmax(logits)[target].

    Computed with `functional.log_softmax`, so it stays finite for any logits.
    At uniform logits over 27 classes it is ln 27 ≈ 3.2958.
    """
    _index("target", target, len(logits))
    return -select(F.log_softmax(logits), target)  # the target is data too


# ------------------------------------------------------------------- modules
class Embedding(Module):
    """A table of `num` learnable vectors of width `dim`; ``emb(i)`` is row i.

    Row i stands for token i: the model learns where in the `dim`-dimensional
    space each token should sit. Weights start from `init` (default N(0, 1),
    as ``torch.nn.Embedding``).
    """

    def __init__(
        self,
        num: int,
        dim: int,
        init: Init = "normal",
        rng: np.random.Generator | None = None,
        seed: int | None = None,
    ) -> None:
        _positive("Embedding num", num)
        _positive("Embedding dim", dim)
        draw = normal_init(1.0) if init == "normal" else initialisers.get(init)
        rng = initialisers.make_rng(seed, rng)
        self.weight = [[Value(draw(rng, num, dim)) for _ in range(dim)] for _ in range(num)]
        self._num, self._dim = num, dim

    def __call__(self, index: int) -> Vector:
        return embed(self.weight, index)

    def __repr__(self) -> str:
        return f"Embedding({self._num}, {self._dim})"


class RMSNorm(Module):
    """``x_i / sqrt(mean(x²) + eps)``: rescale a vector to root-mean-square 1.

    Without `affine` (microgpt's choice) it has no parameters; with it, each
    output is also multiplied by a learnable gain starting at 1, as in
    ``torch.nn.RMSNorm``.
    """

    def __init__(self, dim: int, eps: float = 1e-5, affine: bool = False) -> None:
        _positive("RMSNorm dim", dim)
        if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not math.isfinite(eps) or eps <= 0:
            raise ValueError(bilingual("RMSNorm 的 eps 必须是有限的正数",
                                       f"RMSNorm eps must be a finite positive number, got {eps!r}"))
        self.eps = float(eps)
        if affine:
            self.weight = [Value(1.0) for _ in range(dim)]
        self._dim, self._affine = dim, affine

    def __call__(self, x: Sequence[Value]) -> Vector:
        if len(x) != self._dim:
            raise ValueError(bilingual(f"{self!r} 需要 {self._dim} 个输入,得到 {len(x)} 个",
                                       f"{self!r} expects {self._dim} inputs, got {len(x)}"))
        scale = (_dot(x, x) * (1.0 / self._dim) + self.eps) ** -0.5
        out = [xi * scale for xi in x]
        return [o * w for o, w in zip(out, self.weight)] if self._affine else out

    def __repr__(self) -> str:
        return f"RMSNorm({self._dim}, eps={self.eps:g}{', affine=True' if self._affine else ''})"


class KVCache:
    """The keys and values of the positions seen so far, one pair of lists per layer.

    ``cache.keys[l][t]`` is the key vector of position t in layer l. A fresh
    cache starts a new sequence; `GPT.step` appends one position per call.
    """

    def __init__(self, n_layer: int) -> None:
        _positive("KVCache n_layer", n_layer)
        self.keys: list[list[Vector]] = [[] for _ in range(n_layer)]
        self.values: list[list[Vector]] = [[] for _ in range(n_layer)]

    def __len__(self) -> int:
        return len(self.keys[0])

    def __repr__(self) -> str:
        return f"KVCache({len(self.keys)} layers, {len(self)} positions)"


class CausalSelfAttention(Module):
    """Multi-head self-attention in which each position sees itself and the positions before it.

    For one head with queries, keys and values of width d = dim / n_head::

        score_t  = q · k_t / sqrt(d)          for every cached position t
        weight   = softmax(scores)
        output   = Σ_t weight_t · v_t

    The heads' outputs are concatenated and mixed by `wo`. `wq`, `wk`, `wv`,
    `wo` are ``Linear(dim, dim, bias=False)``.
    """

    def __init__(
        self,
        dim: int,
        n_head: int,
        init: Init = "fan_in_uniform",
        rng: np.random.Generator | None = None,
        seed: int | None = None,
    ) -> None:
        _positive("attention dim", dim)
        _positive("n_head", n_head)
        if dim % n_head:
            raise ValueError(bilingual(f"注意力的维度 {dim} 必须能被头数 n_head {n_head} 整除",
                                       f"attention dim {dim} must be divisible by n_head {n_head}"))
        rng = initialisers.make_rng(seed, rng)
        self.wq = Linear(dim, dim, bias=False, init=init, rng=rng)
        self.wk = Linear(dim, dim, bias=False, init=init, rng=rng)
        self.wv = Linear(dim, dim, bias=False, init=init, rng=rng)
        self.wo = Linear(dim, dim, bias=False, init=init, rng=rng)
        self._dim, self._n_head = dim, n_head
        self._head_dim = dim // n_head
        self._scale = 1.0 / math.sqrt(self._head_dim)

    @method_scope
    def step(
        self,
        x: Sequence[Value],
        keys: list[Vector],
        values: list[Vector],
        weights: list[Vector] | None = None,
    ) -> Vector:
        """Attend from one new position: append its key and value, return its output.

        `keys` and `values` hold the earlier positions (one layer's part of a
        `KVCache`) and grow by one. If `weights` is a list, each head's
        attention weights (one Value per cached position) are appended to it.
        """
        k = self.wk(x)
        q = self.wq(x)
        v = self.wv(x)
        keys.append(k)
        values.append(v)
        d, scale = self._head_dim, self._scale
        out: Vector = []
        for h in range(self._n_head):
            with scope(f"head.{h}"):
                lo, hi = h * d, (h + 1) * d
                q_h = q[lo:hi]
                scores = [_dot(q_h, k_t[lo:hi]) * scale for k_t in keys]
                w = F.softmax(scores)
                if weights is not None:
                    weights.append(w)
                for j in range(lo, hi):
                    out.append(_dot(w, [v_t[j] for v_t in values]))
        return self.wo(out)

    def __call__(self, xs: Sequence[Sequence[Value]]) -> list[Vector]:
        """Causal attention over a whole sequence of vectors (a fresh cache)."""
        keys: list[Vector] = []
        values: list[Vector] = []
        return [self.step(x, keys, values) for x in xs]

    def __repr__(self) -> str:
        return f"CausalSelfAttention({self._dim}, n_head={self._n_head})"


class MLPBlock(Module):
    """The residual MLP: ``x + fc2(relu(fc1(rmsnorm(x))))``, hidden width 4·dim by default."""

    def __init__(
        self,
        dim: int,
        hidden: int | None = None,
        eps: float = 1e-5,
        init: Init = "fan_in_uniform",
        rng: np.random.Generator | None = None,
        seed: int | None = None,
    ) -> None:
        _positive("MLPBlock dim", dim)
        hidden = 4 * dim if hidden is None else _positive("MLPBlock hidden", hidden)
        rng = initialisers.make_rng(seed, rng)
        self.norm = RMSNorm(dim, eps)
        self.fc1 = Linear(dim, hidden, bias=False, init=init, rng=rng)
        self.fc2 = Linear(hidden, dim, bias=False, init=init, rng=rng)
        self._dim, self._hidden = dim, hidden

    def __call__(self, x: Sequence[Value]) -> Vector:
        h = [a.relu() for a in self.fc1(self.norm(x))]
        return _add(self.fc2(h), x)

    def __repr__(self) -> str:
        return f"MLPBlock({self._dim}, hidden={self._hidden})"


class Block(Module):
    """One transformer block: ``x + attn(rmsnorm(x))``, then the residual `MLPBlock`."""

    def __init__(
        self,
        dim: int,
        n_head: int,
        eps: float = 1e-5,
        init: Init = "fan_in_uniform",
        rng: np.random.Generator | None = None,
        seed: int | None = None,
    ) -> None:
        rng = initialisers.make_rng(seed, rng)
        self.norm = RMSNorm(dim, eps)
        self.attn = CausalSelfAttention(dim, n_head, init=init, rng=rng)
        self.mlp = MLPBlock(dim, eps=eps, init=init, rng=rng)

    @method_scope
    def step(
        self,
        x: Sequence[Value],
        keys: list[Vector],
        values: list[Vector],
        weights: list[Vector] | None = None,
    ) -> Vector:
        """One position through the block (see `CausalSelfAttention.step` for the cache)."""
        x = _add(self.attn.step(self.norm(x), keys, values, weights), x)
        return self.mlp(x)

    def __call__(self, xs: Sequence[Sequence[Value]]) -> list[Vector]:
        keys: list[Vector] = []
        values: list[Vector] = []
        return [self.step(x, keys, values) for x in xs]


class GPT(Module):
    """A character-level GPT with microgpt's shape (4,192 parameters for 27 tokens).

    ``logits = lm_head(blocks(rmsnorm(wte[token] + wpe[position])))``: token
    and position embeddings, `n_layer` `Block`s, and a linear head giving one
    score per vocabulary entry. All weights are drawn from N(0, 0.08²) in a
    fixed order from `seed`, so the same seed gives the same model.

    * ``model.step(token, position, cache)``: logits for one position (sampling).
    * ``model(tokens)``: logits for every position of a sequence.
    * ``model.loss(tokens)``: mean next-token loss over ``tokens[:-1] → tokens[1:]``.
    * ``model.generate(bos, ...)``: sample a sequence, with temperature.
    """

    def __init__(
        self,
        vocab_size: int,
        block_size: int = 16,
        n_layer: int = 1,
        n_embd: int = 16,
        n_head: int = 4,
        eps: float = 1e-5,
        init: Init | None = None,
        rng: np.random.Generator | None = None,
        seed: int | None = None,
    ) -> None:
        for name, n in (("vocab_size", vocab_size), ("block_size", block_size), ("n_layer", n_layer),
                        ("n_embd", n_embd), ("n_head", n_head)):
            _positive(f"GPT {name}", n)
        draw = normal_init(0.08) if init is None else init
        rng = initialisers.make_rng(seed, rng)
        self.wte = Embedding(vocab_size, n_embd, init=draw, rng=rng)
        self.wpe = Embedding(block_size, n_embd, init=draw, rng=rng)
        self.norm = RMSNorm(n_embd, eps)
        self.blocks = [Block(n_embd, n_head, eps, init=draw, rng=rng) for _ in range(n_layer)]
        self.lm_head = Linear(n_embd, vocab_size, bias=False, init=draw, rng=rng)
        self.vocab_size, self.block_size = vocab_size, block_size
        self.n_layer, self.n_embd, self.n_head = n_layer, n_embd, n_head

    def new_cache(self) -> KVCache:
        """An empty key/value cache: the start of a new sequence."""
        return KVCache(self.n_layer)

    @method_scope
    def step(self, token: int, position: int, cache: KVCache, weights: list[Vector] | None = None) -> Vector:
        """The logits for the token after `token`, which sits at `position` (appends to `cache`).

        `position` must equal ``len(cache)``. If `weights` is a list, every
        head's attention weights of every layer are appended to it.
        """
        _index("position", position, self.block_size)
        if position != len(cache):
            raise ValueError(bilingual(f"位置 {position} 接不上缓存(缓存里已有 {len(cache)} 个位置)",
                                       f"position {position} does not follow the cache, "
                                       f"which holds {len(cache)} positions"))
        x = self.norm(_add(self.wte(token), self.wpe(position)))
        for block, keys, values in zip(self.blocks, cache.keys, cache.values):
            x = block.step(x, keys, values, weights)
        return self.lm_head(x)

    def __call__(self, tokens: Sequence[int]) -> list[Vector]:
        self._check_length(len(tokens))
        cache = self.new_cache()
        return [self.step(t, i, cache) for i, t in enumerate(tokens)]

    @method_scope
    def loss(self, tokens: Sequence[int]) -> Value:
        """Mean over positions of ``nll(logits at t, tokens[t + 1])``: the training loss of one sequence."""
        if len(tokens) < 2:
            raise ValueError(bilingual(f"训练序列至少要 2 个 token,这里只有 {len(tokens)} 个",
                                       f"a training sequence needs at least 2 tokens, got {len(tokens)}"))
        n = len(tokens) - 1
        self._check_length(n)
        cache = self.new_cache()
        losses = [nll(self.step(tokens[i], i, cache), tokens[i + 1]) for i in range(n)]
        total = losses[0]
        for term in losses[1:]:
            total = total + term
        return total * (1.0 / n)

    def attention(self, tokens: Sequence[int]) -> list[list[list[list[float]]]]:
        """Attention weights as numbers: ``[layer][head][query position][key position]``.

        Row t has t + 1 entries (a position sees only itself and earlier ones).
        """
        self._check_length(len(tokens))
        cache = self.new_cache()
        per_layer_head: list[list[list[list[float]]]] = [
            [[] for _ in range(self.n_head)] for _ in range(self.n_layer)
        ]
        with no_grad():
            for i, t in enumerate(tokens):
                weights: list[Vector] = []
                self.step(t, i, cache, weights)
                for k, w in enumerate(weights):
                    per_layer_head[k // self.n_head][k % self.n_head].append([float(v.data) for v in w])
        return per_layer_head

    def generate(
        self,
        bos: int,
        temperature: float = 1.0,
        rng: random.Random | None = None,
        seed: int | None = None,
        max_new: int | None = None,
    ) -> list[int]:
        """Sample tokens after `bos` until `bos` comes again (or the block is full); `bos` is not returned.

        Each token is drawn from softmax(logits / temperature): below 1 the
        likely tokens get likelier (tamer samples), above 1 the distribution
        flattens. Draws come from `rng` (a ``random.Random``) or one seeded
        with `seed`, so the same seed gives the same sequence.
        """
        _index("bos", bos, self.vocab_size)
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not temperature > 0:
            raise ValueError(bilingual("temperature 必须是正数",
                                       f"temperature must be a positive number, got {temperature!r}"))
        if rng is None:
            rng = random.Random(seed)
        elif seed is not None:
            raise ValueError(bilingual("seed 和 rng 只能给一个", "give either seed or rng, not both"))
        limit = self.block_size if max_new is None else min(_positive("max_new", max_new), self.block_size)
        cache = self.new_cache()
        token, out = bos, []
        choices = range(self.vocab_size)
        with no_grad():
            for position in range(limit):
                logits = self.step(token, position, cache)
                probs = F.softmax([z * (1.0 / temperature) for z in logits])
                token = rng.choices(choices, weights=[p.data for p in probs])[0]
                if token == bos:
                    break
                out.append(token)
        return out

    def _check_length(self, n: int) -> None:
        if n < 1 or n > self.block_size:
            raise ValueError(bilingual(f"序列长度必须在 [1, {self.block_size}](block_size)中,这里是 {n}",
                                       f"sequence length must be in [1, {self.block_size}] (block_size), got {n}"))

    def __repr__(self) -> str:
        return (f"GPT(vocab_size={self.vocab_size}, block_size={self.block_size}, n_layer={self.n_layer}, "
                f"n_embd={self.n_embd}, n_head={self.n_head})")
