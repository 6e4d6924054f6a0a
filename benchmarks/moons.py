"""Benchmark: moons. Same as `microgradcn bench moons`; pass --quick for a short run."""

import sys

from microgradcn.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "moons", *sys.argv[1:]]))
