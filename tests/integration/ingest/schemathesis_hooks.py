"""For `st run` by hand (SCHEMATHESIS_HOOKS=tests.integration.ingest.schemathesis_hooks): every generated body
keeps its timestamps within the ingest's occurred_at window. Never imported by the tests: the hook is global."""

from __future__ import annotations

from typing import Any

import schemathesis

from tests.integration.ingest.occurred_at_window import in_window


@schemathesis.hook
def map_body(context: schemathesis.HookContext, body: Any) -> Any:
    return in_window(body)
