"""The cast of a generated term: people, courses, modules and who is enrolled where.

Built from the shape's seed alone, in a fixed order, so the catalogue and the event
stream see the same people. Names come from short invented lists: plausible, and
obviously nobody real. Ids look like Moodle's (numbers as strings).
"""

from __future__ import annotations

import bisect
import itertools
import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from ssea_core.demo.shape import (
    ARCHETYPES,
    DRIFTING,
    MODULE_CYCLE,
    TRACKED_SHARE,
    Archetype,
    TermShape,
    drift_window,
    make_rng,
)

FIRST_NAMES: tuple[str, ...] = (
    "Alex", "Amara", "Bea", "Caleb", "Dana", "Elif", "Emil", "Farah", "Gus", "Hana",
    "Ines", "Jonah", "Kofi", "Lena", "Mateo", "Mira", "Nadia", "Omar", "Pia", "Quinn",
    "Ravi", "Rosa", "Sami", "Tariq", "Uma", "Vera", "Wes", "Yara", "Yuki", "Zane",
)  # fmt: skip
LAST_NAMES: tuple[str, ...] = (
    "Ashgrove", "Brambleton", "Cobbleby", "Dewhollow", "Elderwick", "Fernsby",
    "Glimmerton", "Hartwhistle", "Ivyreach", "Juniperly", "Kettlewell", "Larkmoor",
    "Mossgrove", "Nettlebury", "Oakhollow", "Pebbleton", "Quillby", "Rushmere",
    "Saltmarsh", "Thistlewood", "Umberfield", "Vexley", "Wrenfield", "Yarrowby",
)  # fmt: skip
SUBJECTS: tuple[tuple[str, str, str], ...] = (
    ("Biology", "BIO", "Science"),
    ("Chemistry", "CHEM", "Science"),
    ("Physics", "PHYS", "Science"),
    ("Mathematics", "MATH", "Science"),
    ("Statistics", "STAT", "Science"),
    ("Computer Science", "CS", "Engineering"),
    ("Economics", "ECON", "Business"),
    ("Accounting", "ACCT", "Business"),
    ("Marketing", "MKT", "Business"),
    ("History", "HIST", "Humanities"),
    ("Philosophy", "PHIL", "Humanities"),
    ("Literature", "LIT", "Humanities"),
    ("Psychology", "PSY", "Social Sciences"),
    ("Sociology", "SOC", "Social Sciences"),
    ("Linguistics", "LING", "Humanities"),
    ("Geography", "GEO", "Social Sciences"),
    ("Nursing", "NURS", "Health"),
    ("Public Health", "PH", "Health"),
    ("Art History", "ARTH", "Arts"),
    ("Music Theory", "MUS", "Arts"),
    ("Electrical Engineering", "EE", "Engineering"),
    ("Civil Engineering", "CE", "Engineering"),
    ("Law", "LAW", "Law"),
    ("Spanish", "SPAN", "Languages"),
    ("German", "GER", "Languages"),
)
LEVELS: tuple[tuple[str, int, float], ...] = (
    ("Introduction to {}", 101, 1.6),
    ("{} Foundations", 102, 1.3),
    ("Intermediate {}", 201, 1.0),
    ("Topics in {}", 210, 0.8),
    ("Advanced {}", 301, 0.7),
    ("{} Research Methods", 320, 0.6),
    ("{} Seminar", 401, 0.4),
)
TOPICS: tuple[str, ...] = (
    "Key concepts", "Core methods", "Case study", "Data and evidence", "Theory",
    "Applications", "Practice problems", "Review", "Critical reading", "Project work",
)  # fmt: skip
SECTION_COPIES = "ABCDEFGHIJ"

#: Enrolments come from the nightly enrolment sync, between these seconds of day 0.
ENROL_WINDOW = (2 * 3600, 4 * 3600)


@dataclass(frozen=True, slots=True)
class Person:
    """A user of the site."""

    index: int
    user_id: str
    username: str
    full_name: str
    email: str


@dataclass(frozen=True, slots=True)
class Student:
    """A student's hidden traits: archetype, ability, and when they fade (drifters)."""

    person: int
    archetype: int
    ability: float
    fade_day: int | None
    courses: tuple[int, ...]

    @property
    def drifting(self) -> bool:
        return self.fade_day is not None


@dataclass(frozen=True, slots=True)
class Module:
    """A course module, with what grading and completion need."""

    index: int
    position: int
    module_id: str
    course: int
    modname: str
    name: str
    tracked: bool
    open_day: int
    due_day: int | None
    item_id: str | None = None
    grademax: float = 0.0
    gradepass: float = 0.0
    time_limit: int = 0
    max_attempts: int = 1
    discussion_base: int = 0


