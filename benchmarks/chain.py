"""Benchmark: chain. Same as `microgradcn bench chain`; pass --quick for a short run."""

import sys

from microgradcn.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "chain", *sys.argv[1:]]))
