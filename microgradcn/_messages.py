"""Messages a learner reads: Chinese first, the English after it.

The English is kept whole, in parentheses, so that a search for it (a test's
``match=``, a web search for the message) still finds it.
"""

from __future__ import annotations

__all__ = ["bilingual"]


def bilingual(chinese: str, english: str) -> str:
    """``"中文 (English)"``: the message in Chinese, then the same message in English.

    >>> bilingual("步长必须是正数", "step must be positive")
    '步长必须是正数 (step must be positive)'
    """
    return f"{chinese} ({english})"