@dataclass(frozen=True, slots=True)
class Enrolment:
    """One user in one course: index (for per-enrolment state), role, enrol time."""

    index: int
    person: int
    course: int
    role: str
    enrolled_at: int  # seconds into day 0


@dataclass(slots=True)
class Course:
    """A course, its modules in section order and its enrolments in enrol order."""

    index: int
    course_id: str
    shortname: str
    fullname: str
    category: str
    total_item_id: str
    modules: list[Module] = field(default_factory=list)
    students: list[Enrolment] = field(default_factory=list)
    staff: list[Enrolment] = field(default_factory=list)

    @property
    def editing_teacher(self) -> int:
        """The person who sets and grades the work."""
        return self.staff[0].person

    @property
    def tracked_count(self) -> int:
        """Modules with completion tracking: completing all completes the course."""
        return sum(1 for module in self.modules if module.tracked)


@dataclass(frozen=True, slots=True)
class Learner:
    """A student as one course sees them: what planning their work needs."""

    enrolment: int
    person: int
    user_id: str
    ability: float
    fade_day: int | None
    archetype: Archetype


@dataclass(slots=True)
class Roster:
    """Everyone and everything in the term."""

    shape: TermShape
    people: list[Person]
    students: list[Student]
    teachers: list[int]
    courses: list[Course]
    enrolments: list[Enrolment]
    learners_cache: dict[int, list[Learner]] = field(default_factory=dict)

    def day(self, offset: int) -> date:
        """The date of term day ``offset`` (0 is the start)."""
        return self.shape.start + timedelta(days=offset)

    def learners(self, course: Course) -> list[Learner]:
        """The course's students in enrolment order (built once per course)."""
        found = self.learners_cache.get(course.index)
        if found is None:
            found = [self._learner(enrolment) for enrolment in course.students]
            self.learners_cache[course.index] = found
        return found

    def _learner(self, enrolment: Enrolment) -> Learner:
        student = self.students[enrolment.person - self.shape.teachers]
        return Learner(
            enrolment.index,
            enrolment.person,
            self.people[enrolment.person].user_id,
            student.ability,
            student.fade_day,
            ARCHETYPES[student.archetype],
        )


def build_roster(shape: TermShape) -> Roster:
    """The term's cast, identical for identical shapes."""
    rng = make_rng(shape.seed, "roster")
    people = _people(rng, shape.teachers + shape.students)
    courses = [_course(shape, index) for index in range(shape.courses)]
    _add_modules(rng, shape, courses)
    students = _students(rng, shape, shape.teachers)
    enrolments = _enrol(rng, shape, courses, students)
    teachers = list(range(shape.teachers))
    return Roster(shape, people, students, teachers, courses, enrolments)


def _people(rng: random.Random, count: int) -> list[Person]:
    people = []
    for index in range(count):
        first = FIRST_NAMES[int(rng.random() * len(FIRST_NAMES))]
        last = LAST_NAMES[int(rng.random() * len(LAST_NAMES))]
        user_id = str(100 + index)
        username = f"{first[0]}{last}{user_id}".lower()
        email = f"{username}@example.org"
        people.append(Person(index, user_id, username, f"{first} {last}", email))
    return people


