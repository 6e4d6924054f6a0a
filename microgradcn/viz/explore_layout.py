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

__all__ = ["layouts", "SIZES"]

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

    Arrows follow the structure's arrow order. Raises GraphvizNotFoundError when ``dot`` is missing.
    """
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
