"""Benchmark: wide. Same as `microgradcn bench wide`; pass --quick for a short run."""

import sys

from microgradcn.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "wide", *sys.argv[1:]]))
