"""Make the README's screenshots of the graph explorer: viz/explore.png and viz/explore_moons.png.

Needs Playwright (``pip install -e ".[browser]"``) and Debian's Chromium (``apt-get install chromium``, or
``MICROGRADCN_CHROMIUM=/path/to/chromium``); without them it prints a one-line hint and exits 1.

Usage:

    python scripts/explore_screenshot.py            # writes viz/explore.png
    python scripts/explore_screenshot.py out.png
    python scripts/explore_screenshot.py --moons    # writes viz/explore_moons.png

The 2-2-1 network in the book style, with x1 clicked: its two paths to the loss are highlighted
and the panel shows the chain rule adding them up. With ``--moons``: the page of one moons training
step (65,818 nodes), opened at ``layers.1.neurons.3`` of the first sample, with the weight ``w.1`` clicked.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from microgradcn import examples
from microgradcn.viz.explore import explore

CHROMIUM = os.environ.get("MICROGRADCN_CHROMIUM", "/usr/bin/chromium")  # as tests/test_explore_browser.py
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def missing_browser() -> str | None:
    """A one-line hint if Playwright or Chromium is missing, else None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return ('explore_screenshot.py: 需要 Playwright (needs Playwright): pip install -e ".[browser]", '
                "then apt-get install chromium")
    if not Path(CHROMIUM).exists():
        return f"explore_screenshot.py: 需要 Chromium (needs Chromium at {CHROMIUM}): apt-get install chromium"
    return None


def _network_page(folder: Path) -> Path:
    name = next(n for n in examples.EXAMPLES if "network" in n)
    root = examples.build(name)
    return explore(root, style="book", params=examples.parameters(name, root)).save(folder / "p.html")


def _show_network(page) -> None:
    page.fill("#search", "x1")
    page.press("#search", "Enter")
    page.click("#zoom-fit")
    page.wait_for_timeout(2800)  # let the search message fade


def _moons_page(folder: Path) -> Path:
    from microgradcn.viz.step_graphs import step_graph

    loss, model = step_graph("moons")
    path = explore(loss, title="探索计算图:moons 一步的损失").save(folder / "moons.html")
    del model
    return path


def _show_moons(page) -> None:
    for box in ("MLP", "layers.1", "layers.1.neurons.3"):
        page.click(f'[data-title="{box}"]')
    page.click('[data-name="layers.1.neurons.3.w.1"]')
    page.mouse.move(0, 0)  # no hover outline in the picture


def main(argv: list[str]) -> int:
    hint = missing_browser()
    if hint:
        print(hint, file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    moons = "--moons" in argv
    argv = [a for a in argv if a != "--moons"]
    out = Path(argv[0] if argv else ("viz/explore_moons.png" if moons else "viz/explore.png"))
    with tempfile.TemporaryDirectory() as folder:
        page_path = (_moons_page if moons else _network_page)(Path(folder))
        with sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(
                str(Path(folder) / "profile"), executable_path=CHROMIUM, headless=True, args=ARGS,
                viewport={"width": 1280, "height": 760}, device_scale_factor=1.5, locale="zh-CN",
            )
            page = context.new_page()
            page.goto(page_path.resolve().as_uri())
            page.wait_for_selector("body.ready")
            (_show_moons if moons else _show_network)(page)
            out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(out))
            context.close()
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
