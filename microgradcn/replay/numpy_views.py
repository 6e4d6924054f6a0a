"""Where a group's rows lie in its inputs' arrays: a slice or a broadcast view when they follow a pattern.

A layer's group ``w_ji * h_i`` reads the rows of ``h`` as "each of 16 rows,
16 times": run as an ``(A, B, batch)`` array, its inputs are broadcast views
of their arrays, not copies. These functions find such patterns.
"""

from __future__ import annotations

from typing import List, Optional, Tuple

import numpy as np


def evenly_spaced(idx: List[int]) -> bool:
    """One row, or rows the same non-zero distance apart: a slice."""
    return len(idx) == 1 or (idx[1] != idx[0] and all(b - a == idx[1] - idx[0] for a, b in zip(idx, idx[1:])))


def slice_of(idx: List[int]) -> Optional[str]:
    """Rows `idx` as a slice's text (``3:9:2``), if evenly spaced; else None."""
    if len(idx) == 1:
        return f"{idx[0]}:{idx[0] + 1}"
    step = idx[1] - idx[0]
    if step != 0 and all(b - a == step for a, b in zip(idx, idx[1:])):
        stop = idx[-1] + step
        return f"{idx[0]}:{stop if stop >= 0 else ''}{'' if step == 1 else f':{step}'}"
    return None


def affine(idx: List[int], A: int, B: int) -> Optional[Tuple[int, int, int]]:
    """(base, step_a, step_b) when ``idx[a * B + b] == base + a * step_a + b * step_b`` for all a, b; else None."""
    table = np.array(idx).reshape(A, B)
    base = int(table[0, 0])
    step_a = int(table[1, 0]) - base if A > 1 else 0
    step_b = int(table[0, 1]) - base if B > 1 else 0
    expected = base + np.arange(A)[:, None] * step_a + np.arange(B)[None, :] * step_b
    return (base, step_a, step_b) if np.array_equal(table, expected) else None


def span(base: int, count: int, step: int) -> str:
    """A slice of `count` rows from `base`, `step` apart (step != 0)."""
    stop = base + count * step
    return f"{base}:{stop if stop >= 0 else ''}{'' if step == 1 else f':{step}'}"


def view3(source: str, idx: List[int], A: int, B: int) -> Optional[str]:
    """Rows `idx` of `source` as an (A, B, columns) view, broadcast where rows repeat; None if it needs a copy."""
    form = form3(idx, A, B)
    return None if form is None else form[0].format(source)


def form3(idx: List[int], A: int, B: int) -> Optional[Tuple[str, bool, bool]]:
    """`view3`'s text (with {} for the source) and whether it spans the A and the B axis (not broadcast)."""
    steps = affine(idx, A, B)
    if steps is None:
        return None
    base, step_a, step_b = steps
    if step_a == 0 and step_b == 0:
        return f"{{}}[{base}:{base + 1}][None]", False, False
    if step_a == 0:
        return f"{{}}[{span(base, B, step_b)}][None]", False, True
    if step_b == 0:
        return f"{{}}[{span(base, A, step_a)}][:, None]", True, False
    if step_a == B * step_b:
        return f"{{}}[{span(base, A * B, step_b)}].reshape({A}, {B}, -1)", True, True
    return None


def shape3(lists: List[List[int]]) -> Optional[Tuple[int, int]]:
    """(A, B) with A * B members that turns the most row gathers into views, if any does; None to stay 2-D."""
    m = len(lists[0])
    gathers = sum(not evenly_spaced(idx) for idx in lists)
    best: Optional[Tuple[int, int]] = None
    for B in range(2, m // 2 + 1):
        if m % B:
            continue
        A = m // B
        cost, cover_a, cover_b = 0, False, False
        for idx in lists:
            form = form3(idx, A, B)
            if form is None:  # gathered: a copy of shape (A, B, columns)
                cost += 1
                cover_a = cover_b = True
            else:
                cover_a = cover_a or form[1]
                cover_b = cover_b or form[2]
        if cover_a and cover_b and cost < gathers:  # every (a, b) of the result is computed
            best, gathers = (A, B), cost
    return best
