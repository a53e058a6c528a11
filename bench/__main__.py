"""`make bench`: runs every benchmark module named on the command line (default: all) and prints a table."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import pkgutil
import sys

import bench


def main() -> int:
    available = sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if m.name.startswith("bench_"))
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default all: {', '.join(available)})")
    args = parser.parse_args()
    unknown = set(args.names) - set(available)
    if unknown:
        parser.error(f"unknown benchmarks: {', '.join(sorted(unknown))}")
    for name in args.names or available:
        module = importlib.import_module(f"bench.{name}")
        print(f"== {name}: {module.__doc__.strip().splitlines()[0] if module.__doc__ else ''}", flush=True)
        asyncio.run(module.run())
    if not available:
        print("no benchmarks yet", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
