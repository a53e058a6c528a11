"""Reads analytics.js' files (the dist/umd folder of @segment/analytics-next) into memory once, at start-up."""

from __future__ import annotations

import os
import re
from pathlib import Path

from services.ingest.domain.library_files import LibraryFile, is_served

_VERSION = re.compile(r"segment-analytics-next-(\d+(?:\.\d+)*)$")


def load_library(folder: Path) -> dict[str, LibraryFile]:
    """Every script and source map of `folder`, with its precompressed .gz when the package has one."""
    files: dict[str, LibraryFile] = {}
    for path in sorted(folder.iterdir()):
        if path.is_file() and is_served(path.name):
            gz = path.with_name(path.name + ".gz")
            files[path.name] = LibraryFile(path.read_bytes(), gz.read_bytes() if gz.is_file() else None)
    return files


def development_library(repo_root: Path) -> Path | None:
    """Where deploy/local/browser.sh unpacks analytics.js (`$STAGETRACK_LOCAL/npm`, default <repo>/.local/npm):
    the highest version's dist/umd, or None when it was never fetched."""
    npm = Path(os.environ.get("STAGETRACK_LOCAL") or repo_root / ".local") / "npm"
    found = []
    for folder in npm.glob("segment-analytics-next-*") if npm.is_dir() else ():
        version = _VERSION.search(folder.name)
        umd = folder / "package" / "dist" / "umd"
        if version is not None and umd.is_dir():
            found.append((tuple(int(n) for n in version[1].split(".")), umd))
    return max(found)[1] if found else None
