"""Run one report: rows from a :class:`ReportSource`, bytes into an artifact.

The rows are streamed from the source to the artifact store through the CSV or JSON
writer; nothing holds the whole report in memory.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

from ssea_core.artifacts import ArtifactStore, check_key
from ssea_core.reports.definitions import (
    CONTENT_TYPES,
    REPORTS,
    ReportFormat,
    ReportType,
)
from ssea_core.reports.params import ReportRequest
from ssea_core.reports.writers import write_report

logger = logging.getLogger(__name__)


class ReportSource(Protocol):
    """The rows of each report type for one tenant (SQL: ``SqlReportQueries``)."""

    def rows(self, request: ReportRequest) -> AsyncGenerator[dict[str, Any], None]:
        """Stream the report's rows, each a dict keyed by the report's columns."""
        ...


@dataclass(frozen=True, slots=True)
class ExportResult:
    """What an export stored: where, as what, how many rows and bytes."""

    key: str
    content_type: str
    rows: int
    bytes: int


def artifact_key(
    job_id: str,
    report_type: ReportType,
    report_format: ReportFormat,
    attempt: int | None = None,
) -> str:
    """Where a job's artifact is stored: ``reports/{job_id}/{type}.{format}``, or
    ``reports/{job_id}/{attempt}/{type}.{format}`` for one attempt of a job (so an
    attempt that lost its lease never overwrites the one that completed)."""
    folder = f"reports/{job_id}" if attempt is None else f"reports/{job_id}/{attempt}"
    return check_key(f"{folder}/{report_type}.{report_format}")


async def export_report(
    request: ReportRequest,
    source: ReportSource,
    store: ArtifactStore,
    tenant_id: UUID,
    key: str,
) -> ExportResult:
    """Write the report ``request`` asks for into ``store`` under ``key``.

    The artifact appears only when every row is written; an error from the source
    or the store propagates and leaves no artifact behind.
    """
    definition = REPORTS[request.report_type]
    content_type = CONTENT_TYPES[request.format]
    async with (
        store.open_writer(tenant_id, key, content_type) as sink,
        aclosing(source.rows(request)) as rows,
    ):
        summary = await write_report(definition, rows, request.format, sink)
    logger.info(
        "report exported tenant=%s type=%s format=%s rows=%d bytes=%d",
        tenant_id,
        request.report_type,
        request.format,
        summary.rows,
        summary.bytes,
    )
    return ExportResult(key, content_type, summary.rows, summary.bytes)
