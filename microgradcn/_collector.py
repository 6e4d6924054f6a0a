"""Let Python's cyclic garbage collector scan less often while a graph is alive.

Why: a training step records tens of thousands of nodes that all stay alive
until the graph is dropped. CPython's generational collector runs a
young-generation scan every 700 new container objects; every node survives
those scans, is promoted, and is scanned again by later collections. That
costs more than building and differentiating the graph (about 3x a moons
training step). Our graphs contain no reference cycles (nodes point only to
their parents; derivative rules are shared functions), so reference counting
frees them and the collector has nothing to find in them.

What: the first recorded operation of a graph raises the young-generation
threshold to `PAUSED_THRESHOLD` (100,000 allocations) unless yours is higher.
Collection is never switched off: it runs every 100,000 allocations instead
of every 700, so cyclic garbage of your own is still collected. The threshold
goes back when that first node is freed, that is when the graph is dropped
(in a training loop: when the next step's loss replaces it). Keeping it up
until then, not just until ``backward()``, spares the optimiser's step a scan
of the whole still-living graph.

If you change the thresholds meanwhile, yours are kept. If the collector is
off (`gc.disable()`) or its threshold is 0, nothing is touched. Several
threads may record at once: the state below changes under a lock.
`set_gc_pause(False)` turns the whole mechanism off.
"""

from __future__ import annotations

import gc
import threading
import weakref
from typing import Optional, Tuple

PAUSED_THRESHOLD = 100_000

resting = False  # read on every recorded op: True once this graph's setting is decided
_enabled = True
_lock = threading.RLock()  # a weakref callback may run wake() inside rest()
_saved: Optional[Tuple[int, ...]] = None  # the user's thresholds while we hold ours
_ours: Optional[Tuple[int, ...]] = None  # what we set, to notice a change by the user
_watch: Optional[weakref.ref] = None  # the first node of the current graph


def set_gc_pause(enabled: bool) -> None:
    """Turn the less-frequent collection during graph recording on (default) or off."""
    global _enabled
    if not isinstance(enabled, bool):
        raise TypeError(f"set_gc_pause() takes True or False, got {enabled!r}")
    wake()
    _enabled = enabled


def gc_pause_enabled() -> bool:
    """Whether collection is made less frequent while a graph is alive."""
    return _enabled


def rest(first_node: object) -> None:
    """Called by the engine, once per graph, with its first recorded node."""
    global resting, _saved, _ours, _watch
    with _lock:
        if resting:  # another thread got here first
            return
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
    with _lock:
        resting = False
        _watch = None
        if _saved is not None:
            if gc.get_threshold() == _ours:
                gc.set_threshold(*_saved)
            _saved = _ours = None


def _first_node_freed(ref: weakref.ref) -> None:
    if ref is _watch:
        wake()
