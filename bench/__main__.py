"""`make bench`: runs the benchmark modules named on the command line (default: every bench_*), each printing
its contenders and their ratios. Needs the local stack (`make bench` starts it)."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

import uvloop

import bench


def available() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if m.name.startswith("bench_"))


def headline(module: object) -> str:
    """The first paragraph of the module's docstring, on one line."""
    doc = getattr(module, "__doc__", None) or ""
    return " ".join(doc.strip().split("\n\n")[0].split())


def main() -> int:
    names = available()
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default all: {', '.join(names)})")
    args = parser.parse_args()
    unknown = sorted(set(args.names) - set(names))
    if unknown:
        parser.error(f"unknown benchmarks: {', '.join(unknown)}")
    if not names:
        print("no benchmarks yet", file=sys.stderr)
    for name in args.names or names:
        module = importlib.import_module(f"bench.{name}")
        print(f"== {name}: {headline(module)}", flush=True)
        uvloop.run(module.run())  # the loop uvicorn uses too, so (b) and the load client run on the same kind
    return 0


if __name__ == "__main__":
    sys.exit(main())
