"""The two exceptions of replay: one for the user, one the generated code raises when a guard fails."""

from __future__ import annotations


class ReplayError(ValueError):
    """The function or parameters given to `trace` cannot be traced (the message says why)."""


class Retrace(Exception):
    """A guard failed: the graph for these inputs would differ from the recorded one."""
