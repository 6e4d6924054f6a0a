"""The GPT benchmark: microgradcn against a microgpt-style scalar engine, same model, same data, same weights.

karpathy's *microgpt* trains a GPT on names with a ~40-line scalar engine. To
compare fairly without depending on that script, this module contains its own
engine written in the same style: a `Value` holding its children and the
local gradient of each (computed when the node is made), a recursive
topological sort, and a backward loop over the reversed order. The model code
below it follows microgpt's functions (`linear`, `rmsnorm`, `softmax`, `gpt`)
over a dict of weight matrices.

Both engines train ``GPT(27)`` (4,192 parameters) on the same names, one name
per step, from the same initial weights, with the same Adam (lr 0.01 decaying
linearly, betas (0.85, 0.99)). Their losses must agree at every step to 1e-9
(they differ only in the order gradients are summed). Printed: ms per step
(CPU time), nodes per step, and the ratio, with Python's garbage collector on
(as a user runs them) and, in the full run, off. The collector matters here:
a microgpt-style graph keeps every node tracked by the collector, which then
spends most of the step scanning it. Nothing here asserts a time.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Sequence

__all__ = ["MicroGPT", "MicroValue", "main", "microgpt_weights", "print_gpt", "run_gpt"]

clock = time.process_time
STEPS = 100
QUICK_STEPS = 5
SEED = 0
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


# ------------------------------------------------------------ the benchmark
def _setup(seed: int):
    from ..nn import GPT
    from ..text import CharTokenizer, names

    tokenizer = CharTokenizer()
    encoded = [tokenizer.encode(name) for name in names(seed)]
    return tokenizer, encoded, GPT(tokenizer.vocab_size, seed=seed)


def _train_eager(model, encoded, steps: int, total_steps: int, replay: bool = False,
                 replayed_only: list | None = None) -> tuple[float, list[float]]:
    """(CPU seconds, losses); with `replayed_only`, append (seconds, steps) of the steps that only replayed."""
    from .. import optim
    from ..text import linear_decay, make_step

    opt = optim.Adam(model.parameters(), lr=linear_decay(LR, total_steps), betas=(0.85, 0.99), eps=1e-8)
    step = make_step(model, replay=replay)  # replay: one recording per name length, counted in the time
    losses = []
    seconds = replay_seconds = 0.0
    replays = 0
    for k in range(steps):
        start = clock()
        records = getattr(step, "records", 0)
        opt.zero_grad()
        losses.append(step(encoded[k % len(encoded)]))
        opt.step()
        took = clock() - start
        seconds += took
        if replay and step.records == records:  # type: ignore[attr-defined]
            replay_seconds += took
            replays += 1
    if replayed_only is not None:
        replayed_only.append((replay_seconds, replays))
    return seconds, losses


def run_gpt(steps: int = STEPS, seed: int = SEED, collector_off_rows: bool = True) -> dict[str, dict[str, float]]:
    """Train both engines for `steps` steps; the rows ``{"eager": {...}, "microgpt-style": {...}}``.

    Each row has ``ms_per_step`` (CPU time), ``nodes_per_step`` (mean graph
    size over those steps' names), ``ns_per_node``, ``final_loss`` and
    ``max_loss_diff`` (largest |loss difference| to the eager row over all
    steps). Both run with Python's garbage collector on, as a user runs them;
    with `collector_off_rows`, the rows ``"eager, collector off"`` and
    ``"microgpt-style, collector off"`` repeat them with ``gc.disable()``.
    """
    from ..engine import topological_order
    from ..nn import GPT
    from . import collector

    tokenizer, encoded, model = _setup(seed)
    initial = model.state_dict()
    steps_names = [encoded[k % len(encoded)] for k in range(steps)]
    # Graph sizes, counted outside the timed runs (building a graph does not change the weights).
    counter = MicroGPT(microgpt_weights(model))
    nodes = {
        "eager": sum(len(topological_order(model.loss(t))) for t in steps_names) / steps,
        "microgpt-style": sum(len(counter.loss(t).topological_order()) for t in steps_names) / steps,
    }

    def eager() -> tuple[float, list[float]]:
        fresh = GPT(tokenizer.vocab_size, seed=seed)
        fresh.load_state_dict(initial)
        return _train_eager(fresh, encoded, steps, steps)

    steady: list = []

    def replayed() -> tuple[float, list[float]]:
        fresh = GPT(tokenizer.vocab_size, seed=seed)
        fresh.load_state_dict(initial)
        return _train_eager(fresh, encoded, steps, steps, replay=True, replayed_only=steady)

    def micro() -> tuple[float, list[float]]:
        fresh = MicroGPT(microgpt_weights(model))  # the initial weights
        start = clock()
        losses = train_micro(fresh, encoded, steps, steps)
        return clock() - start, losses

    runs = [("eager", eager, True), ("replay-python", replayed, True), ("microgpt-style", micro, True)]
    if collector_off_rows:
        runs += [("eager, collector off", eager, False), ("microgpt-style, collector off", micro, False)]
    results = {}
    for name, run, enabled in runs:
        with collector(enabled):
            results[name] = run()
    reference = results["eager"][1]
    rows: dict[str, dict[str, float]] = {}
    for name, (seconds, losses) in results.items():
        ms = 1000 * seconds / steps
        count = nodes["microgpt-style" if name.startswith("microgpt") else "eager"]
        rows[name] = {
            "ms_per_step": ms,
            "nodes_per_step": count,
            "ns_per_node": 1e6 * ms / count,
            "final_loss": losses[-1],
            "max_loss_diff": max(abs(a - b) for a, b in zip(reference, losses)),
            "bit_identical_to_eager": losses == reference,
        }
        if name == "replay-python":
            seconds_only, replays = steady[0]
            rows[name]["records"] = steps - replays  # one per name length met
            rows[name]["ms_per_replayed_step"] = 1000 * seconds_only / replays if replays else 0.0  # 0: none
    return rows


def print_gpt(rows: dict[str, dict[str, float]], steps: int) -> bool:
    """Print the table and the ratios; True if every run's losses agree with eager's to 1e-9 at every step."""
    base = rows["microgpt-style"]
    print(f"gpt: GPT(27) (4,192 parameters) on names, one name per step, {steps} steps, same initial weights")
    print(f"  {'run':<31}{'ms/step':>9}{'nodes/step':>12}{'ns/node':>9}{'× faster':>10}{'final loss':>22}")
    for name, row in rows.items():
        print(f"  {name:<31}{row['ms_per_step']:>9.1f}{row['nodes_per_step']:>12,.0f}{row['ns_per_node']:>9.0f}"
              f"{base['ms_per_step'] / row['ms_per_step']:>10.1f}{row['final_loss']:>22.17g}")
    print("  (× faster: microgpt-style ms/step, collector on, divided by the row's)")
    replay = rows.get("replay-python")
    if replay is not None and replay["records"] < steps:
        print(f"  replay-python: {replay['records']:.0f} of the {steps} steps recorded a new name length "
              f"(included above); a step that only replays takes {replay['ms_per_replayed_step']:.1f} ms, "
              f"{base['ms_per_step'] / replay['ms_per_replayed_step']:.0f}× faster than microgpt-style")
    if "microgpt-style, collector off" in rows:
        on = base["ms_per_step"] / rows["eager"]["ms_per_step"]
        off = rows["microgpt-style, collector off"]["ms_per_step"] / rows["eager, collector off"]["ms_per_step"]
        print(f"  eager vs microgpt-style: {on:.1f}× with the collector on, {off:.1f}× with it off in both")
    diff = max(row["max_loss_diff"] for row in rows.values())
    agree = diff <= 1e-9
    print(f"  largest loss difference to eager at any step: {diff:.3g} ({'agree to 1e-9' if agree else 'DISAGREE'})")
    return agree


def main(quick: bool = False, as_json: bool = False, steps: int | None = None) -> int:
    """Run the benchmark and print it (`as_json`: also one JSON object on the last line)."""
    steps = (QUICK_STEPS if quick else STEPS) if steps is None else steps
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))  # the recursive sort goes as deep as the graph
    try:
        rows = run_gpt(steps, collector_off_rows=not quick)
    finally:
        sys.setrecursionlimit(limit)
    ok = print_gpt(rows, steps)
    if as_json:
        print(json.dumps({"workload": "gpt", "steps": steps, "rows": rows}, sort_keys=True))
    return 0 if ok else 1
