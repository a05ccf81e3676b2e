"""Moodle's *Reports → Logs → Download* (CSV, JSON or XLSX) as event payloads.

Mapping decisions:

- Columns are found by header, in English or localised (es, pt, fr, de, pl, and the
  ``snake_case``/``dotted.names`` of research copies), compared without case or
  accents: Time, User full name, Affected user, Event context, Component, Event name,
  Description, Origin, IP address; and user id and course id columns when a research
  copy has them (they then win over the Description).
- The actor is the first ``user with id 'N'`` of the Description (names are often
  removed from exports, and are never used); a second one is the related user. The
  event's ``user_id`` is the actor, except for grades, enrolments and completions
  (:data:`~ssea_core.importers.moodle_events.SUBJECT_IS_RELATED_USER`), which are
  about the related user: the graded, enrolled or completing student is the
  ``user_id`` and the actor goes to ``metadata.actor_id``. Otherwise a related user
  is kept as ``metadata.related_user_id``. ``'0'`` (not logged in) is kept as user
  ``0``; ``'-1'`` (Moodle's internal system actor) is kept as user ``-1``. A row
  whose actor cannot be recovered is skipped as ``no_user_id``; a row whose time
  cannot be read is skipped as ``bad_time`` (checked in that order). Blank lines
  are not rows.
- The course is the last of ``course with id 'N'``, ``course id 'N'`` and
  ``at course: N`` in the Description (a restore names the old course, then the new
  one); the module is ``course module id 'N'``. Rows that name a module but no course
  (module views print only the module) get the ``course_id`` option, or else the only
  course the whole file names, if it names exactly one (a course's log download:
  found by a first, cheap pass over the file). The site course (``site_course_id``,
  Moodle's front page, ``1``) is site level: no course.
- The type comes from the Description first (Moodle never translates it, so it names
  the event class in every language), then from the Event name (see
  :mod:`ssea_core.importers.moodle_events`). Unknown events become ``other``, never
  dropped; their text stays in metadata.
- Identity: an export has no log id, so the metadata carries the row's own text
  (description, event name, component, context) and two different rows of the same
  minute get different ids. Rows equal in all of that (two clicks printed in the same
  minute; names, IP and origin aside) are numbered within their run of rows with the
  same printed time (``metadata.repeat`` = 1, 2, … after the first): they stay
  separate events, and importing the same file, or an export that overlaps it, again
  gives the same ids. ``merge_repeats=True`` keeps one event for them instead.
- Text is HTML-unescaped; invalid UTF-8 bytes are read as Windows-1252; origin is
  kept (``web``, ``cli``, ``restore``, ``ws``); the IP is passed as ``ip`` (ingestion
  drops it); names are never copied into events (the User full name and Affected
  user columns are not read, and a user context, printed ``User: <full name>``,
  keeps only its label).
- Times are local to ``timezone`` (see :mod:`ssea_core.importers.times` for the
  formats and the DST rules).
"""

from __future__ import annotations

import html
import importlib
import logging
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

from ssea_core.importers.base import (
    ImportFormatError,
    ImportSource,
    MissingExtraError,
    Payload,
    RepeatCounter,
    SyncItem,
    Tally,
    as_id,
    fit_metadata,
)
from ssea_core.importers.moodle_events import (
    SUBJECT_IS_RELATED_USER,
    classify_row,
    viewed_modname,
)
from ssea_core.importers.textio import (
    Decoder,
    JsonFormatError,
    csv_rows,
    is_blank,
    json_values,
    open_binary,
    text_chunks,
    text_lines,
)
from ssea_core.importers.times import LocalTimeReader, TimeFormatError, plain

logger = logging.getLogger(__name__)

LogFormat = Literal["csv", "json", "xlsx"]

#: The columns of the Logs report, in the order Moodle prints them.
STANDARD_COLUMNS = (
    "time",
    "user_full_name",
    "affected_user",
    "event_context",
    "component",
    "event_name",
    "description",
    "origin",
    "ip",
)