def _course(shape: TermShape, index: int) -> Course:
    subject, code, category = SUBJECTS[index % len(SUBJECTS)]
    title, number, _ = LEVELS[(index // len(SUBJECTS)) % len(LEVELS)]
    copy = index // (len(SUBJECTS) * len(LEVELS))
    suffix = SECTION_COPIES[copy % len(SECTION_COPIES)] + (
        str(copy // len(SECTION_COPIES)) if copy >= len(SECTION_COPIES) else ""
    )
    term = f"{shape.start.year % 100:02d}{'S' if shape.start.month < 7 else 'F'}"
    return Course(
        index=index,
        course_id=str(100 + index),
        shortname=f"{code}{number}-{suffix}-{term}",
        fullname=title.format(subject) + (f" (section {suffix})" if copy else ""),
        category=category,
        total_item_id=str(1 + index),
    )


def _add_modules(rng: random.Random, shape: TermShape, courses: list[Course]) -> None:
    count = shape.modules_per_course
    next_module = 0
    next_item = len(courses) + 1
    for course in courses:
        rotation = int(rng.random() * len(MODULE_CYCLE))
        due_offset = (4, 6, 6, 2)[int(rng.random() * 4)]
        numbers = {"quiz": 0, "assign": 0}
        for position in range(count):
            kind = MODULE_CYCLE[(position + rotation) % len(MODULE_CYCLE)]
            week = position * shape.weeks // count
            item_id = None
            if kind in numbers:
                numbers[kind] += 1
                item_id = str(next_item)
                next_item += 1
            module = _module(
                rng,
                shape,
                course,
                kind,
                (next_module, position, week, due_offset),
                numbers.get(kind, 0),
                item_id,
            )
            course.modules.append(module)
            next_module += 1


def _module(
    rng: random.Random,
    shape: TermShape,
    course: Course,
    kind: str,
    place: tuple[int, int, int, int],
    number: int,
    item_id: str | None,
) -> Module:
    index, position, week, due_offset = place
    topic = TOPICS[int(rng.random() * len(TOPICS))]
    open_day = week * 7
    last_day = shape.days - 1
    common = {
        "index": index,
        "position": position,
        "module_id": str(1000 + index),
        "course": course.index,
        "modname": kind,
        "open_day": open_day,
    }
    if kind == "quiz":
        return Module(
            **common,  # type: ignore[arg-type]
            name=f"Quiz {number}: {topic}",
            tracked=True,
            due_day=min(last_day, open_day + due_offset),
            item_id=item_id,
            grademax=10.0,
            gradepass=(5.0, 6.0)[int(rng.random() * 2)],
            time_limit=(600, 900, 1200, 1500, 0)[int(rng.random() * 5)],
            max_attempts=(1, 2, 2, 3)[int(rng.random() * 4)],
        )
    if kind == "assign":
        return Module(
            **common,  # type: ignore[arg-type]
            name=f"Assignment {number}: {topic}",
            tracked=True,
            due_day=min(last_day, open_day + 7 + due_offset),
            item_id=item_id,
            grademax=100.0,
            gradepass=(50.0, 40.0)[int(rng.random() * 2)],
        )
    names = {
        "resource": f"Week {week + 1} slides: {topic}",
        "page": f"Week {week + 1} notes",
        "url": f"Further reading: {topic}",
        "forum": f"Week {week + 1} discussion",
    }
    return Module(
        **common,  # type: ignore[arg-type]
        name=names[kind],
        tracked=rng.random() < TRACKED_SHARE[kind],
        due_day=None,
        discussion_base=(index + 1) * 10,
    )


def _students(rng: random.Random, shape: TermShape, first: int) -> list[Student]:
    archetypes = _archetype_deck(rng, shape.students)
    early, late = drift_window(shape.days)
    weights = [level[2] for level in LEVELS]
    popularity = itertools.accumulate(
        weights[(index // len(SUBJECTS)) % len(LEVELS)] * (0.6 + 0.8 * rng.random())
        for index in range(shape.courses)
    )
    cumulative = list(popularity)
    students = []
    for offset, archetype in enumerate(archetypes):
        kind = ARCHETYPES[archetype]
        ability = min(0.99, max(0.15, rng.gauss(kind.ability, 0.08)))
        fade_day = None
        if kind.name == DRIFTING:
            fade_day = early + int(rng.random() * (late - early + 1))
        courses = _pick_courses(rng, shape, cumulative)
        students.append(Student(first + offset, archetype, ability, fade_day, courses))
    return students


def _archetype_deck(rng: random.Random, count: int) -> list[int]:
    """Exact shares, shuffled: a small term still has its drifters."""
    deck: list[int] = []
    for index, archetype in enumerate(ARCHETYPES[1:], start=1):
        deck.extend([index] * round(archetype.share * count))
    deck = deck[:count]
    deck.extend([0] * (count - len(deck)))
    rng.shuffle(deck)
    return deck


def _pick_courses(
    rng: random.Random, shape: TermShape, cumulative: list[float]
) -> tuple[int, ...]:
    """Distinct courses, popular ones (introductions) more often."""
    low, high = shape.min_courses_per_student, shape.max_courses_per_student
    wanted = min(shape.courses, low + int(rng.random() * (high - low + 1)))
    chosen: set[int] = set()
    while len(chosen) < wanted:
        chosen.add(bisect.bisect(cumulative, rng.random() * cumulative[-1]))
    return tuple(sorted(chosen))


def _enrol(
    rng: random.Random,
    shape: TermShape,
    courses: list[Course],
    students: list[Student],
) -> list[Enrolment]:
    low, high = ENROL_WINDOW
    enrolments: list[Enrolment] = []

    def add(person: int, course: Course, role: str) -> Enrolment:
        at = low + int(rng.random() * (high - low))
        enrolment = Enrolment(len(enrolments), person, course.index, role, at)
        enrolments.append(enrolment)
        return enrolment

    for course in courses:
        course.staff.append(
            add(course.index % shape.teachers, course, "editingteacher")
        )
        if shape.teachers > 1 and rng.random() < 0.3:
            other = (course.index + 1 + int(rng.random() * (shape.teachers - 1))) % (
                shape.teachers
            )
            course.staff.append(add(other, course, "teacher"))
    for student in students:
        for course_index in student.courses:
            course = courses[course_index]
            course.students.append(add(student.person, course, "student"))
    return enrolments
