"""The explorer page of one step of the project's models: time to write it, its size, and how fast it is in Chromium.

``python -m benchmarks explore`` writes the page of one step's loss graph of
``moons`` (65,818 nodes), ``digits-cnn`` (one training image; needs the
``data`` extra, skipped without it) and ``gpt`` (the name ``emma``), exactly
as ``microgradcn explore NAME`` does, and reports for each:

* ``nodes``; ``write_s``: wall-clock seconds of ``explore(loss).save(path)`` (the graph built
  beforehand, its time is ``build_s``); ``cpu_s``: the same in CPU time of this process;
* ``bytes``: the size of the page;
* in headless Chromium (Playwright with the system browser, ``MICROGRADCN_CHROMIUM`` or
  /usr/bin/chromium; skipped when either is missing): ``first_picture_ms`` from the start of the
  navigation to the first level drawn, ``open_box_ms`` to open the first box of the top level and
  draw it, ``search_ms`` to find a parameter by its full name (opening the boxes on the way).

Targets: written in ≤ 10 s and ≤ 5 MB; first picture ≤ 3 s, a box ≤ 1 s, a search ≤ 0.5 s.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, Optional

MODELS = ("moons", "digits-cnn", "gpt")
SEARCHES = {"moons": "layers.1.neurons.15.b", "digits-cnn": "layers.4.weight.9.199",
            "gpt": "blocks.0.mlp.fc2.weight.15.63"}
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"]

# Run inside the page: time one action (a click) until the next frame has been painted.
_TIMED = """async ([selector, query]) => {
  const t0 = performance.now();
  if (query !== null) { document.getElementById('search').value = query; }
  document.querySelector(selector).dispatchEvent(new MouseEvent('click', {bubbles: true}));
  await new Promise(r => requestAnimationFrame(() => setTimeout(r, 0)));
  return performance.now() - t0;
}"""


def page_row(name: str, folder: Path) -> Dict[str, Any]:
    """Write the page of `name` into `folder`; its figures."""
    from microgradcn.viz import count_nodes
    from microgradcn.viz.explore import explore
    from microgradcn.viz.step_graphs import step_graph

    start = time.perf_counter()
    loss, model = step_graph(name)
    build = time.perf_counter() - start
    wall, cpu = time.perf_counter(), time.process_time()
    path = explore(loss, title=f"探索计算图:{name} 一步的损失").save(folder / f"{name}.html")
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    del model
    return {"nodes": count_nodes(loss), "build_s": round(build, 2), "write_s": round(wall, 2),
            "cpu_s": round(cpu, 2), "bytes": path.stat().st_size, "path": str(path)}


def browser_rows(rows: Dict[str, Dict[str, Any]]) -> Optional[str]:
    """Add the Chromium timings to `rows`; the reason when they cannot be measured, else None."""
    chromium = os.environ.get("MICROGRADCN_CHROMIUM", "/usr/bin/chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return 'no Playwright: pip install -e ".[browser]"'
    if not os.access(chromium, os.X_OK):
        return f"no Chromium at {chromium}"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True, args=BROWSER_ARGS)
        for name, row in rows.items():
            page = browser.new_page(viewport={"width": 1400, "height": 820})
            page.goto(Path(row["path"]).resolve().as_uri())
            page.wait_for_selector("body.ready", timeout=60_000)
            row["first_picture_ms"] = round(page.evaluate("Number(document.body.dataset.readyMs)"))
            page.click("#crumbs .crumb")  # the top level, even when the page opened the only box
            row["open_box_ms"] = round(page.evaluate(_TIMED, ["#level g.k2", None]))
            row["search_ms"] = round(page.evaluate(_TIMED, ["#search-go", SEARCHES[name]]))
            row["search_found"] = page.inner_text("#panel-name") == SEARCHES[name]
            page.close()
        browser.close()
    return None


def run(quick: bool = False) -> Dict[str, Any]:
    """``{"workload": "explore", "rows": {model: row}, "browser": reason or None}``; quick: moons only."""
    rows: Dict[str, Dict[str, Any]] = {}
    skipped: Dict[str, str] = {}
    folder = Path(tempfile.mkdtemp(prefix="microgradcn-explore-"))
    for name in MODELS[:1] if quick else MODELS:
        try:
            rows[name] = page_row(name, folder)
        except ImportError as error:  # digits without scikit-learn
            skipped[name] = str(error)
    reason = browser_rows(rows)
    for row in rows.values():
        os.unlink(row.pop("path"))
    os.rmdir(folder)
    return {"workload": "explore", "rows": rows, "skipped": skipped, "browser": reason}


def show(report: Dict[str, Any]) -> bool:
    """Print the table; False if a target is missed."""
    print("explore: one step's page (wall clock; targets: ≤ 10 s, ≤ 5 MB; Chromium: first picture ≤ 3,000 ms, "
          "a box ≤ 1,000 ms, a search ≤ 500 ms)")
    print(f"{'model':<11}{'nodes':>8}{'build s':>9}{'write s':>9}{'cpu s':>7}{'MB':>7}"
          f"{'first ms':>10}{'box ms':>8}{'search ms':>11}")
    ok = True
    for name, r in report["rows"].items():
        times = [r.get(k, "-") for k in ("first_picture_ms", "open_box_ms", "search_ms")]
        print(f"{name:<11}{r['nodes']:>8,}{r['build_s']:>9}{r['write_s']:>9}{r['cpu_s']:>7}"
              f"{r['bytes'] / 1e6:>7.2f}{times[0]:>10}{times[1]:>8}{times[2]:>11}")
        ok = ok and r["write_s"] <= 10 and r["bytes"] <= 5_000_000 and r.get("search_found", True)
        limits = {"first_picture_ms": 3000, "open_box_ms": 1000, "search_ms": 500}
        ok = ok and all(r.get(k, 0) <= v for k, v in limits.items())
    for name, why in report["skipped"].items():
        print(f"{name}: skipped ({why})")
    if report["browser"]:
        print(f"browser timings skipped: {report['browser']}")
    print("all targets met" if ok else "a target was missed")
    return ok