_ALIASES: dict[str, tuple[str, ...]] = {
    "time": ("time", "hora", "czas", "zeit", "heure", "tempo", "timecreated",
             "time created", "date", "fecha", "data", "datum", "date et heure",
             "data e hora", "fecha y hora"),
    "user_full_name": ("user full name", "user", "username",
                       "nombre completo del usuario", "nombre completo",
                       "nom complet", "nome completo", "nome completo do usuario",
                       "nome completo do utilizador", "vollstandiger name",
                       "vollstandiger name des nutzers", "imie i nazwisko",
                       "pelna nazwa uzytkownika", "nazwa uzytkownika"),
    "affected_user": ("affected user", "related user", "usuario afectado",
                      "utilisateur concerne", "usuario afetado", "utilizador afetado",
                      "betroffene r nutzer in", "betroffener nutzer",
                      "uzytkownik ktorego dotyczy"),
    "event_context": ("event context", "context", "contexto del evento",
                      "contexte de l evenement", "contexto do evento",
                      "ereigniskontext", "kontekst zdarzenia"),
    "component": ("component", "componente", "composant", "komponente", "skladnik",
                  "komponent"),
    "event_name": ("event name", "event", "nombre evento", "nombre del evento",
                   "nom de l evenement", "nome do evento", "ereignisname",
                   "nazwa zdarzenia"),
    "description": ("description", "descripcion", "descricao", "beschreibung", "opis"),
    "origin": ("origin", "origen", "origine", "origem", "ursprung", "herkunft",
               "pochodzenie", "zrodlo"),
    "ip": ("ip address", "ip", "direccion ip", "adresse ip", "endereco ip",
           "ip adresse", "adres ip"),
    "user_id": ("user id", "userid", "id usuario", "id utilisateur", "id user"),
    "course_id": ("course id", "courseid", "id curso", "id cours"),
}  # fmt: skip
_ALIAS_INDEX = {alias: column for column, names in _ALIASES.items() for alias in names}
_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ip", ("ip address", "direccion ip", "adresse ip", "endereco ip", "adres ip")),
    ("affected_user", ("affect", "afetad", "concern", "betroffen", "dotyczy")),
    ("event_context", ("context", "kontext", "kontekst")),
    ("component", ("compon", "skladnik")),
    ("description", ("descri", "beschreib", "opis")),
    ("origin", ("origin", "origen", "origem", "herkunft", "pochodz")),
    ("event_name", ("event name", "nombre evento", "ereignisname", "nazwa zdarz")),
    ("user_full_name", ("full name", "nombre completo", "nom complet", "nome complet")),
)

_ACTOR = re.compile(r"\b[Uu]ser with id '?(-?\d+)")
_COURSE = re.compile(
    r"course with (?:the )?id '(\d+)'|course id '(\d+)'|at course: (\d+)"
)
_MODULE = re.compile(r"course module (?:with )?id\s*'(\d+)'")
_MAX_TEXT = 2000
_USER_CONTEXT_LABELS = frozenset(
    {"user", "usuario", "utilisateur", "nutzer/in", "nutzer", "uzytkownik",
     "utilizador"}
)  # fmt: skip
_OUTSIDE_IDENTITY = frozenset({"user_full_name", "affected_user", "origin", "ip"})


def canonical_column(header: str) -> str | None:
    """The standard column a (possibly localised) header names, or None."""
    key = " ".join(re.sub(r"[^0-9a-z]+", " ", plain(header)).split())
    if key in _ALIAS_INDEX:
        return _ALIAS_INDEX[key]
    for column, needles in _KEYWORDS:
        if any(needle in key for needle in needles):
            return column
    return None


def courses_named(description: str) -> list[str]:
    """The course ids a description names, in order."""
    return [
        next(group for group in found.groups() if group)
        for found in _COURSE.finditer(description)
    ]


