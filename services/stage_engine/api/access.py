"""Every read of the engine (a lead's history names the CRM id behind an anonymous visitor) needs a key with the
`read:leads` scope (docs/security.md "Reads")."""

from __future__ import annotations

from services.common.read_access import reader, refusals

SCOPE = "read:leads"
read_leads = reader(SCOPE)
REFUSALS = refusals(SCOPE)
