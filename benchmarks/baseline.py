"""Benchmark: baseline. Same as `microgradcn bench baseline`; pass --quick for a short run."""

import sys

from microgradcn.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "baseline", *sys.argv[1:]]))