class MoodleLogSource(ImportSource):
    """Events from a Logs report download; see the module docstring for the rules."""

    kind = "moodle-logs"

    def __init__(
        self,
        path: str | Path,
        *,
        timezone: str = "UTC",
        day_first: bool = True,
        file_format: LogFormat | None = None,
        course_id: str | None = None,
        infer_course: bool = True,
        site_course_id: str | None = "1",
        event_names: Mapping[str, str] | None = None,
        merge_repeats: bool = False,
    ) -> None:
        super().__init__()
        self.path = Path(path)
        self.file_format = file_format or _format_of(self.path)
        self.times = LocalTimeReader(timezone, day_first=day_first)
        self.course_id = course_id
        self.infer_course = infer_course
        self.site_course_id = site_course_id
        self.event_names = {plain(k): v for k, v in (event_names or {}).items()}
        self.merge_repeats = merge_repeats

    def _items(self) -> Iterator[Payload | SyncItem]:
        self.times.notes.clear()
        default_course = self.course_id
        if default_course is None and self.infer_course:
            default_course = self.inferred_course()
        repeats = RepeatCounter()
        for record in self.records(self.tally):
            event = self._event(record, default_course, repeats)
            if event is not None:
                yield event
        self.tally.notes.update(self.times.notes)

    def inferred_course(self) -> str | None:
        """The only course the file's descriptions name (site course aside), if one."""
        named: set[str] = set()
        for record in self.records(Tally()):
            if "description" not in record:
                return None  # no Description column: nothing can name a course
            named.update(courses_named(_text(record["description"]))[-1:])
            named.discard(self.site_course_id or "")
            if len(named) > 1:
                return None
        return next(iter(named), None)

    def records(self, tally: Tally) -> Iterator[dict[str, Any]]:
        """The file's data rows as ``{column: value}``, counted in ``tally``."""
        if self.file_format == "xlsx":
            rows: Iterator[list[Any]] = _xlsx_rows(self.path)
            yield from _table_records(rows, tally)
            return
        decoder = Decoder()
        with open_binary(self.path) as stream:
            if self.file_format == "json":
                yield from _json_records(
                    json_values(text_chunks(stream, decoder)), tally
                )
            else:
                yield from _table_records(csv_rows(text_lines(stream, decoder)), tally)
        if decoder.fallback_bytes:
            tally.notes["cp1252_bytes"] += decoder.fallback_bytes

    def _event(
        self, record: dict[str, Any], default_course: str | None, repeats: RepeatCounter
    ) -> Payload | None:
        description = _text(record.get("description"))
        users = [found[1] for found in _ACTOR.finditer(description)]
        actor = as_id(record.get("user_id")) or next(iter(users), None)
        if actor is None:
            self.tally.skip("no_user_id")
            return None
        raw_time = record.get("time")
        try:
            moment = self.times.read(raw_time if raw_time is not None else "")
        except TimeFormatError:
            self.tally.skip("bad_time")
            return None

        moodle_class, event_type = classify_row(
            description,
            _text(record.get("event_name")),
            _text(record.get("component")),
            self.event_names,
        )
        module_found = _MODULE.search(description)
        module_id = module_found[1] if module_found else None
        course_id = self._course(
            as_id(record.get("course_id")), description, module_id, default_course
        )
        related = users[1] if len(users) > 1 else None
        metadata = _metadata(record, description, moodle_class)
        if event_type in SUBJECT_IS_RELATED_USER and related is not None:
            actor, metadata["actor_id"] = related, actor
        elif related is not None:
            metadata["related_user_id"] = related
        if not self.merge_repeats:
            repeat = repeats.number(str(raw_time), _record_key(record))
            if repeat:
                metadata["repeat"] = repeat
        return _payload(
            event_type, actor, course_id, module_id, moment, metadata, record
        )

    def _course(
        self,
        column: str | None,
        description: str,
        module_id: str | None,
        default_course: str | None,
    ) -> str | None:
        named = courses_named(description)
        # The last one: "restored old course with id 'A' to a new course with id 'B'".
        course = column or (named[-1] if named else None)
        if course is None and module_id is not None:
            course = default_course
        if course is not None and course == self.site_course_id:
            return None
        return course


def _payload(
    event_type: str,
    actor: str,
    course_id: str | None,
    module_id: str | None,
    moment: Any,
    metadata: Payload,
    record: dict[str, Any],
) -> Payload:
    payload: Payload = {
        "event_type": event_type,
        "user_id": actor,
        "timestamp": moment.isoformat(),
        "metadata": fit_metadata(metadata, ("context", "description")),
    }
    if course_id is not None:
        payload["course_id"] = course_id
    if module_id is not None:
        payload["module_id"] = module_id
    origin = _text(record.get("origin")).lower()
    if origin and origin != "-" and len(origin) <= 32:
        payload["origin"] = origin
    ip = _text(record.get("ip"))
    if ip and ip != "-" and len(ip) <= 64:
        payload["ip"] = ip
    return payload


def _metadata(
    record: dict[str, Any], description: str, moodle_class: str | None
) -> Payload:
    metadata: Payload = {
        "description": description[:_MAX_TEXT],
        "event_name": _text(record.get("event_name")),
        "component": _text(record.get("component")),
        "context": _context(_text(record.get("event_context")))[:_MAX_TEXT],
    }
    if moodle_class is not None:
        metadata["moodle_event"] = moodle_class
    modname = viewed_modname(moodle_class)
    if modname is not None:
        metadata["modname"] = modname
    return {key: value for key, value in metadata.items() if value != ""}


