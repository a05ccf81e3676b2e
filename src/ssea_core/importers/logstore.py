"""Rows of Moodle's ``logstore_standard_log`` as event payloads, plus the catalogue a
MySQL dump carries alongside them.

Sources: a CSV dump (header of column names; ``\\N``, ``NULL`` or an empty cell is
NULL), a MySQL dump (``.sql``, optionally ``.gz``; see
:mod:`ssea_core.importers.mysql_dump`), or any iterable of row mappings (the live
reader :func:`ssea_storage.moodle_db.read_logstore` yields those).

Mapping decisions:

- ``moodle_log_id`` is the row's ``id``, so event ids are stable across imports and
  across the plugin (a row without an id gets the field-based identity).
- ``timestamp`` is ``timecreated`` (Unix seconds, UTC).
- ``user_id`` is ``userid`` as text: ``0`` (not logged in) stays ``0``, the guest
  account stays ``1`` (its Moodle id); the service's hygiene decides what counts as
  activity. Grades, enrolments and completions are about ``relateduserid`` (the
  graded, enrolled or completing student): when it is set, it is the ``user_id``
  and ``userid`` goes to ``metadata.actor_id``. A row without a readable
  ``userid`` is skipped as ``no_user_id``, one without a readable ``timecreated``
  as ``bad_time``.
- ``courseid`` 0 or NULL, context level 10 (system) and the site course
  (``site_course_id``, Moodle's front page, ``1``) are site-level: no ``course_id``.
  Context level 70 (module) gives ``module_id`` = ``contextinstanceid``.
- ``realuserid`` → ``real_user_id``; ``origin`` and ``ip`` are passed on (ingestion
  drops the IP).
- ``eventname`` maps to a SPEC type (:mod:`ssea_core.importers.moodle_events`); the
  metadata keeps ``moodle_event``, ``component``, ``action``, ``target``, ``crud``,
  ``edulevel``, ``object_table``/``object_id``, ``related_user_id``, ``anonymous``
  and ``other`` decoded from PHP serialisation or JSON (undecodable text is kept as
  ``other_raw``). A ``username`` inside ``other`` is dropped: failed-login events
  carry whatever was typed in the username box.
- From a dump, ``course`` rows become ``courses`` items (the site course excluded),
  ``course_modules`` (with ``modules`` for the kind) ``modules`` items, and
  ``user_enrolments`` (with ``enrol``, course-level ``context``,
  ``role_assignments`` and ``role``) ``enrolments`` items, one per SPEC role the user
  holds in the course; an enrolment without such a role is noted, not synced. These
  tables are held in memory until the end of the dump: they are small next to the log.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ssea_core.importers.base import (
    ImportFormatError,
    ImportSource,
    Payload,
    SyncItem,
    as_id,
    fit_metadata,
)
from ssea_core.importers.moodle_events import SUBJECT_IS_RELATED_USER, type_for_class
from ssea_core.importers.mysql_dump import DumpFormatError, dump_rows
from ssea_core.importers.php import PhpFormatError, unserialize
from ssea_core.importers.textio import (
    Decoder,
    csv_rows,
    is_blank,
    open_binary,
    text_lines,
)

logger = logging.getLogger(__name__)

LOGSTORE_COLUMNS = (
    "id",
    "eventname",
    "component",
    "action",
    "target",
    "objecttable",
    "objectid",
    "crud",
    "edulevel",
    "contextid",
    "contextlevel",
    "contextinstanceid",
    "userid",
    "courseid",
    "relateduserid",
    "anonymous",
    "other",
    "timecreated",
    "origin",
    "ip",
    "realuserid",
)
_CATALOGUE_TABLES = (
    "course",
    "course_modules",
    "modules",
    "context",
    "enrol",
    "user_enrolments",
    "role_assignments",
    "role",
)
_NULLS = frozenset({"\\N", "NULL", ""})
_SPEC_ROLES = frozenset({"student", "teacher", "editingteacher", "manager"})
_CONTEXT_SYSTEM = "10"
_CONTEXT_COURSE = "50"
_CONTEXT_MODULE = "70"
_MAX_TEXT = 255


class LogstoreSource(ImportSource):
    """Events (and a dump's catalogue) from ``logstore_standard_log`` rows."""

    kind = "logstore"

    def __init__(
        self,
        source: str | Path | Iterable[Mapping[str, Any]],
        *,
        prefix: str = "mdl_",
        site_course_id: str | None = "1",
    ) -> None:
        super().__init__()
        self.source = Path(source) if isinstance(source, str | Path) else source
        self.prefix = prefix
        self.site_course_id = site_course_id

    def _items(self) -> Iterator[Payload | SyncItem]:
        if not isinstance(self.source, Path):
            yield from self._events(self.source)
            return
        suffixes = [s.lower() for s in self.source.suffixes if s.lower() != ".gz"]
        if suffixes and suffixes[-1] == ".sql":
            yield from self._dump(self.source)
        else:
            yield from self._events(self._csv_rows(self.source))

    def _events(self, rows: Iterable[Mapping[str, Any]]) -> Iterator[Payload]:
        for row in rows:
            self.tally.rows_read += 1
            event = self.event(row)
            if event is not None:
                yield event

    def event(self, row: Mapping[str, Any]) -> Payload | None:
        """The payload of one logstore row, or None (counted as skipped)."""
        user_id = as_id(row.get("userid"))
        if user_id is None:
            self.tally.skip("no_user_id")
            return None
        moment = _unix_time(row.get("timecreated"))
        if moment is None:
            self.tally.skip("bad_time")
            return None

        eventname = _text(row.get("eventname"))
        event_type = type_for_class(eventname) if eventname else "other"
        metadata = self._metadata(row, eventname)
        related = as_id(row.get("relateduserid"))
        if event_type in SUBJECT_IS_RELATED_USER and related is not None:
            metadata.pop("related_user_id", None)
            user_id, metadata["actor_id"] = related, user_id
        payload: Payload = {
            "event_type": event_type,
            "user_id": user_id,
            "timestamp": moment.isoformat(),
            "metadata": metadata,
        }
        _put(payload, "course_id", self._course(row))
        if as_id(row.get("contextlevel")) == _CONTEXT_MODULE:
            _put(payload, "module_id", as_id(row.get("contextinstanceid")))
        _put(payload, "moodle_log_id", as_id(row.get("id")))
        _put(payload, "real_user_id", as_id(row.get("realuserid")))
        origin = _text(row.get("origin"))
        _put(payload, "origin", origin if 0 < len(origin) <= 32 else None)
        ip = _text(row.get("ip"))
        _put(payload, "ip", ip if 0 < len(ip) <= 64 else None)
        return payload

    def _course(self, row: Mapping[str, Any]) -> str | None:
        course = as_id(row.get("courseid"))
        if course in (None, "0") or as_id(row.get("contextlevel")) == _CONTEXT_SYSTEM:
            return None
        return None if course == self.site_course_id else course

    def _metadata(self, row: Mapping[str, Any], eventname: str) -> Payload:
        metadata: Payload = {}
        _put(metadata, "moodle_event", eventname or None)
        for key in ("component", "action", "target", "crud"):
            _put(metadata, key, _text(row.get(key)) or None)
        _put(metadata, "edulevel", _number(row.get("edulevel")))
        _put(metadata, "object_table", _text(row.get("objecttable")) or None)
        _put(metadata, "object_id", as_id(row.get("objectid")))
        _put(metadata, "related_user_id", as_id(row.get("relateduserid")))
        if _number(row.get("anonymous")):
            metadata["anonymous"] = True
        other = row.get("other")
        if other is not None and _text(other) not in _NULLS:
            metadata.update(self._other(str(other)))
        return fit_metadata(metadata, ("other", "other_raw"))

    def _other(self, text: str) -> Payload:
        try:
            decoded = _decode_other(text)
        except (PhpFormatError, ValueError):
            self.tally.notes["undecodable_other"] += 1
            return {"other_raw": text[:1000]}
        if isinstance(decoded, dict):
            # Failed logins carry whatever was typed as the username: never keep it.
            decoded = {k: v for k, v in decoded.items() if k != "username"}
        return {"other": decoded} if decoded not in (None, {}, []) else {}

    def _csv_rows(self, path: Path) -> Iterator[dict[str, Any]]:
        decoder = Decoder()
        with open_binary(path) as stream:
            header: list[str] | None = None
            for row in csv_rows(text_lines(stream, decoder)):
                if is_blank(row):
                    continue
                if header is None:
                    header = [cell.strip().strip("`\"'").lower() for cell in row]
                    _check_header(header, path)
                    continue
                yield {
                    name: None if cell in _NULLS else cell
                    for name, cell in zip(header, row, strict=False)
                    if name
                }
        if decoder.fallback_bytes:
            self.tally.notes["cp1252_bytes"] += decoder.fallback_bytes

    def _dump(self, path: Path) -> Iterator[Payload | SyncItem]:
        log_table = f"{self.prefix}logstore_standard_log"
        wanted = {log_table} | {f"{self.prefix}{name}" for name in _CATALOGUE_TABLES}
        catalogue = _Catalogue(self.site_course_id)
        decoder = Decoder()
        with open_binary(path) as stream:
            try:
                for table, row in dump_rows(text_lines(stream, decoder), wanted):
                    if table == log_table:
                        yield from self._events((row,))
                    else:
                        self.tally.rows_read += 1
                        self.tally.catalogue_rows += 1
                        catalogue.add(table[len(self.prefix) :], row)
            except DumpFormatError as exc:
                raise ImportFormatError(
                    f"The MySQL dump cannot be read: {exc}"
                ) from exc
        if decoder.fallback_bytes:
            self.tally.notes["cp1252_bytes"] += decoder.fallback_bytes
        yield from catalogue.items(self.tally.notes)


class _Catalogue:
    """The catalogue tables of a dump, turned into sync items at the end."""

    def __init__(self, site_course_id: str | None) -> None:
        self.site_course_id = site_course_id
        self.tables: dict[str, list[dict[str, Any]]] = defaultdict(list)

    def add(self, table: str, row: dict[str, Any]) -> None:
        if table == "context" and as_id(row.get("contextlevel")) != _CONTEXT_COURSE:
            return  # only course contexts matter for roles
        self.tables[table].append(row)

    def items(self, notes: Any) -> Iterator[SyncItem]:
        yield from self._courses()
        yield from self._modules()
        yield from self._enrolments(notes)

    def _courses(self) -> Iterator[SyncItem]:
        for row in self.tables["course"]:
            course_id = as_id(row.get("id"))
            if course_id is None or course_id == self.site_course_id:
                continue
            if _text(row.get("format")) == "site":
                continue
            item: Payload = {"course_id": course_id}
            _put(item, "shortname", _text(row.get("shortname"))[:_MAX_TEXT] or None)
            _put(item, "fullname", _text(row.get("fullname"))[:_MAX_TEXT] or None)
            _put(item, "category", as_id(row.get("category")))
            _put(item, "start_date", _iso_or_none(row.get("startdate")))
            _put(item, "end_date", _iso_or_none(row.get("enddate")))
            if row.get("visible") is not None:
                item["visible"] = bool(_number(row.get("visible")))
            yield SyncItem("courses", item)

    def _modules(self) -> Iterator[SyncItem]:
        kinds = {
            as_id(row.get("id")): _text(row.get("name"))
            for row in self.tables["modules"]
        }
        for row in self.tables["course_modules"]:
            module_id = as_id(row.get("id"))
            if module_id is None:
                continue
            item: Payload = {"module_id": module_id}
            course_id = as_id(row.get("course"))
            if course_id != self.site_course_id:
                _put(item, "course_id", course_id)
            _put(item, "modname", kinds.get(as_id(row.get("module"))) or None)
            item["completion_enabled"] = bool(_number(row.get("completion")))
            if row.get("visible") is not None:
                item["visible"] = bool(_number(row.get("visible")))
            yield SyncItem("modules", item)

    def _enrolments(self, notes: Any) -> Iterator[SyncItem]:
        courses = {as_id(r.get("id")): r for r in self.tables["enrol"]}
        roles = self._course_roles()
        for row in self.tables["user_enrolments"]:
            instance = courses.get(as_id(row.get("enrolid"))) or {}
            user_id = as_id(row.get("userid"))
            course_id = as_id(instance.get("courseid"))
            held = roles.get((user_id, course_id), set())
            if user_id is None or course_id is None or not held:
                notes["enrolment_without_role"] += 1
                continue
            active = not _number(row.get("status")) and not _number(
                instance.get("status")
            )
            for role in sorted(held):
                item: Payload = {
                    "user_id": user_id,
                    "course_id": course_id,
                    "role": role,
                    "status": "active" if active else "suspended",
                }
                _put(item, "time_start", _iso_or_none(row.get("timestart")))
                _put(item, "time_end", _iso_or_none(row.get("timeend")))
                yield SyncItem("enrolments", item)

    def _course_roles(self) -> dict[tuple[str | None, str | None], set[str]]:
        contexts = {
            as_id(r.get("id")): as_id(r.get("instanceid"))
            for r in self.tables["context"]
        }
        names = {
            as_id(r.get("id")): _text(r.get("shortname")) for r in self.tables["role"]
        }
        held: dict[tuple[str | None, str | None], set[str]] = defaultdict(set)
        for row in self.tables["role_assignments"]:
            course_id = contexts.get(as_id(row.get("contextid")))
            role = names.get(as_id(row.get("roleid")))
            if course_id is not None and role in _SPEC_ROLES:
                held[(as_id(row.get("userid")), course_id)].add(role)
        return held


def _decode_other(text: str) -> Any:
    stripped = text.strip()
    if stripped[:1] in ("{", "[") or stripped in ("null", "true", "false"):
        return json.loads(stripped)
    return unserialize(stripped)


def _check_header(header: list[str], path: Path) -> None:
    if "userid" not in header or "timecreated" not in header:
        raise ImportFormatError(
            f"{path.name} has no userid and timecreated columns; a logstore CSV dump "
            f"has the columns of logstore_standard_log ({', '.join(LOGSTORE_COLUMNS)})."
        )


def _put(target: Payload, key: str, value: Any) -> None:
    if value is not None:
        target[key] = value


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _number(value: Any) -> int | None:
    text = as_id(value)
    return int(text) if text is not None else None


def _unix_time(value: Any) -> datetime | None:
    seconds = _number(value)
    if seconds is None or seconds < 0:
        return None
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _iso_or_none(value: Any) -> str | None:
    seconds = _number(value)
    if not seconds or seconds <= 0:
        return None
    moment = _unix_time(seconds)
    return moment.isoformat() if moment else None
