"""xAPI statements, as Moodle's xAPI log store (``logstore_xapi``) emits them.

Sources: a JSON file holding one statement, an array of statements, an LRS answer
(``{"statements": [...], "more": ...}``), or JSON Lines of any of those; a flat CSV
export (one statement per row: timestamp, actor, verb, object id and type, related
activities, Moodle event name); or any iterable of statement mappings. Gzipped files
are read as such.

Mapping decisions:

- ``user_id``: ``actor.account.name`` (the Moodle user id the plugin sends; for
  grades, enrolments and completions the plugin already makes the graded, enrolled
  or completing user the actor, as SPEC types expect). Without
  an account, ``actor.mbox_sha1sum`` becomes ``sha1:<hex>``, and a clear ``mbox`` is
  hashed the same way first, so no e-mail address is ever stored. Other actors are
  skipped as ``no_user_id``.
- ``timestamp``: the statement's ``timestamp``, else its ``stored`` time; neither is
  ``no_timestamp``. Voiding statements are skipped as ``voiding_statement``.
- Type: the Moodle event name the plugin puts in the ``.../extensions/info``
  context extension (``event_name``), mapped like ``logstore`` rows; without it, the
  verb and the object's activity type (``viewed`` + course → ``course_viewed``,
  ``completed`` + attempt → ``quiz_submitted``, …; see ``_BY_VERB``); else ``other``.
- ``course_id``: the ``/course/view.php?id=N`` activity among the object and
  ``contextActivities`` (grouping, parent, other, category, in that order). The site
  course (``site_course_id``) is site level. ``module_id``:
  ``/mod/<kind>/view.php?id=N`` or a ``cmid=N`` parameter.
- Identity: ``moodle_log_id`` is ``xapi:<statement id>``; a statement without an id
  gets ``xapi:`` and a hash of its canonical JSON, so re-importing deduplicates.
- Metadata: verb, object id and type, Moodle event name, and ``result`` (score raw,
  min, max, scaled; success; completion; duration).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ssea_core.importers.base import (
    ImportFormatError,
    ImportSource,
    Payload,
    SyncItem,
    fit_metadata,
    short_hash,
)
from ssea_core.importers.moodle_events import type_for_class
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

_COURSE_URL = re.compile(r"/course/view\.php\?(?:[^#]*&)?id=(\d+)")
_MODULE_URL = re.compile(r"/mod/\w+/view\.php\?(?:[^#]*&)?id=(\d+)|[?&]cmid=(\d+)")
_SHA1 = re.compile(r"^[0-9a-f]{40}$")
_VOIDED = "http://adlnet.gov/expapi/verbs/voided"
_CONTEXT_KEYS = ("grouping", "parent", "other", "category")

_VIEWED = frozenset({"viewed", "experienced", "accessed", "read"})
_QUIZ = frozenset({"attempt", "assessment", "quiz", "test", "exam"})
_RESOURCES = frozenset({"file", "resource", "link", "url", "document", "media"})
_PAGES = frozenset({"page", "webpage", "lesson-content-page"})
_POSTS = frozenset({"forum-reply", "discussion", "forum", "post", "reply", "message"})
#: verb → (object type set or None for any, event type), first match wins.
_BY_VERB: dict[str, tuple[tuple[frozenset[str] | None, str], ...]] = {
    "login": ((None, "user_login"),),
    "logged-in": ((None, "user_login"),),
    "logout": ((None, "user_logout"),),
    "logged-out": ((None, "user_logout"),),
    "registered": ((frozenset({"course"}), "user_enrolled"),),
    "enrolled": ((None, "user_enrolled"),),
    "launched": ((_QUIZ, "quiz_attempted"),),
    "attempted": ((_QUIZ, "quiz_attempted"),),
    "initialized": ((_QUIZ, "quiz_attempted"),),
    "started": ((_QUIZ, "quiz_attempted"),),
    "start": ((_QUIZ, "quiz_attempted"),),
    "completed": (
        (_QUIZ, "quiz_submitted"),
        (frozenset({"course"}), "course_completed"),
        (None, "module_completed"),
    ),
    "submit": ((_QUIZ, "quiz_submitted"), (None, "assignment_submitted")),
    "submitted": ((_QUIZ, "quiz_submitted"), (None, "assignment_submitted")),
    "passed": ((_QUIZ, "quiz_submitted"),),
    "failed": ((_QUIZ, "quiz_submitted"),),
    "create": ((_POSTS, "forum_post_created"),),
    "created": ((_POSTS, "forum_post_created"),),
    "replied": ((None, "forum_post_created"),),
    "posted": ((None, "forum_post_created"),),
    "scored": ((None, "grade_updated"),),
    "graded": ((None, "grade_updated"),),
}


def last_segment(iri: Any) -> str:
    """The last path segment of an IRI, lower case (``.../verbs/viewed`` → viewed)."""
    text = str(iri or "").rstrip("/").lower()
    return re.split(r"[/#]", text)[-1] if text else ""


def type_from_verb(verb: str, object_type: str) -> str:
    """The SPEC type of a statement that names no Moodle event."""
    if verb in _VIEWED:
        if object_type == "course":
            return "course_viewed"
        if object_type in _RESOURCES:
            return "resource_viewed"
        if object_type in _PAGES:
            return "page_viewed"
        return "module_viewed"
    for types, event_type in _BY_VERB.get(verb, ()):
        if types is None or object_type in types:
            return event_type
    return "other"


class XapiSource(ImportSource):
    """Events from xAPI statements; see the module docstring for the rules."""

    kind = "xapi"

    def __init__(
        self,
        source: str | Path | Iterable[Mapping[str, Any]],
        *,
        site_course_id: str | None = "1",
    ) -> None:
        super().__init__()
        self.source = Path(source) if isinstance(source, str | Path) else source
        self.site_course_id = site_course_id

    def _items(self) -> Iterator[Payload | SyncItem]:
        for value in self._values():
            for statement in self._statements(value):
                self.tally.rows_read += 1
                event = self.event(statement)
                if event is not None:
                    yield event

    def _values(self) -> Iterator[Any]:
        if not isinstance(self.source, Path):
            yield from self.source
            return
        suffixes = [s.lower() for s in self.source.suffixes if s.lower() != ".gz"]
        decoder = Decoder()
        with open_binary(self.source) as stream:
            if suffixes and suffixes[-1] == ".csv":
                yield from _flat_statements(csv_rows(text_lines(stream, decoder)))
            else:
                try:
                    yield from json_values(text_chunks(stream, decoder))
                except JsonFormatError as exc:
                    raise ImportFormatError(
                        f"{self.source.name} is not xAPI JSON: {exc}"
                    ) from exc
        if decoder.fallback_bytes:
            self.tally.notes["cp1252_bytes"] += decoder.fallback_bytes

    def _statements(self, value: Any) -> Iterator[Any]:
        if isinstance(value, Mapping) and isinstance(value.get("statements"), list):
            yield from value["statements"]
        elif isinstance(value, list):
            for element in value:
                yield from self._statements(element)
        else:
            yield value

    def event(self, statement: Any) -> Payload | None:
        """The payload of one statement, or None (counted as skipped)."""
        if not isinstance(statement, Mapping) or "verb" not in statement:
            self.tally.skip("not_a_statement")
            return None
        verb_id = str(_get(statement, "verb", "id") or "")
        if verb_id == _VOIDED:
            self.tally.skip("voiding_statement")
            return None
        user_id = actor_id(statement.get("actor"))
        if user_id is None:
            self.tally.skip("no_user_id")
            return None
        moment = _instant(statement.get("timestamp") or statement.get("stored"))
        if moment is None:
            self.tally.skip("no_timestamp")
            return None
        return self._payload(statement, verb_id, user_id, moment)

    def _payload(
        self, statement: Mapping[str, Any], verb_id: str, user_id: str, moment: datetime
    ) -> Payload:
        object_type = str(_get(statement, "object", "definition", "type") or "")
        moodle_event = _moodle_event(statement)
        if moodle_event:
            event_type = type_for_class(moodle_event)
        else:
            event_type = type_from_verb(
                last_segment(verb_id), last_segment(object_type)
            )
        activities = _activities(statement)
        payload: Payload = {
            "event_type": event_type,
            "user_id": user_id,
            "timestamp": moment.isoformat(),
            "moodle_log_id": "xapi:" + _identity(statement),
            "metadata": _metadata(statement, verb_id, object_type, moodle_event),
        }
        course = _first_match(_COURSE_URL, activities)
        if course is not None and course != self.site_course_id:
            payload["course_id"] = course
        module = _first_match(_MODULE_URL, activities)
        if module is not None:
            payload["module_id"] = module
        return payload


def actor_id(actor: Any) -> str | None:
    """The user id of an xAPI actor (see the module docstring), or None."""
    if not isinstance(actor, Mapping):
        return None
    account = actor.get("account")
    if isinstance(account, Mapping):
        name = str(account.get("name") or "").strip()
        if 0 < len(name) <= 64:
            return name
    digest = str(actor.get("mbox_sha1sum") or "").strip().lower()
    if not digest and actor.get("mbox"):
        digest = hashlib.sha1(str(actor["mbox"]).strip().encode()).hexdigest()  # noqa: S324
    return f"sha1:{digest}" if _SHA1.match(digest) else None


def _identity(statement: Mapping[str, Any]) -> str:
    statement_id = str(statement.get("id") or "").strip()
    if statement_id and len(statement_id) <= 59:
        return statement_id
    canonical = json.dumps(
        statement, sort_keys=True, separators=(",", ":"), default=str
    )
    return short_hash(canonical)


def _get(value: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return (
        moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    )


def _moodle_event(statement: Mapping[str, Any]) -> str | None:
    extensions = _get(statement, "context", "extensions")
    if not isinstance(extensions, Mapping):
        return None
    for value in extensions.values():
        if isinstance(value, Mapping) and isinstance(value.get("event_name"), str):
            return str(value["event_name"])
    return None


def _activities(statement: Mapping[str, Any]) -> list[str]:
    """Activity ids: the object first, then the context activities by kind."""
    found = [str(_get(statement, "object", "id") or "")]
    context = _get(statement, "context", "contextActivities")
    if isinstance(context, Mapping):
        for key in _CONTEXT_KEYS:
            entries = context.get(key)
            if isinstance(entries, Mapping):
                entries = [entries]
            for entry in entries if isinstance(entries, list) else []:
                found.append(str(_get(entry, "id") or ""))
    return found


def _first_match(pattern: re.Pattern[str], activities: list[str]) -> str | None:
    for activity in activities:
        match = pattern.search(activity)
        if match is not None:
            return next(group for group in match.groups() if group)
    return None


def _metadata(
    statement: Mapping[str, Any],
    verb_id: str,
    object_type: str,
    moodle_event: str | None,
) -> Payload:
    metadata: Payload = {"verb": verb_id, "object_id": _get(statement, "object", "id")}
    if object_type:
        metadata["object_type"] = object_type
    if moodle_event:
        metadata["moodle_event"] = moodle_event
    result = statement.get("result")
    if isinstance(result, Mapping):
        score = result.get("score")
        if isinstance(score, Mapping):
            metadata["score"] = {
                key: score[key]
                for key in ("raw", "min", "max", "scaled")
                if key in score
            }
        for key in ("success", "completion", "duration"):
            if key in result:
                metadata[key] = result[key]
    clean = {key: value for key, value in metadata.items() if value is not None}
    return fit_metadata(clean, ("object_id",))


_FLAT_COLUMNS = {
    "timestamp": "timestamp",
    "time": "timestamp",
    "stored": "stored",
    "id": "id",
    "statement_id": "id",
    "actor": "actor",
    "email": "actor",
    "mbox_sha1sum": "actor",
    "user": "actor",
    "verb": "verb",
    "action_verb": "verb",
    "object_id": "object",
    "object": "object",
    "object_type": "object_type",
    "relatedactivities": "related",
    "related_activities": "related",
    "context": "event_name",
    "event_name": "event_name",
}


def _flat_statements(rows: Iterator[list[str]]) -> Iterator[Any]:
    """Statements rebuilt from a flat CSV export, one row each."""
    header: list[str | None] | None = None
    for row in rows:
        if is_blank(row):
            continue
        if header is None:
            header = [_FLAT_COLUMNS.get(cell.strip().lower()) for cell in row]
            continue
        cells = {
            name: cell.strip() for name, cell in zip(header, row, strict=False) if name
        }
        yield _statement_from_cells(cells)


def _statement_from_cells(cells: dict[str, str]) -> dict[str, Any]:
    actor_text = cells.get("actor", "")
    if _SHA1.match(actor_text.lower()):
        actor: dict[str, Any] = {"mbox_sha1sum": actor_text.lower()}
    else:
        actor = {"account": {"name": actor_text}} if actor_text else {}
    related = re.findall(r"'([^']*)'|\"([^\"]*)\"", cells.get("related", ""))
    context: dict[str, Any] = {
        "contextActivities": {"other": [{"id": a or b} for a, b in related]}
    }
    event_name = cells.get("event_name", "")
    if event_name.startswith("\\"):
        context["extensions"] = {"info": {"event_name": event_name}}
    statement: dict[str, Any] = {
        "actor": actor,
        "verb": {"id": cells.get("verb", "")},
        "object": {
            "id": cells.get("object", ""),
            "definition": {"type": cells.get("object_type", "")},
        },
        "context": context,
    }
    for key in ("id", "timestamp", "stored"):
        if cells.get(key):
            statement[key] = cells[key]
    return statement
