"""Where Debian's chromium and the npm bundles are: deploy/local/browser.sh installs what is missing (apt-get,
npm, once; cached in .local) and prints `name=path` lines, so the pinned versions live in that script only."""

from __future__ import annotations

import functools
import subprocess
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
BROWSER_SH = REPO / "deploy" / "local" / "browser.sh"


@dataclass(frozen=True)
class BrowserTools:
    chromium: Path
    analytics_next: Path  # the standalone bundle (what Segment's CDN serves as analytics.min.js)
    rudderstack: Path  # RudderStack's UMD build with its plugins bundled

    @property
    def analytics_next_chunks(self) -> Path:
        """The bundle's folder: the lazy chunks it loads from <cdn>/analytics-next/bundles/ sit beside it."""
        return self.analytics_next.parent


@functools.cache
def browser_tools() -> BrowserTools:
    """Installs what is missing (the first call may take a minute: apt-get, npm) and returns the paths."""
    done = subprocess.run([str(BROWSER_SH), "setup"], capture_output=True, text=True, timeout=900, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{BROWSER_SH} setup failed ({done.returncode}):\n{done.stderr}")
    paths = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    return BrowserTools(Path(paths["chromium"]), Path(paths["analytics-next"]), Path(paths["rudderstack"]))
