"""The Open University Learning Analytics Dataset (OULAD) folder layout.

Files are matched by name prefix, case-insensitively, so subsets such as
``studentVle_head_AAA2013J.csv`` or split parts are read too (all files of a prefix,
in name order): ``courses``, ``assessments``, ``vle``, ``studentInfo``,
``studentRegistration``, ``studentAssessment``, ``studentVle``.

Mapping decisions:

- A course is one presentation of a module: ``course_id`` = ``AAA-2013J``.
- OULAD dates are day offsets from a presentation's start, which the data set does
  not give. A presentation starts on a fixed date: ``B`` presentations on 1 February
  and ``J`` presentations on 1 October of their year (2013B → 2013-02-01, 2013J →
  2013-10-01, 2014B → 2014-02-01, 2014J → 2014-10-01). A day's event is placed at
  12:00 UTC of that day (``hour``), so that no time zone moves it to another day.
- ``courses.csv`` → ``courses`` items (start date as above, end date after
  ``module_presentation_length`` days). ``assessments.csv`` → ``modules`` items
  ``assessment-<id>`` (kind ``tma``, ``cma`` or ``exam``; due date when known) and
  ``vle.csv`` → ``modules`` items ``<id_site>`` (kind = ``activity_type``).
- ``studentInfo.csv`` → ``users`` items (ids only: OULAD has no names);
  ``final_result`` is exposed by :func:`read_outcomes` for the risk model.
- ``studentRegistration.csv`` → ``enrolments`` items (role ``student``; ``suspended``
  once unregistered, with ``time_end``) and a ``user_enrolled`` event on the day of
  registration (a row without that day gives no event: noted as
  ``registration_without_date``).
- ``studentAssessment*.csv`` → one event per row: TMA → ``assignment_submitted``,
  CMA and Exam → ``quiz_submitted``, with score, banked flag, weight and lateness in
  metadata; and a ``grades`` item (0 to 100, pass mark 40). A row of an unknown
  assessment is skipped as ``unknown_assessment``.
- ``studentVle*.csv`` → one ``module_viewed`` event per row (``sum_click`` and the
  site's ``activity_type`` in metadata). The data set has several rows for the same
  student, site and day: each stays an event.
- Identity: OULAD has no log ids, so each event gets a deterministic
  ``moodle_log_id`` (``oulad:reg:…``, ``oulad:asm:…``, ``oulad:vle:…``; identical
  studentVle rows of one day are numbered), and re-importing deduplicates.
- Rows whose presentation code is not ``YYYYB``/``YYYYJ`` are skipped as
  ``unknown_presentation``; rows with a missing id or day as ``bad_row``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from ssea_core.importers.base import (
    ImportFormatError,
    ImportSource,
    Payload,
    RepeatCounter,
    SyncItem,
    Tally,
)
from ssea_core.importers.textio import (
    Decoder,
    csv_rows,
    is_blank,
    open_binary,
    text_lines,
)

#: Month and day each presentation letter starts on (see the module docstring).
PRESENTATION_STARTS: dict[str, tuple[int, int]] = {"B": (2, 1), "J": (10, 1)}
PASS_MARK = 40.0
_PRESENTATION = re.compile(r"^(\d{4})([A-Z])$")
_ASSESSMENT_TYPES = {
    "TMA": "assignment_submitted",
    "CMA": "quiz_submitted",
    "EXAM": "quiz_submitted",
}


class UnknownPresentationError(ValueError):
    """A presentation code that is not a year and a known letter."""


def presentation_start(code: str) -> date:
    """The day a presentation (``2013J``) is taken to start."""
    found = _PRESENTATION.match(code.strip().upper())
    if found is None or found[2] not in PRESENTATION_STARTS:
        raise UnknownPresentationError(code)
    month, day = PRESENTATION_STARTS[found[2]]
    return date(int(found[1]), month, day)


def course_key(module: str, presentation: str) -> str:
    """The course id of a module presentation: ``AAA-2013J``."""
    return f"{module.strip()}-{presentation.strip()}"


def read_outcomes(folder: str | Path) -> dict[tuple[str, str], str]:
    """``{(user_id, course_id): final_result}`` from ``studentInfo*.csv``.

    final_result is OULAD's ``Pass``, ``Distinction``, ``Fail`` or ``Withdrawn``.
    """
    outcomes: dict[tuple[str, str], str] = {}
    for row in _table_rows(_files(Path(folder), "studentinfo"), Tally()):
        user = (row.get("id_student") or "").strip()
        if user:
            course = course_key(
                row.get("code_module", ""), row.get("code_presentation", "")
            )
            outcomes[(user, course)] = (row.get("final_result") or "").strip()
    return outcomes


class OuladSource(ImportSource):
    """Events and catalogue from an OULAD folder; see the module docstring."""

    kind = "oulad"

    def __init__(self, folder: str | Path, *, hour: int = 12) -> None:
        super().__init__()
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise ImportFormatError(f"{self.folder} is not a folder of OULAD tables.")
        self.hour = hour
        self.assessments: dict[str, dict[str, str]] = {}
        self.sites: dict[str, str] = {}

    def _items(self) -> Iterator[Payload | SyncItem]:
        if not any(self.folder.glob("*.csv")) and not any(self.folder.glob("*.csv.gz")):
            raise ImportFormatError(f"{self.folder} holds no OULAD .csv tables.")
        yield from self._courses()
        yield from self._assessment_modules()
        yield from self._site_modules()
        yield from self._users()
        yield from self._registrations()
        yield from self._submissions()
        yield from self._clicks()

    # -- helpers -------------------------------------------------------------------

    def _rows(self, prefix: str) -> Iterator[dict[str, str]]:
        yield from _table_rows(_files(self.folder, prefix), self.tally)

    def _day(self, presentation: str, offset: str) -> datetime:
        start = presentation_start(presentation) + timedelta(days=int(offset))
        return datetime.combine(start, time(self.hour), tzinfo=UTC)

    def _course(self, row: dict[str, str]) -> str | None:
        """The course of a row, or None after counting the row as skipped."""
        presentation = row.get("code_presentation", "")
        try:
            presentation_start(presentation)
        except UnknownPresentationError:
            self.tally.skip("unknown_presentation")
            return None
        return course_key(row.get("code_module", ""), presentation)

    def _catalogue(self, entity: str, item: Payload) -> SyncItem:
        self.tally.catalogue_rows += 1
        return SyncItem(entity, item)

    # -- catalogue -----------------------------------------------------------------

    def _courses(self) -> Iterator[SyncItem]:
        for row in self._rows("courses"):
            course = self._course(row)
            if course is None:
                continue
            start = self._day(row["code_presentation"], "0")
            item: Payload = {
                "course_id": course,
                "shortname": f"{row.get('code_module', '')} {row['code_presentation']}",
                "start_date": start.date().isoformat(),
            }
            length = row.get("module_presentation_length", "").strip()
            if length.isdigit():
                item["end_date"] = (
                    start.date() + timedelta(days=int(length))
                ).isoformat()
            yield self._catalogue("courses", item)

    def _assessment_modules(self) -> Iterator[SyncItem]:
        for row in self._rows("assessments"):
            course = self._course(row)
            if course is None:
                continue
            assessment = row.get("id_assessment", "").strip()
            self.assessments[assessment] = {**row, "course_id": course}
            item: Payload = {
                "module_id": f"assessment-{assessment}",
                "course_id": course,
                "modname": row.get("assessment_type", "").strip().lower() or None,
            }
            due = row.get("date", "").strip()
            if _is_int(due):
                item["due_date"] = self._day(row["code_presentation"], due).isoformat()
            yield self._catalogue("modules", item)

    def _site_modules(self) -> Iterator[SyncItem]:
        for row in self._rows("vle"):
            course = self._course(row)
            if course is None:
                continue
            site = row.get("id_site", "").strip()
            kind = row.get("activity_type", "").strip()
            self.sites[site] = kind
            item = {"module_id": site, "course_id": course, "modname": kind or None}
            yield self._catalogue("modules", item)

    def _users(self) -> Iterator[SyncItem]:
        for row in self._rows("studentinfo"):
            user = row.get("id_student", "").strip()
            if not user:
                self.tally.skip("bad_row")
                continue
            yield self._catalogue("users", {"user_id": user})

    # -- events --------------------------------------------------------------------

    def _registrations(self) -> Iterator[Payload | SyncItem]:
        for row in self._rows("studentregistration"):
            course = self._course(row)
            user = row.get("id_student", "").strip()
            if course is None:
                continue
            if not user:
                self.tally.skip("bad_row")
                continue
            enrolment = self._enrolment(row, course, user)
            yield SyncItem("enrolments", enrolment)
            if "time_start" not in enrolment:
                self.tally.notes["registration_without_date"] += 1
                self.tally.catalogue_rows += 1
                continue
            yield {
                "event_type": "user_enrolled",
                "user_id": user,
                "course_id": course,
                "timestamp": enrolment["time_start"],
                "moodle_log_id": f"oulad:reg:{course}:{user}",
                "metadata": {"day": int(row["date_registration"])},
            }

    def _enrolment(self, row: dict[str, str], course: str, user: str) -> Payload:
        presentation = row["code_presentation"]
        registered = row.get("date_registration", "").strip()
        left = row.get("date_unregistration", "").strip()
        item: Payload = {
            "user_id": user,
            "course_id": course,
            "role": "student",
            "status": "suspended" if _is_int(left) else "active",
        }
        if _is_int(registered):
            item["time_start"] = self._day(presentation, registered).isoformat()
        if _is_int(left):
            item["time_end"] = self._day(presentation, left).isoformat()
        return item

    def _submissions(self) -> Iterator[Payload | SyncItem]:
        for row in self._rows("studentassessment"):
            assessment = self.assessments.get(row.get("id_assessment", "").strip())
            if assessment is None:
                self.tally.skip("unknown_assessment")
                continue
            user = row.get("id_student", "").strip()
            submitted = row.get("date_submitted", "").strip()
            if not user or not _is_int(submitted):
                self.tally.skip("bad_row")
                continue
            event = self._submission(row, assessment, user, submitted)
            yield event
            yield SyncItem("grades", _grade(assessment, user, event))

    def _submission(
        self, row: dict[str, str], assessment: dict[str, str], user: str, day: str
    ) -> Payload:
        kind = assessment.get("assessment_type", "").strip()
        event_type = _ASSESSMENT_TYPES.get(kind.upper(), "other")
        score = _score(row.get("score", ""))
        metadata: Payload = {
            "assessment_type": kind,
            "score": score,
            "is_banked": row.get("is_banked", "").strip() == "1",
            "day": int(day),
        }
        weight = _score(assessment.get("weight", ""))
        if weight is not None:
            metadata["weight"] = weight
        due = assessment.get("date", "").strip()
        if _is_int(due):
            metadata["due_date"] = self._day(
                assessment["code_presentation"], due
            ).isoformat()
            metadata["is_late"] = int(day) > int(due)
        if event_type == "quiz_submitted":
            metadata["score_percent"] = score
        identity = assessment["id_assessment"].strip()
        return {
            "event_type": event_type,
            "user_id": user,
            "course_id": assessment["course_id"],
            "module_id": f"assessment-{identity}",
            "timestamp": self._day(assessment["code_presentation"], day).isoformat(),
            "moodle_log_id": f"oulad:asm:{identity}:{user}",
            "metadata": metadata,
        }

    def _clicks(self) -> Iterator[Payload]:
        repeats = RepeatCounter()
        for row in self._rows("studentvle"):
            course = self._course(row)
            if course is None:
                continue
            user = row.get("id_student", "").strip()
            site = row.get("id_site", "").strip()
            day = row.get("date", "").strip()
            clicks = row.get("sum_click", "").strip()
            if not user or not site or not _is_int(day) or not clicks.isdigit():
                self.tally.skip("bad_row")
                continue
            number = repeats.number((course, day), (user, site, clicks))
            yield {
                "event_type": "module_viewed",
                "user_id": user,
                "course_id": course,
                "module_id": site,
                "timestamp": self._day(row["code_presentation"], day).isoformat(),
                "moodle_log_id": (
                    f"oulad:vle:{course}:{user}:{site}:{day}:{clicks}:{number}"
                ),
                "metadata": _click_metadata(int(clicks), self.sites.get(site)),
            }


def _click_metadata(clicks: int, kind: str | None) -> Payload:
    metadata: Payload = {"sum_click": clicks}
    if kind:
        metadata["activity_type"] = kind
    return metadata


def _grade(assessment: dict[str, str], user: str, event: Payload) -> Payload:
    return {
        "user_id": user,
        "course_id": assessment["course_id"],
        "item_id": event["module_id"],
        "item_name": " ".join(
            (assessment.get("assessment_type", ""), assessment["id_assessment"])
        ).strip(),
        "item_type": assessment.get("assessment_type", "").strip().lower() or None,
        "finalgrade": event["metadata"]["score"],
        "grademin": 0.0,
        "grademax": 100.0,
        "gradepass": PASS_MARK,
        "graded_at": event["timestamp"],
    }


def _files(folder: Path, prefix: str) -> list[Path]:
    return sorted(
        path
        for path in folder.iterdir()
        if path.is_file()
        and path.name.lower().startswith(prefix)
        and path.name.lower().endswith((".csv", ".csv.gz"))
    )


def _table_rows(paths: list[Path], tally: Tally) -> Iterator[dict[str, str]]:
    for path in paths:
        decoder = Decoder()
        with open_binary(path) as stream:
            header: list[str] | None = None
            for row in csv_rows(text_lines(stream, decoder)):
                if is_blank(row):
                    continue
                if header is None:
                    header = [cell.strip().lower() for cell in row]
                    continue
                tally.rows_read += 1
                yield dict(zip(header, row, strict=False))
        if decoder.fallback_bytes:
            tally.notes["cp1252_bytes"] += decoder.fallback_bytes


def _is_int(text: str) -> bool:
    return bool(re.fullmatch(r"-?\d+", text))


def _score(text: Any) -> float | None:
    try:
        return float(str(text).strip())
    except ValueError:
        return None
