"""A tqdm progress bar that shows the latest numbers, or nothing at all when progress is off."""

from __future__ import annotations

from typing import Any


class Progress:
    """``Progress(total, desc, enabled)``; ``.advance(loss=...)`` after each step; ``.close()`` at the end."""

    def __init__(self, total: int, desc: str, enabled: bool, unit: str = "step") -> None:
        self._bar: Any = None
        if enabled:
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=desc, unit=unit, leave=True)

    def advance(self, **shown: str) -> None:
        """One step done; `shown` (e.g. ``loss="0.1234"``) is written beside the bar."""
        self.show(**shown)
        if self._bar is not None:
            self._bar.update(1)

    def show(self, **shown: str) -> None:
        """Write `shown` beside the bar (replacing what was there)."""
        if self._bar is not None and shown:
            self._bar.set_postfix(**shown)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
