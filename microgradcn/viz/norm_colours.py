"""The colour scale of gradient norms: log₁₀ of the norm on viridis, so vanishing and exploding show at a glance.

One rule for `draw_graph`'s boxes and the explorer's page (which gets the
palette and the scale's ends from here): the scale runs over whole powers of
ten, up to the largest norm's and down to the smallest one's, and spans at
least `MIN_DECADES`, so that norms of the same size get nearly the same
colour (a healthy network looks even) and only a real fall shows as dark. A
norm of zero, or one that is not a finite number, gets no colour.
"""

from __future__ import annotations

import math
from typing import Iterable, List, Optional, Tuple

__all__ = ["PALETTE", "NO_COLOUR", "MIN_DECADES", "norm_scale", "norm_colour", "is_dark"]

# viridis at five stops: dark violet (small) to yellow (large); readable for colour-blind eyes.
PALETTE: List[Tuple[int, int, int]] = [(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)]
NO_COLOUR = "#e5e7eb"
MIN_DECADES = 4


def _positive_finite(norm: Optional[float]) -> bool:
    return norm is not None and norm > 0 and math.isfinite(norm)


def norm_scale(norms: Iterable[Optional[float]]) -> Tuple[int, int]:
    """(lo, hi): powers of ten around the norms that have a colour, at least `MIN_DECADES` apart."""
    logs = [math.log10(n) for n in norms if n is not None and _positive_finite(n)]
    if not logs:
        return -MIN_DECADES, 0
    hi = math.ceil(max(logs))
    return min(math.floor(min(logs)), hi - MIN_DECADES), hi


def _position(norm: float, scale: Tuple[int, int]) -> float:
    lo, hi = scale
    return min(1.0, max(0.0, (math.log10(norm) - lo) / (hi - lo)))


def norm_colour(norm: Optional[float], scale: Tuple[int, int]) -> str:
    """``#rrggbb`` for `norm` on `scale` (`norm_scale`'s), or `NO_COLOUR`."""
    if norm is None or not _positive_finite(norm):
        return NO_COLOUR
    x = _position(norm, scale) * (len(PALETTE) - 1)
    k = min(len(PALETTE) - 2, int(x))
    f = x - k
    rgb = [round(a + (b - a) * f) for a, b in zip(PALETTE[k], PALETTE[k + 1])]
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def is_dark(norm: Optional[float], scale: Tuple[int, int]) -> bool:
    """Whether text on `norm_colour(norm, scale)` should be white (the lower part of the scale is dark)."""
    return norm is not None and _positive_finite(norm) and _position(norm, scale) < 0.55
