"""A microgpt-style scalar engine and GPT, written for the GPT benchmark (our own code, in microgpt's design).

karpathy's *microgpt* trains a GPT on names with a ~40-line scalar engine. To
compare fairly without depending on that script, this module has its own
engine written in the same style: a `MicroValue` holding its children and the
local gradient of each (computed when the node is made), a recursive
topological sort, and a backward loop over the reversed order. The model code
follows microgpt's functions (`linear`, `rmsnorm`, `softmax`, `gpt`) over a
dict of weight matrices, with the same arithmetic as `microgradcn.nn.GPT`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["LR", "MicroGPT", "MicroValue", "microgpt_weights", "train_micro"]

LR = 0.01


# ------------------------------------------------- a microgpt-style engine
class MicroValue:
    """A scalar with its children and their local gradients (the microgpt design, our own code)."""

    __slots__ = ("_children", "_local_grads", "data", "grad")

    def __init__(self, data: float, children: tuple = (), local_grads: tuple = ()) -> None:
        self.data = data
        self.grad = 0.0
        self._children = children
        self._local_grads = local_grads

    def __add__(self, other):
        other = other if isinstance(other, MicroValue) else MicroValue(other)
        return MicroValue(self.data + other.data, (self, other), (1.0, 1.0))

    def __mul__(self, other):
        other = other if isinstance(other, MicroValue) else MicroValue(other)
        return MicroValue(self.data * other.data, (self, other), (other.data, self.data))

    def __pow__(self, k: float):
        return MicroValue(self.data**k, (self,), (k * self.data ** (k - 1),))

    def log(self):
        return MicroValue(math.log(self.data), (self,), (1 / self.data,))

    def exp(self):
        e = math.exp(self.data)
        return MicroValue(e, (self,), (e,))

    def relu(self):
        return MicroValue(max(0.0, self.data), (self,), (float(self.data > 0),))

    def __neg__(self):
        return self * -1

    def __radd__(self, other):
        return self + other

    def __sub__(self, other):
        return self + (-other)

    def __rsub__(self, other):
        return other + (-self)

    def __rmul__(self, other):
        return self * other

    def __truediv__(self, other):
        return self * other**-1

    def __rtruediv__(self, other):
        return other * self**-1

    def topological_order(self) -> list[MicroValue]:
        """Every node this one depends on, children before parents (recursive depth-first search)."""
        topo: list[MicroValue] = []
        visited = set()

        def build_topo(v):
            if v not in visited:
                visited.add(v)
                for child in v._children:
                    build_topo(child)
                topo.append(v)

        build_topo(self)
        return topo

    def backward(self) -> None:
        topo = self.topological_order()
        self.grad = 1.0
        for v in reversed(topo):
            for child, local_grad in zip(v._children, v._local_grads):
                child.grad += local_grad * v.grad


# ------------------------------------------------- the model, microgpt style
Matrix = list[list[MicroValue]]


def microgpt_weights(model) -> dict[str, Matrix]:
    """A microgradcn `GPT`'s weights copied into microgpt's dict of matrices of `MicroValue`s."""

    def matrix(rows) -> Matrix:
        return [[MicroValue(float(w.data)) for w in row] for row in rows]

    state = {"wte": matrix(model.wte.weight), "wpe": matrix(model.wpe.weight), "lm_head": matrix(model.lm_head.weight)}
    for i, block in enumerate(model.blocks):
        attn, mlp = block.attn, block.mlp
        state[f"layer{i}.attn_wq"] = matrix(attn.wq.weight)
        state[f"layer{i}.attn_wk"] = matrix(attn.wk.weight)
        state[f"layer{i}.attn_wv"] = matrix(attn.wv.weight)
        state[f"layer{i}.attn_wo"] = matrix(attn.wo.weight)
        state[f"layer{i}.mlp_fc1"] = matrix(mlp.fc1.weight)
        state[f"layer{i}.mlp_fc2"] = matrix(mlp.fc2.weight)
    return state


def linear(x, w):
    return [sum(wi * xi for wi, xi in zip(wo, x)) for wo in w]


def softmax(logits):
    max_val = max(val.data for val in logits)
    exps = [(val - max_val).exp() for val in logits]
    total = sum(exps)
    return [e / total for e in exps]


def log_softmax(logits):
    # microgradcn's stable form, so that the two losses are the same numbers.
    max_val = max(val.data for val in logits)
    shifted = [val - max_val for val in logits]
    log_total = sum(s.exp() for s in shifted).log()
    return [s - log_total for s in shifted]


def rmsnorm(x, eps: float = 1e-5):
    ms = sum(xi * xi for xi in x) * (1.0 / len(x))
    scale = (ms + eps) ** -0.5
    return [xi * scale for xi in x]


class MicroGPT:
    """microgpt's forward pass over a dict of weight matrices (same arithmetic as `microgradcn.nn.GPT`)."""

    def __init__(self, state: dict[str, Matrix], n_layer: int = 1, n_head: int = 4) -> None:
        self.state = state
        self.n_layer, self.n_head = n_layer, n_head
        self.head_dim = len(state["wte"][0]) // n_head
        self.scale = 1.0 / math.sqrt(self.head_dim)

    def parameters(self) -> list[MicroValue]:
        return [p for mat in self.state.values() for row in mat for p in row]

    def gpt(self, token_id: int, pos_id: int, keys, values):
        sd, hd = self.state, self.head_dim
        tok_emb = sd["wte"][token_id]
        pos_emb = sd["wpe"][pos_id]
        x = [t + p for t, p in zip(tok_emb, pos_emb)]
        x = rmsnorm(x)
        for li in range(self.n_layer):
            x_residual = x
            x = rmsnorm(x)
            k = linear(x, sd[f"layer{li}.attn_wk"])
            q = linear(x, sd[f"layer{li}.attn_wq"])
            v = linear(x, sd[f"layer{li}.attn_wv"])
            keys[li].append(k)
            values[li].append(v)
            x_attn = []
            for h in range(self.n_head):
                hs = h * hd
                q_h = q[hs:hs + hd]
                k_h = [ki[hs:hs + hd] for ki in keys[li]]
                v_h = [vi[hs:hs + hd] for vi in values[li]]
                attn_logits = [sum(q_h[j] * k_h[t][j] for j in range(hd)) * self.scale for t in range(len(k_h))]
                attn_weights = softmax(attn_logits)
                head_out = [sum(attn_weights[t] * v_h[t][j] for t in range(len(v_h))) for j in range(hd)]
                x_attn.extend(head_out)
            x = linear(x_attn, sd[f"layer{li}.attn_wo"])
            x = [a + b for a, b in zip(x, x_residual)]
            x_residual = x
            x = rmsnorm(x)
            x = linear(x, sd[f"layer{li}.mlp_fc1"])
            x = [xi.relu() for xi in x]
            x = linear(x, sd[f"layer{li}.mlp_fc2"])
            x = [a + b for a, b in zip(x, x_residual)]
        return linear(x, sd["lm_head"])

    def loss(self, tokens: Sequence[int]) -> MicroValue:
        n = len(tokens) - 1
        keys: list = [[] for _ in range(self.n_layer)]
        values: list = [[] for _ in range(self.n_layer)]
        losses = []
        for pos_id in range(n):
            logits = self.gpt(tokens[pos_id], pos_id, keys, values)
            losses.append(-log_softmax(logits)[tokens[pos_id + 1]])
        return sum(losses) * (1.0 / n)


def train_micro(model: MicroGPT, encoded: Sequence[Sequence[int]], steps: int, total_steps: int) -> list[float]:
    """microgpt's loop: forward, backward, Adam (written as `microgradcn.optim.Adam` computes it)."""
    params = model.parameters()
    b1, b2, eps = 0.85, 0.99, 1e-8
    m = [0.0] * len(params)
    v = [0.0] * len(params)
    losses = []
    for k in range(steps):
        loss = model.loss(encoded[k % len(encoded)])
        loss.backward()
        lr = LR * (1 - k / total_steps)
        c1, c2 = 1 - b1 ** (k + 1), 1 - b2 ** (k + 1)
        for i, p in enumerate(params):
            g = p.grad
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            p.data -= lr * (m[i] / c1) / (math.sqrt(v[i] / c2) + eps)
            p.grad = 0.0
        losses.append(loss.data)
    return losses
