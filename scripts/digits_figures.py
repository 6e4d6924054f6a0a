#!/usr/bin/env python
"""Train the digits CNN (as `microgradcn train digits --model cnn` does) and draw what it learned.

    python scripts/digits_figures.py            # train (a few minutes, eager), save, draw
    python scripts/digits_figures.py --no-train # draw from the saved parameters

Writes notebooks/digits_cnn.json (the trained parameters, loaded by notebook 11)
and viz/digits_filters.png (the 8 learned 3x3 filters and their feature maps of
one test digit, shown in the README). Seeded: the same numbers every run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PARAMS = ROOT / "notebooks" / "digits_cnn.json"
FIGURE = ROOT / "viz" / "digits_filters.png"


def draw(model, image, label: int, path: Path) -> None:
    """Filters (top row) and the feature maps after ReLU of `image` (bottom row)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    plt.rcParams["font.sans-serif"] = ["WenQuanYi Micro Hei", "Noto Sans CJK SC", "DejaVu Sans"]
    plt.rcParams["axes.unicode_minus"] = False
    conv, relu = model[0], model[1]
    filters = np.array([[[w.data for w in row] for row in f[0]] for f in conv.weight])
    maps = np.array([[[v.data for v in row] for row in ch] for ch in relu(conv(image[None]))])
    n = len(filters)
    fig, axes = plt.subplots(2, n + 1, figsize=(1.3 * (n + 1), 3.4))
    axes[0, 0].imshow(image, cmap="gray_r")
    axes[0, 0].set_title(f"输入(数字 {label})", fontsize=9)
    axes[1, 0].axis("off")
    bound = np.abs(filters).max()
    for k in range(n):
        axes[0, k + 1].imshow(filters[k], cmap="RdBu_r", vmin=-bound, vmax=bound)
        axes[0, k + 1].set_title(f"卷积核 {k}", fontsize=9)
        axes[1, k + 1].imshow(maps[k], cmap="magma")
        axes[1, k + 1].set_title(f"特征图 {k}", fontsize=9)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("CNN 学到的 8 个 3×3 卷积核(上,红正蓝负)和一个测试数字的特征图(下,ReLU 之后)", fontsize=10)
    fig.tight_layout(h_pad=1.2)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-train", action="store_true", help="load notebooks/digits_cnn.json instead of training")
    args = parser.parse_args(argv)
    from microgradcn import datasets
    from microgradcn.train import digits_model, train_digits

    if args.no_train:
        model = digits_model("cnn")
        model.load(PARAMS)
    else:
        run = train_digits("cnn", progress=True)
        model = run.model
        model.save(PARAMS)
        print(f"test accuracy {run.test_accuracy:.1%} ({len(run.y_test)} images); saved {PARAMS}")
    _, _, (X_test, y_test) = datasets.digits(seed=0)
    draw(model, X_test[0], int(y_test[0]), FIGURE)
    print(f"wrote {FIGURE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
