"""The files that travel inside the package, found with importlib.resources: never by walking up from a module
to a checkout, so an installed wheel reads only its own copies.

`schemas` (the JSON Schemas) and `migrations` (Alembic's scripts) live at the repository's root, where readers
and `alembic` look for them; here they are symbolic links to those folders, and building the wheel copies
their files in (pyproject.toml's package data; tests/integration/test_wheel_install.py checks the wheel).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def shipped_path(package: str, *parts: str) -> Path:
    """A file or folder shipped in `package`, as a path on disk: the wheel is installed unpacked (a virtualenv
    or an image), and jsonschema's readers and Alembic need real files."""
    resource = files(package).joinpath(*parts)
    if not isinstance(resource, Path):
        raise RuntimeError(f"{package} is not installed as files on disk, cannot read {'/'.join(parts)}")
    return resource


def schemas_dir() -> Path:
    """The JSON Schemas: envelope, event properties, stage model, subscriptions, Segment calls."""
    return shipped_path(__name__, "schemas")


def migrations_dir() -> Path:
    """Alembic's script folder (env.py, versions/)."""
    return shipped_path(__name__, "migrations")
