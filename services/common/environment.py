"""What production refuses: secrets left at their development value or set to a placeholder word.

Each service's settings list the secrets they hold (`ServiceSettings.development_secrets`); outside
`STAGETRACK_ENVIRONMENT=development` a non-empty list stops the start, each entry naming its setting.
The messages never repeat a secret's value.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

# Words people type when a real secret is not at hand (compared trimmed and case-insensitively).
PLACEHOLDERS = frozenset(
    {
        "",
        "changeme",
        "change-me",
        "change_me",
        "default",
        "dev",
        "development",
        "example",
        "pass",
        "password",
        "placeholder",
        "postgres",
        "secret",
        "stagetrack",
        "test",
        "todo",
        "xxx",
    }
)


def is_development_secret(value: str, *development_values: str) -> bool:
    """Empty, a placeholder word, or one of the values shipped for local development."""
    return value.strip().lower() in PLACEHOLDERS or value in development_values


def database_url_problem(url: str, development_url: str) -> str | None:
    """The local stack's URL (a role without a password, trusted by the local cluster), or a URL whose
    password is a placeholder word, is a development credential."""
    if url == development_url:
        return (
            "STAGETRACK_DATABASE_URL is the local stack's default (a role without a password on the local "
            "cluster): point it at your database"
        )
    password = urlsplit(url).password
    if password is not None and is_development_secret(unquote(password)):
        return "STAGETRACK_DATABASE_URL carries an empty or placeholder password: use the database role's own"
    return None
