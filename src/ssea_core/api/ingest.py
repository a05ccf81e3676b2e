"""Ingestion routes (SPEC §2): health, events, batches and catalogue sync."""

from __future__ import annotations

from ssea_core.api.schemas import (
    BatchAccepted,
    EventAccepted,
    EventBatchBody,
    HealthAnswer,
    SyncAccepted,
    SyncBatchBody,
    SyncPath,
)
from ssea_core.context import RequestContext
from ssea_core.errors import NotFoundError, ValidationFailedError
from ssea_core.http import Response
from ssea_core.ingest.models import SYNC_MODELS, EventBatchIn, EventIn, SyncBatchIn
from ssea_core.ingest.service import Ingestor
from ssea_core.routing import Answer, Router

EVENT_EXAMPLE = {
    "event_type": "quiz_submitted",
    "user_id": "42",
    "course_id": "7",
    "module_id": "91",
    "timestamp": "2026-03-01T10:20:00Z",
    "metadata": {"attempt_number": 1, "score_percent": 80.0},
}
LOGIN_EXAMPLE = {
    "event_type": "user_login",
    "user_id": "42",
    "timestamp": "2026-03-01T10:00:00Z",
}
USERS_EXAMPLE = {
    "items": [
        {"user_id": "42", "username": "jdoe", "full_name": "Jane Doe"},
        {"user_id": "43", "deleted": True},
    ]
}


async def health(ctx: RequestContext) -> Response:
    return Response.json({"ok": True, "data": {"status": "ok"}})


async def post_event(ctx: RequestContext) -> Response:
    payload = ctx.request.json()
    outcome = await Ingestor(ctx.services).ingest(ctx.tenant_id, [payload])
    if outcome.skipped:
        problem = outcome.skipped[0]
        raise ValidationFailedError(problem.error, details=[problem.as_dict()])
    data = {"queued": outcome.queued, "event_id": outcome.event_ids[0]}
    if outcome.duplicates:
        data["duplicate"] = True
    return Response.json({"ok": True, "data": data}, status=202)


async def post_event_batch(ctx: RequestContext) -> Response:
    batch = ctx.body(EventBatchIn)
    outcome = await Ingestor(ctx.services).ingest(ctx.tenant_id, batch.events)
    data = {
        "queued": outcome.queued,
        "skipped": len(outcome.skipped),
        "duplicates": outcome.duplicates,
        "errors": [item.as_dict() for item in outcome.skipped],
    }
    return Response.json({"ok": True, "data": data}, status=202)


async def post_sync(ctx: RequestContext) -> Response:
    entity = ctx.params["entity"]
    if entity not in SYNC_MODELS:
        known = ", ".join(SYNC_MODELS)
        raise NotFoundError(f"No sync entity '{entity}'; known: {known}.")
    batch = ctx.body(SyncBatchIn)
    outcome = await Ingestor(ctx.services).sync(ctx.tenant_id, entity, batch.items)
    data = {
        "queued": outcome.upserted + outcome.deleted,
        "skipped": len(outcome.skipped),
        "upserted": outcome.upserted,
        "deleted": outcome.deleted,
        "errors": [item.as_dict() for item in outcome.skipped],
    }
    return Response.json({"ok": True, "data": data}, status=202)


def register(router: Router) -> None:
    """Add health (public, never limited) and ingestion (API keys, admin role)."""
    router.add(
        "GET",
        "/health",
        health,
        auth=("public",),
        rate_group="none",
        summary="Liveness probe",
        tags=("service",),
        responses=(Answer(200, "The service is up.", HealthAnswer),),
    )
    for pattern, handler, summary, path, body, example, answer in (
        (
            "/v1/events",
            post_event,
            "Ingest one event",
            None,
            EventIn,
            EVENT_EXAMPLE,
            Answer(202, "Stored (or already stored: `duplicate`).", EventAccepted),
        ),
        (
            "/v1/events/batch",
            post_event_batch,
            "Ingest 1 to 500 events",
            None,
            EventBatchBody,
            {"events": [LOGIN_EXAMPLE, EVENT_EXAMPLE]},
            Answer(202, "Stored; invalid events skipped and listed.", BatchAccepted),
        ),
        (
            "/v1/sync/{entity}",
            post_sync,
            "Upsert or delete catalogue items",
            SyncPath,
            SyncBatchBody,
            USERS_EXAMPLE,
            Answer(202, "Upserted and deleted; invalid items skipped.", SyncAccepted),
        ),
    ):
        errors = (Answer(404, "No such sync entity."),) if path is not None else ()
        router.add(
            "POST",
            pattern,
            handler,
            auth=("api_key",),
            roles=("admin",),
            rate_group="ingest",
            summary=summary,
            tags=("ingestion",),
            path=path,
            body=body,
            examples=(example,),
            responses=(answer, *errors),
        )
