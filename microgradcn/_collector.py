"""Keep Python's cyclic garbage collector from rescanning a graph that is still being built or used.

Why: a training step records tens of thousands of nodes that all stay alive
until the graph is dropped. CPython's generational collector scans the young
objects every 700 new container objects; every node survives those scans, is
promoted, and is scanned again by later collections, so the cost per node
grows with the graph and a step spends more time in the collector than in
building and differentiating the graph. Our graphs contain no reference
cycles (nodes point only to their parents; derivative rules are shared
functions), so reference counting frees them: the collector has nothing to
find in them.

What: from the first recorded operation of a graph until that first node is
freed (the graph was dropped; in a training loop, when the next step's loss
replaces it), a young-generation collection first moves every object it would
scan out of its way with `gc.freeze()`, which takes constant time. A full
collection (``gc.collect()``, or Python's own) first puts them all back with
`gc.unfreeze()`, so it sees everything, cycles of your own included. When the
graph is dropped everything is unfrozen, and your garbage is collected as
usual. The collector itself is never switched off and its thresholds are
never changed.

Left alone: a collector that is off (`gc.disable()`), and a program that uses
`gc.freeze()` itself. `set_gc_pause(False)` turns the mechanism off. Several
threads may record at once: the state below changes under a lock.
"""

from __future__ import annotations

import gc
import threading
import weakref
from typing import Any, Dict, Optional

resting = False  # read on every recorded op: True once this graph's setting is decided
_enabled = True
_lock = threading.RLock()  # a weakref callback may run wake() inside rest()
_watch: Optional[weakref.ref] = None  # the first node of the current graph
_installed = False


def set_gc_pause(enabled: bool) -> None:
    """Turn the collector measure for living graphs on (default) or off."""
    global _enabled
    if not isinstance(enabled, bool):
        raise TypeError(f"set_gc_pause() takes True or False, got {enabled!r}")
    wake()
    _enabled = enabled


def gc_pause_enabled() -> bool:
    """Whether young collections skip the objects alive while a graph is alive."""
    return _enabled


def rest(first_node: object) -> None:
    """Called by the engine, once per graph, with its first recorded node."""
    global resting, _watch, _installed
    with _lock:
        if resting:  # another thread got here first
            return
        resting = True
        if not _enabled or not gc.isenabled() or gc.get_freeze_count() or _installed:
            return
        gc.callbacks.append(_before_collection)
        _installed = True
        _watch = weakref.ref(first_node, _first_node_freed)


def wake() -> None:
    """Stop skipping, and give every frozen object back to the collector."""
    global resting, _watch, _installed
    with _lock:
        resting = False
        _watch = None
        if _installed:
            _installed = False
            gc.callbacks.remove(_before_collection)
            gc.unfreeze()


def _before_collection(phase: str, info: Dict[str, Any]) -> None:
    if phase != "start":
        return
    if info["generation"] < 2:
        gc.freeze()  # constant time: the scan that starts now finds an empty young generation
    else:
        gc.unfreeze()  # a full collection sees every object


def _first_node_freed(ref: weakref.ref) -> None:
    if ref is _watch:
        wake()
