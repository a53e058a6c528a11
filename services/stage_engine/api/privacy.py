"""POST /v1/erasures and POST /v1/exports: a CRM's deletion and access workflows, with a key of the `erase`
scope. The subject is named in the body (never in the URL, which proxies log): exactly one of `email`, `crm_id`
or `lead_id` (docs/privacy.md)."""

from __future__ import annotations

from typing import Any, cast

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field

from services.common.limits import MAX_ID_LENGTH
from services.common.read_access import ERROR_CONTENT, reader, refusals
from services.stage_engine.app.erasure import Subject, SubjectKind, erase
from services.stage_engine.app.export import export

SCOPE = "erase"
router = APIRouter(tags=["privacy"], dependencies=[Depends(reader(SCOPE))], responses=refusals(SCOPE))


class SubjectBody(BaseModel):
    email: str | None = Field(default=None, max_length=320)
    crm_id: str | None = Field(default=None, max_length=MAX_ID_LENGTH)
    lead_id: str | None = Field(default=None, max_length=MAX_ID_LENGTH)

    def subject(self) -> Subject:
        named = [(kind, value) for kind, value in self.model_dump().items() if value]
        if len(named) != 1:
            raise HTTPException(422, detail={"field": "body", "reason": "name exactly one of email, crm_id, lead_id"})
        kind, value = named[0]
        return Subject(cast(SubjectKind, kind), value)


@router.post(
    "/v1/erasures",
    summary="Forget a person: delete their data keys and identities; every count stays",
    description="Idempotent. Answers the erasure receipt (no personal data): which leads, how many keys, what rows.",
    responses={422: {"description": "Not exactly one subject", "content": ERROR_CONTENT}},
)
async def post_erasure(body: SubjectBody, request: Request) -> dict[str, Any]:
    receipt = await erase(request.app.state.db, body.subject(), request.app.state.settings.hash_key)
    return receipt.as_dict()


@router.post(
    "/v1/exports",
    summary="Everything stored about a person, decrypted (the right of access)",
    responses={422: {"description": "Not exactly one subject", "content": ERROR_CONTENT}},
)
async def post_export(body: SubjectBody, request: Request) -> dict[str, Any]:
    return await export(request.app.state.db, request.app.state.settings, body.subject())
