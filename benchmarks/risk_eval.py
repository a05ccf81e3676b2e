"""Measure the risk score against real outcomes, and time it (docs/risk.md).

For each data set, students are scored as of 25 %, 50 % and 75 % of the course with
features built only from data dated before that moment; the score is then judged as
a predictor of a bad outcome by ROC AUC (rank / Mann-Whitney formula, ties counted
half). Only aggregate figures are printed: no student id leaves this script.

    python benchmarks/risk_eval.py                 # every set + timing
    python benchmarks/risk_eval.py --only oulad    # one part: oulad, lacourse,
                                                   # ucl, edify, speed
Data comes from ``../shared/data/real`` (or ``SSEA_REAL_DATA``). The Moodle sets
need ``openpyxl`` (xlsx) and ``rdata`` (RData); a set whose reader is missing is
skipped with a note. With ``scikit-learn`` installed, every AUC is also checked
against ``roc_auc_score``. The library itself uses the standard library only.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import random
import re
import statistics
import sys
import time
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ssea_core.ingest.sessions import Activity, SessionPolicy, sessionize
from ssea_core.risk import (
    ActivityCounts,
    CompletionCounts,
    GradeResult,
    PeerDistribution,
    RiskSettings,
    StudentFeatures,
    SubmissionCounts,
    score,
)
from ssea_core.risk.factors import FACTORS

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SSEA_REAL_DATA", ROOT.parent / "shared" / "data" / "real"))
CUTS = (0.25, 0.50, 0.75)
SETTINGS = RiskSettings()
DAY = timedelta(days=1)

#: OULAD: the OU pass mark for an assessment is 40 %.
OU_PASS = 40.0
#: OULAD: tutor-marked work (TMA) is assumed to be marked this many days after it is
#: handed in; computer-marked work (CMA) is marked at once. A TMA score is used at a
#: cut only once marked, so scores are never known earlier than they could be.
TMA_MARKING_DAYS = 14
#: Moodle sets without due dates: an assignment or quiz counts as due at a cut once
#: at least this share of the class has submitted it before the cut.
DUE_SHARE = 0.5


# --- measurement -------------------------------------------------------------------


def auc(scores: Sequence[float], labels: Sequence[int]) -> float | None:
    """ROC AUC by the rank-sum (Mann-Whitney U) formula, average ranks for ties."""
    positives = sum(labels)
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        return None
    order = sorted(range(len(scores)), key=lambda index: scores[index])
    ranks = [0.0] * len(scores)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and scores[order[end + 1]] == scores[order[start]]:
            end += 1
        for position in range(start, end + 1):
            ranks[order[position]] = (start + end) / 2 + 1
        start = end + 1
    rank_sum = sum(rank for rank, label in zip(ranks, labels, strict=True) if label)
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def auc_se(area: float, positives: int, negatives: int) -> float:
    """Hanley & McNeil (1982) standard error of an AUC."""
    q1, q2 = area / (2 - area), 2 * area * area / (1 + area)
    variance = (
        area * (1 - area)
        + (positives - 1) * (q1 - area * area)
        + (negatives - 1) * (q2 - area * area)
    ) / (positives * negatives)
    return math.sqrt(max(0.0, variance))


@dataclass
class Sample:
    """Scored students of one set at one cut: scores, outcomes, factor values."""

    scores: list[float] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    factor_values: dict[str, list[tuple[float, int]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    unscored: int = 0
    excluded: int = 0

    def add(self, features: StudentFeatures, label: int) -> None:
        assessment = score(features, SETTINGS)
        if assessment.score is None:
            self.unscored += 1
            return
        self.scores.append(assessment.score)
        self.labels.append(label)
        for factor in assessment.factors:
            self.factor_values[factor.name].append((factor.value, label))

    def extend(self, other: Sample) -> None:
        self.scores += other.scores
        self.labels += other.labels
        self.unscored += other.unscored
        self.excluded += other.excluded
        for name, pairs in other.factor_values.items():
            self.factor_values[name] += pairs


CROSS_CHECKED: list[str] = []


def cross_check(area: float | None, scores: list[float], labels: list[int]) -> None:
    """Compare with scikit-learn's ``roc_auc_score`` when it is installed."""
    try:
        from sklearn.metrics import roc_auc_score  # benchmark-only, optional
    except ImportError:
        return
    if area is None:
        return
    reference = float(roc_auc_score(labels, scores))
    if abs(reference - area) > 1e-9:
        raise AssertionError(f"AUC {area} differs from scikit-learn's {reference}")
    CROSS_CHECKED.append(f"{area:.6f}")


