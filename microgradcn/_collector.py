"""Let Python's cyclic garbage collector scan less often while a graph is recorded.

Why: a training step records tens of thousands of nodes that all stay alive
until backward. CPython's generational collector runs a young-generation scan
every 700 new container objects; every node survives those scans, is promoted
to the oldest generation, and is rescanned by every full collection. That
costs more than building and differentiating the graph itself (about 3x the
time of a moons training step). Our graphs never contain reference cycles
(nodes point only to their parents; derivative rules are shared functions), so
reference counting frees them: the collector has nothing to find in them.

What: the first recorded operation of a graph raises the young-generation
threshold to `PAUSED_THRESHOLD` (100,000 allocations) unless yours is higher.
Collection is never switched off: it just runs every 100,000 allocations
instead of every 700, so cyclic garbage of your own is still collected. The
threshold is put back as soon as any of these happens:

* `backward()` or `grad()` finishes (or fails),
* `no_grad()` is entered,
* the first node of the graph is freed (the graph was dropped unused).

If you changed the thresholds meanwhile, yours are kept. If the collector is
off (`gc.disable()`) or its threshold is 0, nothing is touched.
`set_gc_pause(False)` turns the whole mechanism off.
"""

from __future__ import annotations

import gc
import weakref
from typing import Optional, Tuple

PAUSED_THRESHOLD = 100_000

resting = False  # read on every recorded op: True once this graph's setting is decided
_enabled = True
_saved: Optional[Tuple[int, ...]] = None  # the user's thresholds while we hold ours
_ours: Optional[Tuple[int, ...]] = None  # what we set, to notice a change by the user
_watch = None  # weak reference to the first node of the current graph


def set_gc_pause(enabled: bool) -> None:
    """Turn the less-frequent collection during graph recording on (default) or off."""
    global _enabled
    if not isinstance(enabled, bool):
        raise TypeError(f"set_gc_pause() takes True or False, got {enabled!r}")
    wake()
    _enabled = enabled


def gc_pause_enabled() -> bool:
    """Whether collection is made less frequent during graph recording."""
    return _enabled


def rest(first_node: object) -> None:
    """Called by the engine on the first recorded op of a graph."""
    global resting, _saved, _ours, _watch
    resting = True
    if not _enabled or not gc.isenabled():
        return
    current = gc.get_threshold()
    if current[0] == 0 or current[0] >= PAUSED_THRESHOLD:
        return
    _saved = current
    _ours = (PAUSED_THRESHOLD,) + current[1:]
    gc.set_threshold(*_ours)
    _watch = weakref.ref(first_node, _first_node_freed)


def wake() -> None:
    """Put the user's thresholds back (unless they changed them meanwhile)."""
    global resting, _saved, _ours, _watch
    resting = False
    _watch = None
    if _saved is not None:
        if gc.get_threshold() == _ours:
            gc.set_threshold(*_saved)
        _saved = _ours = None


def _first_node_freed(ref: weakref.ref) -> None:
    if ref is _watch:
        wake()