def _context(text: str) -> str:
    # A user context prints as "User: <full name>": keep the label, never the name.
    label, colon, _ = text.partition(":")
    if colon and plain(label.strip()) in _USER_CONTEXT_LABELS:
        return label.strip()
    return text


def _record_key(record: dict[str, Any]) -> tuple[Any, ...]:
    # Only what the event id depends on: two rows that differ by IP or origin alone
    # are two events and must be numbered apart. Records of one file share their key
    # order, so the values identify the row.
    return tuple(value for key, value in record.items() if key not in _OUTSIDE_IDENTITY)


def _text(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    if "&" in text:
        text = html.unescape(text)
    return text.strip()


def _format_of(path: Path) -> LogFormat:
    suffixes = [suffix.lower() for suffix in path.suffixes if suffix.lower() != ".gz"]
    last = suffixes[-1] if suffixes else ""
    if last in (".xlsx", ".xlsm"):
        return "xlsx"
    if last in (".json", ".jsonl", ".ndjson"):
        return "json"
    return "csv"


def _header_map(header: list[Any]) -> dict[int, str]:
    found: dict[int, str] = {}
    for index, name in enumerate(header):
        column = canonical_column(str(name or ""))
        if column is not None and column not in found.values():
            found[index] = column
    if "time" not in found.values():
        raise ImportFormatError(
            "No Time column in the header "
            f"({', '.join(str(name) for name in header)}): expected a Moodle Logs "
            "download (Time, User full name, …, Description, Origin, IP address)."
        )
    if "description" not in found.values() and "user_id" not in found.values():
        logger.warning(
            "no Description or user id column: every row will be skipped as no_user_id"
        )
    return found


def _table_records(rows: Iterator[list[Any]], tally: Tally) -> Iterator[dict[str, Any]]:
    columns: dict[int, str] | None = None
    for row in rows:
        if is_blank(row):
            continue
        if columns is None:
            columns = _header_map(row)
            continue
        tally.rows_read += 1
        yield {
            column: row[index] for index, column in columns.items() if index < len(row)
        }


def _json_records(values: Iterator[Any], tally: Tally) -> Iterator[dict[str, Any]]:
    names: dict[str, str | None] = {}
    positional: dict[int, str] | None = None
    try:
        for value in values:
            if isinstance(value, dict):
                tally.rows_read += 1
                yield _keyed_record(value, names)
            elif isinstance(value, list):
                if positional is None:
                    positional = _positional_header(value)
                    if positional is not None:
                        continue
                    positional = dict(enumerate(STANDARD_COLUMNS))
                tally.rows_read += 1
                yield {
                    column: value[index]
                    for index, column in positional.items()
                    if index < len(value)
                }
            else:
                tally.rows_read += 1
                tally.skip("not_a_record")
    except JsonFormatError as exc:
        raise ImportFormatError(f"The JSON log download cannot be read: {exc}") from exc


def _keyed_record(
    value: dict[str, Any], names: dict[str, str | None]
) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for key, cell in value.items():
        if key not in names:
            names[key] = _json_key(key)
        column = names[key]
        if column is not None and column not in record:
            record[column] = cell
    return record


def _json_key(key: str) -> str | None:
    # Moodle's own column keys (fullnameuser, relatedfullnameuser, eventname) first.
    internal = {
        "fullnameuser": "user_full_name",
        "relatedfullnameuser": "affected_user",
        "eventname": "event_name",
    }
    return internal.get(key.lower()) or canonical_column(key)


def _positional_header(row: list[Any]) -> dict[int, str] | None:
    if not all(isinstance(cell, str) for cell in row):
        return None
    mapped = {
        index: column
        for index, cell in enumerate(row)
        if (column := canonical_column(cell)) is not None
    }
    return mapped if "time" in mapped.values() and len(mapped) >= 2 else None


def _xlsx_rows(path: Path) -> Iterator[list[Any]]:
    try:
        # An optional extra, imported only when an XLSX file is read.
        openpyxl: Any = importlib.import_module("openpyxl")
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingExtraError(
            "Reading XLSX log downloads needs openpyxl: pip install 'ssea[xlsx]'."
        ) from exc
    workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        sheet = workbook.worksheets[0]
        # Some writers record a wrong sheet size; without a reset, rows are lost.
        sheet.reset_dimensions()
        for row in sheet.iter_rows(values_only=True):
            yield list(row)
    finally:
        workbook.close()