def row(name: str, cut: float, sample: Sample) -> dict[str, Any]:
    """One line of a result table."""
    area = auc(sample.scores, sample.labels)
    cross_check(area, sample.scores, sample.labels)
    positives = sum(sample.labels)
    negatives = len(sample.labels) - positives
    spread = None if area is None else 1.96 * auc_se(area, positives, negatives)
    at_risk = sum(value >= SETTINGS.high_from for value in sample.scores)
    flagged_bad = sum(
        label
        for value, label in zip(sample.scores, sample.labels, strict=True)
        if value >= SETTINGS.high_from
    )
    return {
        "set": name,
        "cut": cut,
        "n": len(sample.labels),
        "positives": positives,
        "unscored": sample.unscored,
        "excluded": sample.excluded,
        "auc": area,
        "ci95": spread,
        "at_risk": at_risk,
        "precision_at_risk": flagged_bad / at_risk if at_risk else None,
        "recall_at_risk": flagged_bad / positives if positives else None,
        "factor_auc": {
            name: auc([value for value, _ in pairs], [label for _, label in pairs])
            for name, pairs in sorted(sample.factor_values.items())
        },
    }


def show(rows: Iterable[dict[str, Any]]) -> None:
    """Print result rows as a markdown table."""
    print(
        "| set | cut | students | bad outcome | unscored | excluded | AUC ± 95 % "
        "| flagged at risk | precision | recall |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for line in rows:
        area = "n/a" if line["auc"] is None else f"{line['auc']:.3f}"
        if line["ci95"] is not None:
            area += f" ± {line['ci95']:.3f}"
        print(
            f"| {line['set']} | {line['cut']:.0%} | {line['n']} | {line['positives']} "
            f"| {line['unscored']} | {line['excluded']} | {area} | {line['at_risk']} "
            f"| {_share(line['precision_at_risk'])} "
            f"| {_share(line['recall_at_risk'])} |"
        )


def show_factors(rows: Iterable[dict[str, Any]]) -> None:
    """Print each factor's own AUC (over the students it had data for)."""
    names = list(FACTORS)
    print("| set | cut | " + " | ".join(names) + " |")
    print("|---|---|" + "---|" * len(names))
    for line in rows:
        cells = []
        for name in names:
            area = line["factor_auc"].get(name)
            cells.append("—" if area is None else f"{area:.3f}")
        print(f"| {line['set']} | {line['cut']:.0%} | " + " | ".join(cells) + " |")


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


# --- OULAD -------------------------------------------------------------------------


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@dataclass(frozen=True)
class Assessment:
    assessment_id: str
    kind: str  # TMA, CMA
    deadline: int


def _oulad_assessments(folder: Path) -> dict[tuple[str, str], list[Assessment]]:
    found: dict[tuple[str, str], list[Assessment]] = defaultdict(list)
    for line in _read_csv(folder / "assessments.csv"):
        if line["assessment_type"] == "Exam" or not line["date"]:
            continue  # the exam is the outcome, and it comes after every cut
        key = (line["code_module"], line["code_presentation"])
        found[key].append(
            Assessment(
                line["id_assessment"], line["assessment_type"], int(line["date"])
            )
        )
    return found


Submission = tuple[int, bool, float | None]  # day handed in, banked, score


def _oulad_submissions(folder: Path) -> dict[tuple[str, str], Submission]:
    found: dict[tuple[str, str], Submission] = {}
    path = folder / "studentAssessment_Jpresentations_subset.csv"
    for line in _read_csv(path):
        points = float(line["score"]) if line["score"].strip() else None
        found[(line["id_assessment"], line["id_student"])] = (
            int(line["date_submitted"]),
            line["is_banked"] == "1",
            points,
        )
    return found


def _day(value: str) -> int | None:
    value = value.strip()
    return int(value) if value and value != "?" else None


def _oulad_features(
    student: str,
    registration: dict[str, str],
    due_list: list[Assessment],
    handed: dict[tuple[str, str], Submission],
    start: datetime,
    length: int,
    cut_day: int,
) -> StudentFeatures:
    results: list[GradeResult] = []
    due = late = missing = 0
    for item in due_list:
        submission = handed.get((item.assessment_id, student))
        known = submission is not None and submission[0] < cut_day
        if item.deadline < cut_day:
            due += 1
            if not known:
                missing += 1
            elif submission is not None and not submission[1]:
                late += submission[0] > item.deadline
        if submission is None or not known or submission[2] is None:
            continue
        marked = submission[0] + (TMA_MARKING_DAYS if item.kind == "TMA" else 0)
        if submission[1] or marked < cut_day:
            results.append(
                GradeResult(
                    percent=submission[2],
                    pass_percent=OU_PASS,
                    graded_at=start + marked * DAY,
                    kind="grade" if item.kind == "TMA" else "quiz",
                )
            )
    registered = _day(registration["date_registration"])
    return StudentFeatures(
        user_id=student,
        as_of=start + cut_day * DAY,
        course_id="oulad",
        enrolled_at=None if registered is None else start + registered * DAY,
        course_start=start,
        course_end=start + length * DAY,
        results=tuple(results),
        submissions=SubmissionCounts(due, late, missing) if due else None,
    )


def oulad() -> list[dict[str, Any]]:
    """OULAD: bad outcome = Withdrawn or Fail; students who withdrew before a cut are
    left out of that cut (their withdrawal is the outcome)."""
    folder = DATA / "oulad"
    lengths = {
        (line["code_module"], line["code_presentation"]): int(
            line["module_presentation_length"]
        )
        for line in _read_csv(folder / "courses.csv")
    }
    handed = _oulad_submissions(folder)
    assessed = {assessment for assessment, _ in handed}
    # The subset holds no row at all for some assessments (every CMA outside BBB
    # 2013J): those are absent from the file, not missed by every student.
    assessments = {
        key: kept
        for key, items in _oulad_assessments(folder).items()
        if (kept := [item for item in items if item.assessment_id in assessed])
    }
    presentations = sorted(assessments)
    registrations = {
        (line["code_module"], line["code_presentation"], line["id_student"]): line
        for line in _read_csv(folder / "studentRegistration.csv")
    }
    outcomes: dict[tuple[str, str], list[tuple[str, int]]] = defaultdict(list)
    for line in _read_csv(folder / "studentInfo.csv"):
        key = (line["code_module"], line["code_presentation"])
        bad = int(line["final_result"] in ("Withdrawn", "Fail"))
        outcomes[key].append((line["id_student"], bad))

    rows: list[dict[str, Any]] = []
    for cut in CUTS:
        pooled = Sample()
        for key in presentations:
            sample = _oulad_cut(
                key,
                cut,
                lengths[key],
                assessments[key],
                handed,
                registrations,
                outcomes[key],
            )
            rows.append(row(f"OULAD {key[0]} {key[1]}", cut, sample))
            pooled.extend(sample)
        rows.append(row(f"OULAD all {len(presentations)} presentations", cut, pooled))
    return rows


def _oulad_cut(
    key: tuple[str, str],
    cut: float,
    length: int,
    due_list: list[Assessment],
    handed: dict[tuple[str, str], Submission],
    registrations: dict[tuple[str, str, str], dict[str, str]],
    outcomes: list[tuple[str, int]],
) -> Sample:
    start = datetime(2013 if key[1].startswith("2013") else 2014, 10, 1, tzinfo=UTC)
    cut_day = round(cut * length)
    sample = Sample()
    for student, bad in outcomes:
        registration = registrations[(key[0], key[1], student)]
        left = _day(registration["date_unregistration"])
        joined = _day(registration["date_registration"])
        if (left is not None and left < cut_day) or (
            joined is not None and joined >= cut_day
        ):
            sample.excluded += 1
            continue
        features = _oulad_features(
            student, registration, due_list, handed, start, length, cut_day
        )
        sample.add(features, bad)
    return sample


# --- Moodle logs with final grades ------------------------------------------------


@dataclass(frozen=True)
class LogEvent:
    user: str
    at: datetime
    context: str
    name: str


@dataclass(frozen=True)
class MoodleCourse:
    """One course's events, its calendar and a bad outcome per student."""

    name: str
    events: list[LogEvent]
    start: datetime
    end: datetime
    outcome: dict[str, int]
    submission_names: frozenset[str]


def bottom_quartile(grades: dict[str, float]) -> dict[str, int]:
    """1 for students at or below the 25th percentile (nearest rank) of the grade."""
    ordered = sorted(grades.values())
    threshold = ordered[math.ceil(0.25 * len(ordered)) - 1]
    return {user: int(grade <= threshold) for user, grade in grades.items()}


def _activity(events: list[LogEvent], since: datetime) -> ActivityCounts:
    chosen = [event for event in events if event.at >= since]
    if not chosen:
        return ActivityCounts()
    timed = [
        Activity(event.at, f"{index}", "other", "c")
        for index, event in enumerate(chosen)
    ]
    seconds = sum(item.seconds for item in sessionize(timed, SessionPolicy()))
    days = len({event.at.date() for event in chosen})
    return ActivityCounts(len(chosen), days, seconds)


def _due_items(done: dict[str, dict[str, datetime]], students: int) -> set[str]:
    """Items done by at least ``DUE_SHARE`` of the class: due by now."""
    return {item for item, users in done.items() if len(users) >= DUE_SHARE * students}


def moodle_features(course: MoodleCourse, cut: float) -> dict[str, StudentFeatures]:
    """Features of every student as of ``cut`` of the course, from earlier events."""
    as_of = course.start + cut * (course.end - course.start)
    recent_from = as_of - SETTINGS.recent_window
    by_user: dict[str, list[LogEvent]] = defaultdict(list)
    submitted: dict[str, dict[str, datetime]] = defaultdict(dict)
    completed: dict[str, dict[str, datetime]] = defaultdict(dict)
    for event in course.events:
        if event.at >= as_of or event.user not in course.outcome:
            continue
        by_user[event.user].append(event)
        if event.name in course.submission_names:
            submitted[event.context].setdefault(event.user, event.at)
        elif event.name == "Course activity completion updated":
            completed[event.context].setdefault(event.user, event.at)
    students = list(course.outcome)
    recent = {user: _activity(by_user[user], recent_from) for user in students}
    total = {user: _activity(by_user[user], course.start) for user in students}
    peers_recent = PeerDistribution.of(recent.values())
    peers_total = PeerDistribution.of(total.values())
    due = _due_items(submitted, len(students))
    tracked = {item for item, users in completed.items() if users}
    done = {user: sum(user in completed[item] for item in tracked) for user in students}
    typical = statistics.median(done.values())
    found = {}
    for user in students:
        own = by_user[user]
        missing = sum(user not in submitted[item] for item in due)
        found[user] = StudentFeatures(
            user_id=user,
            as_of=as_of,
            course_id=course.name,
            enrolled_at=course.start,
            course_start=course.start,
            course_end=course.end,
            last_seen_at=max((event.at for event in own), default=None),
            recent=recent[user],
            since_enrolment=total[user],
            peers_recent=peers_recent,
            peers_since_enrolment=peers_total,
            submissions=SubmissionCounts(len(due), 0, missing) if due else None,
            completion=CompletionCounts(len(tracked), done[user], typical)
            if tracked
            else None,
        )
    return found


def evaluate_course(course: MoodleCourse) -> list[dict[str, Any]]:
    """AUC of the score for the course's bad outcome at each cut."""
    rows = []
    for cut in CUTS:
        sample = Sample()
        for user, features in moodle_features(course, cut).items():
            sample.add(features, course.outcome[user])
        rows.append(row(course.name, cut, sample))
    return rows


def _xlsx_rows(path: Path) -> list[tuple[Any, ...]]:
    import openpyxl  # benchmark-only dependency

    book = openpyxl.load_workbook(path, read_only=True)
    sheet = book.worksheets[0]
    sheet.reset_dimensions()  # the files declare a wrong size (A1)
    return list(sheet.iter_rows(values_only=True))


LACOURSE_SUBMISSIONS = frozenset(
    {
        "A submission has been submitted.",
        "Submission created.",
        "Submission updated.",
        "A file has been uploaded.",
    }
)


def lacourse() -> list[dict[str, Any]]:
    """lamethods_moodleLAcourse: Events.xlsx + Results.xlsx Final_grade; bad outcome
    = bottom quartile of the final grade."""
    folder = DATA / "lamethods_moodleLAcourse"
    results = _xlsx_rows(folder / "Results.xlsx")
    header = results[0]
    grade_at = header.index("Final_grade")
    grades = {line[0]: float(line[grade_at]) for line in results[1:] if line[0]}
    events = [
        LogEvent(line[1], line[2].replace(tzinfo=UTC), line[0], line[4])
        for line in _xlsx_rows(folder / "Events.xlsx")[1:]
        if line[1]
    ]
    # The course ran Monday 9 September to Sunday 27 October 2019 (7 weeks).
    course = MoodleCourse(
        name="LA course 2019",
        events=events,
        start=datetime(2019, 9, 9, tzinfo=UTC),
        end=datetime(2019, 10, 28, tzinfo=UTC),
        outcome=bottom_quartile(grades),
        submission_names=LACOURSE_SUBMISSIONS,
    )
    return evaluate_course(course)


def ucl() -> list[dict[str, Any]]:
    """ucl_stat0004: events + grades from the RData; bad outcome = bottom quartile
    of the final grade."""
    import rdata  # benchmark-only dependency

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        objects = rdata.read_rda(
            str(DATA / "ucl_stat0004" / "STAT0004_2122_data.RData")
        )
    table, marks = objects["dat"], objects["grades"]
    grades = {
        str(user): float(grade)
        for user, grade in zip(marks["User"], marks["final_grade"], strict=True)
    }
    columns = ["User", "Time", "Event.context", "Event.name"]
    events = [
        LogEvent(str(user), datetime.fromtimestamp(float(stamp), UTC), context, name)
        for user, stamp, context, name in zip(
            *(table[column] for column in columns), strict=True
        )
    ]
    # Term 1 of 2021/22: Monday 4 October to Sunday 19 December (11 weeks).
    course = MoodleCourse(
        name="UCL STAT0004 2021/22",
        events=events,
        start=datetime(2021, 10, 4, tzinfo=UTC),
        end=datetime(2021, 12, 20, tzinfo=UTC),
        outcome=bottom_quartile(grades),
        submission_names=frozenset({"Quiz attempt submitted"}),
    )
    return evaluate_course(course)


ACTOR = re.compile(r"The user with id '(\d+)'")


def edify() -> None:
    """lamethods_moodleEdify: can the logs' actors be joined to the AtRisk flags?"""
    folder = DATA / "moodle_log_exports" / "lamethods_moodleEdify"
    actors: set[str] = set()
    for path in sorted(folder.glob("Moodle Module *.csv")):
        text = path.read_bytes().decode("utf-8", errors="replace")
        actors.update(ACTOR.findall(text))
    rolls: set[str] = set()
    log_columns: set[str] = set()
    for path in sorted(folder.glob("KMS *.csv")) + sorted(folder.glob("Result *.csv")):
        for line in _read_csv(path):
            rolls.add(line["RollNumber"])
    for path in sorted(folder.glob("Moodle Module *.csv")):
        with path.open(encoding="utf-8", errors="replace") as handle:
            log_columns.update(next(csv.reader(handle)))
    print(
        f"Edify: {len(actors)} numeric actor ids in the logs, {len(rolls)} roll "
        f"numbers ('Student NNN') in KMS/Result files; log columns: "
        f"{', '.join(sorted(log_columns))}. No column or table maps one to the other, "
        "so the logs cannot be joined to the AtRisk flags or marks: skipped."
    )


# --- speed -------------------------------------------------------------------------


def synthetic(count: int, seed: int = 7) -> list[StudentFeatures]:
    """``count`` students in courses of 200, every factor with data."""
    generator = random.Random(seed)
    as_of = datetime(2026, 3, 24, tzinfo=UTC)
    students: list[StudentFeatures] = []
    for course in range(math.ceil(count / 200)):
        recent = [_random_counts(generator, 14) for _ in range(200)]
        total = [_random_counts(generator, 60) for _ in range(200)]
        peers_recent = PeerDistribution.of(recent)
        peers_total = PeerDistribution.of(total)
        for index in range(200):
            results = tuple(
                GradeResult(
                    generator.uniform(0, 100),
                    50.0,
                    as_of - generator.randint(1, 60) * DAY,
                    generator.choice(("grade", "quiz")),
                )
                for _ in range(generator.randint(0, 8))
            )
            due = generator.randint(0, 6)
            missing = generator.randint(0, due)
            students.append(
                StudentFeatures(
                    user_id=f"u{course}-{index}",
                    as_of=as_of,
                    course_id=f"c{course}",
                    enrolled_at=as_of - 60 * DAY,
                    course_start=as_of - 56 * DAY,
                    course_end=as_of + 56 * DAY,
                    last_seen_at=as_of - generator.uniform(0, 30) * DAY,
                    recent=recent[index],
                    since_enrolment=total[index],
                    peers_recent=peers_recent,
                    peers_since_enrolment=peers_total,
                    results=results,
                    submissions=SubmissionCounts(
                        due, generator.randint(0, due - missing), missing
                    ),
                    completion=CompletionCounts(12, generator.randint(0, 12)),
                )
            )
    return students[:count]


def _random_counts(generator: random.Random, days: int) -> ActivityCounts:
    active = generator.randint(0, days)
    return ActivityCounts(active * generator.randint(1, 40), active, active * 1800)


def speed(count: int = 20_000, repeats: int = 3) -> float:
    """Best wall time of ``repeats`` runs scoring ``count`` synthetic students."""
    students = synthetic(count)
    timings = []
    for _ in range(repeats):
        began = time.perf_counter()
        for features in students:
            score(features, SETTINGS)
        timings.append(time.perf_counter() - began)
    best = min(timings)
    print(
        f"Scored {count} synthetic students: best {best:.3f} s of {repeats} runs "
        f"(median {statistics.median(timings):.3f} s), "
        f"{best / count * 1e6:.1f} µs per student; Python {sys.version.split()[0]}"
    )
    return best


# --- main --------------------------------------------------------------------------


def _try(name: str, part: Callable[[], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    try:
        return part()
    except ImportError as exc:
        print(f"{name}: skipped, a reader is not installed ({exc.name})")
    except FileNotFoundError as exc:
        print(f"{name}: skipped, data not found ({exc.filename})")
    return []


def main() -> None:
    """Run the parts asked for and print their tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only", choices=["oulad", "lacourse", "ucl", "edify", "speed"], default=None
    )
    arguments = parser.parse_args()
    parts: dict[str, Callable[[], list[dict[str, Any]]]] = {
        "oulad": oulad,
        "lacourse": lacourse,
        "ucl": ucl,
    }
    rows: list[dict[str, Any]] = []
    for name, part in parts.items():
        if arguments.only in (None, name):
            rows += _try(name, part)
    if rows:
        show(rows)
        print()
        show_factors(rows)
        if CROSS_CHECKED:
            print(f"\n{len(CROSS_CHECKED)} AUCs equal scikit-learn's roc_auc_score.")
    if arguments.only in (None, "edify"):
        edify()
    if arguments.only in (None, "speed"):
        speed()


if __name__ == "__main__":
    main()
