"""Which of analytics.js' files the ingest serves, how long they may be cached, and where development finds them."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.ingest.adapters.library_files import development_library, load_library
from services.ingest.domain.library_files import LibraryFile, is_served


@pytest.mark.parametrize(
    ("name", "served"),
    [
        ("standalone.js", True),
        ("407.bundle.61efa1acb302134c434b.js.map", True),
        ("standalone.js.gz", False),
        (".env.js", False),
        ("a/b.js", False),
        ("notes.txt", False),
    ],
)
def test_only_scripts_and_their_maps_are_served(name: str, served: bool) -> None:
    assert is_served(name) is served


def test_hashed_chunks_are_cached_for_good_the_bundle_briefly() -> None:
    assert LibraryFile.cache_control("standalone.js") == "public, max-age=300"
    assert "immutable" in LibraryFile.cache_control("queryString.bundle.34b193ada8fe288d1bd1.js")


def test_development_finds_the_highest_version_fetched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STAGETRACK_LOCAL", raising=False)
    assert development_library(tmp_path) is None
    for version in ("1.9.0", "1.84.3", "1.10.2"):
        umd = tmp_path / ".local" / "npm" / f"segment-analytics-next-{version}" / "package" / "dist" / "umd"
        umd.mkdir(parents=True)
        (umd / "standalone.js").write_text(version)
    found = development_library(tmp_path)
    assert found is not None and load_library(found)["standalone.js"].body == b"1.84.3"
