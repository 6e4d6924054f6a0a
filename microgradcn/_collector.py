"""Let Python's cyclic garbage collector rest while a graph is being recorded.

Why: a training step records tens of thousands of nodes that all stay alive
until backward. CPython's generational collector scans every surviving object
again and again (each node is tracked, survives into the oldest generation and
is rescanned by every full collection), which costs more than building and
differentiating the graph itself. Our graphs never contain reference cycles
(nodes point only to their parents; derivative rules are shared functions),
so reference counting frees them and the collector has nothing to find there.

What: the first recorded operation pauses automatic collection, if it is on.
It is switched back on as soon as any of these happens:

* `backward()` or `grad()` finishes (or fails),
* `no_grad()` is entered,
* the first node of the graph is freed (the graph was dropped unused).

So the pause lasts one graph's lifetime at most; cyclic garbage of your own
made meanwhile is collected right after. `gc.collect()` works at any time.
If the collector was already off, nothing is touched. `set_gc_pause(False)`
turns the whole mechanism off.
"""

from __future__ import annotations

import gc
import weakref

resting = False  # read on every recorded op: True once this graph's pause is decided
_enabled = True
_paused_by_us = False
_watch = None  # weak reference to the first node of the current graph


def set_gc_pause(enabled: bool) -> None:
    """Turn the collector pause during graph recording on (default) or off."""
    global _enabled
    if not isinstance(enabled, bool):
        raise TypeError(f"set_gc_pause() takes True or False, got {enabled!r}")
    wake()
    _enabled = enabled


def gc_pause_enabled() -> bool:
    """Whether the collector pause during graph recording is on."""
    return _enabled


def rest(first_node: object) -> None:
    """Called by the engine on the first recorded op of a graph."""
    global resting, _paused_by_us, _watch
    resting = True
    if _enabled and gc.isenabled():
        gc.disable()
        _paused_by_us = True
        _watch = weakref.ref(first_node, _first_node_freed)


def wake() -> None:
    """End the pause (if any) and restore the collector as it was."""
    global resting, _paused_by_us, _watch
    resting = False
    _watch = None
    if _paused_by_us:
        _paused_by_us = False
        gc.enable()


def _first_node_freed(ref: weakref.ref) -> None:
    if ref is _watch:
        wake()
