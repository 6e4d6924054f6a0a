"""Layouts for the explorer's levels, made once per structure by Graphviz (``dot -Tjson``) in Python.

Why precompute here rather than lay out in the page: Graphviz is already what
draws every other picture of the package, one ``dot`` run lays out all the
distinct structures of a graph at once (a dozen for the moons network), and
the page stays one small offline file with no layout engine inside it.

A layout is, per item, its centre and size, and per arrow its Bézier points,
in points (1/72 inch) with y growing downwards as in SVG.
"""

from __future__ import annotations

import json
import subprocess
from typing import Dict, List, Sequence, Tuple

from .explore_levels import BOX, NODE, OUT, PARAM, STUB
from .render import GraphvizNotFoundError

__all__ = ["layouts", "columns", "SIZES", "DOT_LIMIT"]

DOT_LIMIT = 1500  # items: beyond this a level is laid out in columns (dot's time grows faster than linearly)

# (width, height) in inches of each kind of item; the page draws them at these sizes.
SIZES: Dict[int, Tuple[float, float]] = {NODE: (2.2, 0.62), PARAM: (2.2, 0.62), BOX: (2.5, 0.95),
                                         STUB: (2.4, 0.34), OUT: (0.9, 0.34)}
Structure = Tuple[Tuple[int, ...], Tuple[str, ...], Tuple[Tuple[int, int, int], ...]]


def _dot(index: int, structure: Structure) -> str:
    kinds, ops, arrows = structure
    lines = [f"digraph s{index} {{", "rankdir=LR; nodesep=0.18; ranksep=0.45;",
             "node [shape=box, fixedsize=true, label=\"\"]; edge [arrowhead=none];"]
    for k, kind in enumerate(kinds):
        w, h = SIZES[kind]
        lines.append(f"i{k} [width={w}, height={h}];")
    for a, b, _ in arrows:
        # A chain of the same op (a neuron's running sum) is drawn as a straight line, not a staircase.
        chain = kinds[a] == kinds[b] == NODE and ops[a] == ops[b]
        lines.append(f"i{a} -> i{b} [weight={8 if chain else 1}];")
    lines.append("}")
    return "\n".join(lines)


def layouts(structures: Sequence[Structure]) -> List[dict]:
    """One layout per structure: ``{"w", "h", "items": [[x, y], ...], "arrows": [[x0, y0, x1, y1, ...], ...]}``.

    Arrows follow the structure's arrow order. A structure of more than `DOT_LIMIT` items gets the
    columns of `columns` instead (dot would take minutes). Raises GraphvizNotFoundError when ``dot`` is missing.
    """
    small = [s for s in structures if len(s[0]) <= DOT_LIMIT]
    by_dot = iter(_dot_layouts(small)) if small else iter(())
    return [next(by_dot) if len(s[0]) <= DOT_LIMIT else columns(s) for s in structures]


def columns(structure: Structure) -> dict:
    """A quick layout in linear time: item k in column (longest path of arrows into it), stacked in each column."""
    kinds, _, arrows = structure
    n = len(kinds)
    into: List[List[int]] = [[] for _ in range(n)]
    waiting = [0] * n
    for a, b, _ in arrows:
        into[a].append(b)
        waiting[b] += 1
    column = [0] * n
    ready = [k for k in range(n) if waiting[k] == 0]
    while ready:  # items on a cycle (a folded box used on both sides of a node) stay in column 0
        a = ready.pop()
        for b in into[a]:
            column[b] = max(column[b], column[a] + 1)
            waiting[b] -= 1
            if waiting[b] == 0:
                ready.append(b)
    width = max(SIZES[k][0] for k in kinds) * 72 + 60
    height: Dict[int, float] = {}
    items: List[List[float]] = []
    for k, kind in enumerate(kinds):
        w, h = (v * 72 for v in SIZES[kind])
        top = height.get(column[k], 0.0)
        items.append([round(column[k] * width + w / 2, 1), round(top + h / 2, 1)])
        height[column[k]] = top + h + 12
    arrows_out = []
    for a, b, _ in arrows:
        (xa, ya), (xb, yb) = items[a], items[b]
        x0, x1 = xa + SIZES[kinds[a]][0] * 36, xb - SIZES[kinds[b]][0] * 36
        arrows_out.append([x0, ya, x0 + 20, ya, x1 - 20, yb, x1, yb])
    return {"w": round((max(column, default=0) + 1) * width, 1), "h": round(max(height.values(), default=0.0), 1),
            "items": items, "arrows": arrows_out}


def _dot_layouts(structures: Sequence[Structure]) -> List[dict]:
    source = "\n".join(_dot(k, s) for k, s in enumerate(structures))
    try:
        run = subprocess.run(["dot", "-Tjson"], input=source.encode("utf-8"), capture_output=True, check=True)
    except FileNotFoundError:
        raise GraphvizNotFoundError(
            "Graphviz's 'dot' program was not found; install Graphviz (apt-get install graphviz, "
            "brew install graphviz) to lay out the explorer's boxes") from None
    text = run.stdout.decode("utf-8")
    decoder = json.JSONDecoder()
    out: List[dict] = []
    at = 0
    while len(out) < len(structures):
        while text[at].isspace():
            at += 1
        graph, at = decoder.raw_decode(text, at)
        out.append(_read(graph, structures[len(out)]))
    return out


def _read(graph: dict, structure: Structure) -> dict:
    """The page's layout from dot's JSON (y flipped: dot's origin is at the bottom)."""
    x0, y0, x1, y1 = (float(v) for v in graph["bb"].split(","))
    items: List[List[float]] = [[0.0, 0.0] for _ in structure[0]]
    gvid = {}
    for obj in graph.get("objects", []):
        k = int(obj["name"][1:])
        gvid[obj["_gvid"]] = k
        x, y = (float(v) for v in obj["pos"].split(","))
        items[k] = [round(x - x0, 1), round(y1 - y, 1)]
    by_pair: Dict[Tuple[int, int], List[float]] = {}
    for edge in graph.get("edges", []):
        points: List[float] = []
        for token in edge["pos"].split():
            if token[:2] in ("e,", "s,"):
                continue
            x, y = (float(v) for v in token.split(","))
            points += [round(x - x0, 1), round(y1 - y, 1)]
        by_pair[(gvid[edge["tail"]], gvid[edge["head"]])] = points
    arrows = [by_pair.get((a, b), []) for a, b, _ in structure[2]]
    return {"w": round(x1 - x0, 1), "h": round(y1 - y0, 1), "items": items, "arrows": arrows}
