"""Progress of a long run: a tqdm bar on a terminal, a plain line now and then in a log, or nothing at all."""

from __future__ import annotations

import sys
import time
from typing import IO, Any, Dict, Optional

PLAIN_EVERY_S = 5.0  # how often a log (stderr that is not a terminal) gets a line


class Progress:
    """``Progress(total, desc, enabled)``; ``.advance(loss=...)`` after each step; ``.close()`` at the end.

    On a terminal it is a tqdm bar, redrawn at tqdm's own rate (the numbers
    beside it do not force a redraw). When the stream is not a terminal (a
    log file, CI), it writes one plain line every `PLAIN_EVERY_S` seconds and
    one at the end, instead of a redraw per step.
    """

    def __init__(self, total: int, desc: str, enabled: bool, unit: str = "step",
                 stream: Optional[IO[str]] = None) -> None:
        self._bar: Any = None
        self._stream = sys.stderr if stream is None else stream
        self._plain = enabled and not _is_terminal(self._stream)
        self._total, self._desc, self._unit = total, desc, unit
        self._done = 0
        self._shown: Dict[str, str] = {}
        self._start = self._last = time.monotonic()
        if enabled and not self._plain:
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=desc, unit=unit, leave=True, file=self._stream)

    def advance(self, **shown: str) -> None:
        """One step done; `shown` (e.g. ``loss="0.1234"``) is written beside the bar."""
        self.show(**shown)
        self._done += 1
        if self._bar is not None:
            self._bar.update(1)
        elif self._plain and time.monotonic() - self._last >= PLAIN_EVERY_S:
            self._line()

    def show(self, **shown: str) -> None:
        """Write `shown` beside the bar (replacing what was there), at the next redraw."""
        if not shown:
            return
        self._shown = dict(shown)
        if self._bar is not None:
            self._bar.set_postfix(refresh=False, **shown)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.refresh()
            self._bar.close()
        elif self._plain:
            self._line()

    def _line(self) -> None:
        self._last = time.monotonic()
        numbers = " ".join(f"{k}={v}" for k, v in self._shown.items())
        elapsed = self._last - self._start
        print(f"{self._desc}: {self._done}/{self._total} {self._unit} {numbers} ({elapsed:.1f} s)".replace("  ", " "),
              file=self._stream, flush=True)


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False
