"""The gallery in ``viz/``: every canonical example in both styles, as DOT and SVG.

Regenerate it with one command from the repository root::

    python -m microgradcn.viz.gallery          # or: microgradcn gallery

The DOT files are compared with what the code draws now by the test suite,
so the pictures in the README never go stale.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Dict, List, Optional

from .. import examples
from .render import draw_graph, pipe

__all__ = ["gallery_sources", "build_gallery", "stale_files", "STYLES"]

STYLES = ("node", "book")


def gallery_sources() -> Dict[str, str]:
    """File name -> DOT text for every example and style, e.g. ``apple_tax_book.dot``."""
    sources = {}
    for name in examples.EXAMPLES:
        root = examples.build(name)
        params = examples.parameters(name, root)
        for style in STYLES:
            sources[f"{name}_{style}.dot"] = draw_graph(root, style=style, params=params).source
    return sources


def build_gallery(directory, svg: bool = True) -> List[Path]:
    """Write the DOT files (and, if `svg`, the SVG pictures) into `directory`."""
    import graphviz

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for file_name, source in gallery_sources().items():
        dot_path = directory / file_name
        dot_path.write_text(source, encoding="utf-8")
        written.append(dot_path)
        if svg:
            svg_path = dot_path.with_suffix(".svg")
            svg_path.write_bytes(pipe(graphviz.Source(source), "svg"))
            written.append(svg_path)
    if svg:  # the README's animation of the apple-tax passes
        from .steps import save_gif

        written.append(save_gif(examples.apple_tax(), directory / "apple_tax_steps.gif", style="book"))
    return written


def stale_files(directory) -> List[str]:
    """Names of gallery DOT files that are missing or differ from what the code draws now."""
    directory = Path(directory)
    stale = []
    for file_name, source in gallery_sources().items():
        path = directory / file_name
        if not path.exists() or path.read_text(encoding="utf-8") != source:
            stale.append(file_name)
    return stale


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m microgradcn.viz.gallery", description=__doc__.splitlines()[0]
    )
    parser.add_argument("directory", nargs="?", default="viz", help="where to write (default: ./viz)")
    parser.add_argument("--check", action="store_true", help="only report DOT files that are out of date")
    args = parser.parse_args(argv)
    return run(args.directory, args.check)


def run(directory, check: bool = False) -> int:
    if check:
        stale = stale_files(directory)
        for name in stale:
            print(f"过期 out of date: {Path(directory) / name}")
        if stale:
            print("重新生成 regenerate with: microgradcn gallery (or python -m microgradcn.viz.gallery)")
        else:
            print(f"图库是最新的 up to date: every DOT file in {directory} matches the code")
        return 1 if stale else 0
    written = build_gallery(directory)
    print(f"图库已写入 wrote {len(written)} files to {Path(directory).resolve()}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
