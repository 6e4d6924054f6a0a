"""All benchmarks: the same as `microgradcn bench`; pass --quick for a short run."""

import sys

from microgradcn.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "all", *sys.argv[1:]]))
