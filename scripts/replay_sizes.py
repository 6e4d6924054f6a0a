"""Print the longest functions of the replay package and their McCabe complexity (ruff's C901).

Run from the repository root: ``python scripts/replay_sizes.py [N]`` lists the N longest (default 5).
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Tuple

PACKAGE = Path(__file__).resolve().parent.parent / "microgradcn" / "replay"


def function_lengths(folder: Path = PACKAGE) -> List[Tuple[int, str]]:
    """(lines, "file:line name") of every function and method in `folder`, longest first."""
    found = []
    for path in sorted(folder.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                assert node.end_lineno is not None
                found.append((node.end_lineno - node.lineno + 1, f"{path.name}:{node.lineno} {node.name}"))
    return sorted(found, reverse=True)


def complexities(folder: Path = PACKAGE) -> Dict[str, int]:
    """McCabe complexity of every function, by "file:line name", as ruff computes it (C901)."""
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--select", "C901", "--output-format", "concise",
         "--config", "lint.mccabe.max-complexity=0", str(folder)], capture_output=True, text=True)
    found = {}
    for line in result.stdout.splitlines():
        match = re.match(r".*?([\w.]+\.py):(\d+):\d+: C901 `(\w+)` is too complex \((\d+) > 0\)", line)
        if match:
            found[f"{match[1]}:{match[2]} {match[3]}"] = int(match[4])
    return found


def main(count: int = 5) -> None:
    mccabe = complexities()
    for lines, where in function_lengths()[:count]:
        print(f"{lines:4d} lines  complexity {mccabe.get(where, '?'):>2}  {where}")
    top = max(mccabe.items(), key=lambda item: item[1])
    print(f"most complex: {top[0]} ({top[1]})")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
