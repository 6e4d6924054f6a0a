"""Keep Python's cyclic garbage collector from rescanning a graph while it is being built.

Why: a training step records tens of thousands of nodes that all stay alive
until the graph is dropped. CPython's generational collector scans the young
objects every 700 new container objects; every node survives those scans, is
promoted, and is scanned again by later collections, so without help a step
spends more time in the collector than in building and differentiating its
graph. Our graphs contain no reference cycles (nodes point only to their
parents; derivative rules are shared functions), so reference counting frees
them: the collector has nothing to find in them.

What: the pause lasts only while a graph is growing. It starts with the first
node of a graph. While it lasts, each young collection looks at a sample of
the objects it is about to scan: if at least half are nodes, it first moves
them out of its way with `gc.freeze()` (constant time). It ends, and
`gc.unfreeze()` gives every held object back to the collector, as soon as
one of these happens:

* ``backward()`` has committed its gradients (the step's graph is complete);
* a young collection finds that new objects are no longer mostly nodes (you
  are plotting, printing, or doing anything else with the graph kept in a
  variable);
* a full collection starts (``gc.collect()``), so that it sees everything;
* a million objects have been held since Python's last full collection. Held
  objects bypass the counts by which Python decides when to run a full
  collection, so the next graph then starts with the full collection that
  Python would have run by then.

So between steps, and whenever you do anything but build a graph, Python
collects your garbage exactly as it would without microgradcn: cycles of your
own (matplotlib figures, IPython's display objects) are freed by its own
collections, a graph kept in a variable changes nothing. A graph that stays
alive ends up in the oldest generation, where only full collections scan it.

Why this design: freezing from a graph's first node until it is freed (our
first design) emptied the young generation into the permanent one for as long
as *any* graph lived, so the older generations never filled, Python never
started a full collection of its own, and a notebook that kept a three-node
graph grew by hundreds of megabytes of frozen figures. Only a growing graph
makes the collector rescan nodes, so only then is anything held.

Left alone: a collector that is off (`gc.disable()`), and a program that uses
`gc.freeze()` itself. `set_gc_pause(False)` turns the mechanism off. Several
threads may record at once: the state below changes under a lock.
"""

from __future__ import annotations

import gc
import threading
from typing import Any, Dict, List, Optional

resting = False  # read on every recorded op: True once rest() has been called for the current graph
_enabled = True
_lock = threading.RLock()  # a collection, and so the callback, may start inside rest()
_paused = False  # young collections hold nodes aside
_installed = False  # the callback is in gc.callbacks
_node_type: Optional[type] = None  # the engine's Value, learnt from the first node (no import cycle)
_held = 0  # objects held aside since Python's last full collection (an upper estimate)
_full_seen = -1  # Python's count of full collections when _held was last known to be right

HOLD_AT_MOST = 1_000_000  # then the next graph starts with a full collection
SAMPLE = 16  # young objects looked at per collection; at least half of them nodes means a graph is growing


def set_gc_pause(enabled: bool) -> None:
    """Turn the collector measure for growing graphs on (default) or off."""
    global _enabled
    if not isinstance(enabled, bool):
        raise TypeError(f"set_gc_pause() takes True or False, got {enabled!r}")
    wake()
    _enabled = enabled


def gc_pause_enabled() -> bool:
    """Whether young collections skip the nodes of a graph that is being built."""
    return _enabled


def rest(first_node: object) -> None:
    """Called by the engine with the first node recorded since the last pause ended."""
    global resting, _installed, _node_type, _paused
    with _lock:
        if resting:  # another thread got here first
            return
        resting = True
        if _paused or not _enabled or not gc.isenabled() or gc.get_freeze_count():
            return
        _settle_debt()
        _node_type = type(first_node)
        _paused = True
        if not _installed:
            gc.callbacks.append(_before_collection)
            _installed = True


def wake() -> None:
    """End the pause: give every held object back to the collector, and leave gc.callbacks as it was."""
    global _installed
    with _lock:
        _end_pause()
        if _installed:
            _installed = False
            gc.callbacks.remove(_before_collection)


def _end_pause() -> None:
    global resting, _paused
    resting = False
    if _paused:
        _paused = False
        gc.unfreeze()


def _settle_debt() -> None:
    """Run the full collection Python would have run, once too much has been held (see the docstring)."""
    global _held, _full_seen
    full = gc.get_stats()[2]["collections"]
    if full != _full_seen:  # Python (or you) ran one since: it saw everything we had held
        _held, _full_seen = 0, full
    if _held >= HOLD_AT_MOST:
        gc.collect()
        _held, _full_seen = 0, gc.get_stats()[2]["collections"]


def mostly_nodes(young: List[Any], node_type: Optional[type]) -> bool:
    """Whether at least half of a sample of `young` (the objects a young collection would scan) are nodes."""
    step = max(1, len(young) // SAMPLE)
    sample = young[::step]
    return bool(sample) and 2 * sum(type(obj) is node_type for obj in sample) >= len(sample)


def _before_collection(phase: str, info: Dict[str, Any]) -> None:
    global _held
    if phase != "start":
        return
    with _lock:
        if not _paused:
            return
        if info["generation"] < 2:
            young = gc.get_objects(0)
            if _held < HOLD_AT_MOST and mostly_nodes(young, _node_type):
                _held += len(young) if info["generation"] == 0 else len(young) + len(gc.get_objects(1))
                gc.freeze()  # the scan that starts now finds an empty young generation
                return
        # A full collection sees every object; otherwise the graph is no longer growing. The callback
        # stays in gc.callbacks until the next wake(): removing it now would make Python skip the
        # callback after it in the list, for this collection.
        _end_pause()
