"""Benchmark: gpt. Same as `microgradcn bench gpt`; pass --quick for a short run, --json for one JSON line."""

import sys

from microgradcn.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "gpt", *sys.argv[1:]]))
