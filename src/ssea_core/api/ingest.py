"""Ingestion routes (SPEC §2): health, events, batches and catalogue sync."""

from __future__ import annotations

from ssea_core.context import RequestContext
from ssea_core.errors import NotFoundError, ValidationFailedError
from ssea_core.http import Response
from ssea_core.ingest.models import SYNC_MODELS, EventBatchIn, SyncBatchIn
from ssea_core.ingest.service import Ingestor
from ssea_core.routing import Router


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
    router.add("GET", "/health", health, auth=("public",), rate_group="none")
    for pattern, handler in (
        ("/v1/events", post_event),
        ("/v1/events/batch", post_event_batch),
        ("/v1/sync/{entity}", post_sync),
    ):
        router.add(
            "POST",
            pattern,
            handler,
            auth=("api_key",),
            roles=("admin",),
            rate_group="ingest",
        )
