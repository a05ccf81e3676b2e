"""Report exports (SPEC §7): six report types, their parameters, columns and writers.

A report job names a type, a format and parameters; :func:`resolve_request` checks
the parameters and fixes the dates; a :class:`ReportSource` (SQL in
``ssea_storage.sql.reports``) streams the rows; :func:`export_report` writes them as
CSV or JSON into an :class:`ssea_core.artifacts.ArtifactStore`. Columns and decisions
are written down in ``docs/reports.md``.
"""

from ssea_core.reports.definitions import (
    CONTENT_TYPES,
    REPORT_TYPES,
    REPORTS,
    Column,
    ReportDefinition,
    ReportFormat,
    ReportType,
)
from ssea_core.reports.export import (
    ExportResult,
    ReportSource,
    artifact_key,
    export_report,
)
from ssea_core.reports.params import (
    ReportJobIn,
    ReportRequest,
    accepted_params,
    resolve_request,
)
from ssea_core.reports.writers import (
    WriteSummary,
    parse_csv,
    parse_json,
    write_csv,
    write_json,
    write_report,
)

__all__ = [
    "CONTENT_TYPES",
    "REPORTS",
    "REPORT_TYPES",
    "Column",
    "ExportResult",
    "ReportDefinition",
    "ReportFormat",
    "ReportJobIn",
    "ReportRequest",
    "ReportSource",
    "ReportType",
    "WriteSummary",
    "accepted_params",
    "artifact_key",
    "export_report",
    "parse_csv",
    "parse_json",
    "resolve_request",
    "write_csv",
    "write_json",
    "write_report",
]
