"""Saving and loading a model's numbers as JSON: atomic writes, all-or-nothing loads.

Only numbers are stored, keyed by the stable parameter names of
`Module.named_parameters()` (no pickle: a model file can be read, diffed and
trusted). The model object itself is rebuilt by code; `load` checks the file
against it before changing anything.
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import TYPE_CHECKING, Union

if TYPE_CHECKING:  # only for annotations: nn imports this module
    from .nn import Module

__all__ = ["save", "load"]

_FORMAT = "microgradcn-state"
_VERSION = 1
MAX_FILE_BYTES = 256 * 2**20  # far above any model of scalars; a bigger file is refused before it is read


def save(module: "Module", path: Union[str, os.PathLike]) -> None:
    """Write `module`'s parameters (and buffers) to `path` as JSON, atomically.

    The file is written to a temporary file in the same directory and then
    renamed over `path`, so a crash never leaves a half-written model.
    """
    payload = {
        "format": _FORMAT,
        "version": _VERSION,
        "model": type(module).__name__,
        "state": {name: float(x) for name, x in module.state_dict().items()},
    }
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".microgradcn-", suffix=".json.tmp", dir=directory)
    try:
        # mkstemp makes the file private (0600); give it the permissions an ordinary
        # open() would: those of the file it replaces, or 0666 less the umask.
        try:
            mode = os.stat(path).st_mode & 0o7777
        except OSError:
            mode = 0o666 & ~_umask()
        os.chmod(tmp, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(payload, f, indent=1, allow_nan=False)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number a model file may hold")


def _umask() -> int:
    """The process's umask, read without changing it where the system allows."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: set and restore (the only portable way)
    os.umask(mask)
    return mask


def load(module: "Module", path: Union[str, os.PathLike]) -> None:
    """Read a file written by `save` into `module`.

    Raises ValueError (naming the file and the problem) if the file is not
    valid JSON, not a microgradcn state file, or does not match the model's
    parameter names; in every such case the model is left unchanged.
    """
    path = os.fspath(path)
    size = os.path.getsize(path)
    if size > MAX_FILE_BYTES:
        raise ValueError(f"{path}: {size:,} bytes is too large for a model file (at most {MAX_FILE_BYTES:,})")
    try:
        with open(path, encoding="utf-8") as f:
            # Numbers are read as floats: a 5,000-digit integer becomes inf (refused below, naming the
            # parameter) instead of tripping the interpreter's digit limit or overflowing later.
            payload = json.load(f, parse_int=float, parse_constant=_no_constant)
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError) as error:
        raise ValueError(f"{path}: not a valid JSON model file ({error})") from None
    if not isinstance(payload, dict) or payload.get("format") != _FORMAT or "state" not in payload:
        raise ValueError(f"{path}: not a microgradcn model file (expected a JSON object with format {_FORMAT!r})")
    if payload.get("version") != _VERSION:
        raise ValueError(f"{path}: unsupported file version {payload.get('version')!r}, expected {_VERSION}")
    try:
        module.load_state_dict(payload["state"])
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None
