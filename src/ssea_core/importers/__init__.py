"""Importers: files a site already has, turned into ingest payloads (SPEC §2.3).

Each importer is an iterable of event payloads (dicts that
:class:`~ssea_core.ingest.models.EventIn` accepts) and :class:`SyncItem` catalogue
records, read streaming, with a running :class:`Tally` of rows read and skipped by
reason. :func:`import_into` feeds one through the ingest service and answers an
:class:`ImportSummary`. Kinds: ``moodle-logs`` (:class:`MoodleLogSource`),
``logstore`` (:class:`LogstoreSource`), ``xapi`` (:class:`XapiSource`) and ``oulad``
(:class:`OuladSource`); :func:`open_source` picks one by name.
"""

from ssea_core.importers.base import (
    ImportFormatError,
    ImportSource,
    MissingExtraError,
    SyncItem,
    Tally,
)
from ssea_core.importers.logstore import LogstoreSource
from ssea_core.importers.moodle_events import type_for_class
from ssea_core.importers.moodle_logs import MoodleLogSource
from ssea_core.importers.oulad import OuladSource, presentation_start, read_outcomes
from ssea_core.importers.runner import (
    ImportKind,
    ImportSummary,
    import_into,
    open_source,
)
from ssea_core.importers.xapi import XapiSource

__all__ = [
    "ImportFormatError",
    "ImportKind",
    "ImportSource",
    "ImportSummary",
    "LogstoreSource",
    "MissingExtraError",
    "MoodleLogSource",
    "OuladSource",
    "SyncItem",
    "Tally",
    "XapiSource",
    "import_into",
    "open_source",
    "presentation_start",
    "read_outcomes",
    "type_for_class",
]
