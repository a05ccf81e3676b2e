"""The six report types of SPEC §7: their columns, in order, with their meaning.

A report is a table. Its CSV header and the keys of each JSON object are exactly the
column names listed here, in this order; ``docs/reports.md`` explains each one further
(a test keeps the two in step). Percentages are 0 to 100 with one decimal and null
when their denominator is 0; minutes have one decimal; days are UTC days.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast, get_args

ReportType = Literal[
    "retention_cohort",
    "activity_funnel",
    "teacher_course_health",
    "student_learning_profile",
    "assessment_performance",
    "early_warning_summary",
]
ReportFormat = Literal["csv", "json"]
ColumnType = Literal["string", "integer", "number", "boolean", "date", "datetime"]

REPORT_TYPES: tuple[ReportType, ...] = get_args(ReportType)
CONTENT_TYPES: dict[ReportFormat, str] = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
}
#: Below this share of tracked modules completed, a student counts as low completion.
LOW_COMPLETION_PCT = 50


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a report: its name, its type and, in a line, what it holds."""

    name: str
    type: ColumnType
    description: str


@dataclass(frozen=True, slots=True)
class ReportDefinition:
    """A report type: what one row is and its columns in order."""

    report_type: ReportType
    row: str
    columns: tuple[Column, ...]

    @property
    def names(self) -> tuple[str, ...]:
        """The column names in order."""
        return tuple(column.name for column in self.columns)


def _columns(table: str) -> tuple[Column, ...]:
    """Columns from a table of lines ``name  type  description``."""
    columns = []
    for line in table.split("\n"):
        if not line.strip():
            continue
        name, kind, description = line.split(maxsplit=2)
        if kind not in get_args(ColumnType):
            raise ValueError(f"column {name}: unknown type {kind}")
        columns.append(Column(name, cast(ColumnType, kind), description))
    return tuple(columns)


def _define(report_type: ReportType, row: str, table: str) -> ReportDefinition:
    return ReportDefinition(report_type, row, _columns(table))


_COURSE = """
course_id       string   Moodle course id.
shortname       string   Course short name (null when the course is not synced).
fullname        string   Course full name (null when the course is not synced).
"""

RETENTION_COHORT = _define(
    "retention_cohort",
    "one cohort (the week its enrolments started) and one week since enrolment",
    """
cohort_week     date     Monday (UTC) of the week the members' enrolments started.
cohort_size     integer  Student enrolments that started that week.
week            integer  Weeks since each member's own enrolment day, from 0.
observed        integer  Members whose week `week` ended before the as-of day.
active          integer  Observed members with activity in their course that week.
retention_pct   number   active / observed, in percent.
""",
)
ACTIVITY_FUNNEL = _define(
    "activity_funnel",
    "one module of a course",
    """
course_id         string   Moodle course id.
course_shortname  string   Course short name.
module_id         string   Moodle course module id.
module_name       string   Module name.
modname           string   Module type (quiz, assign, page...).
tracked           boolean  Completion tracking is on and the module is visible.
enrolled          integer  Students: active enrolments with role student.
active_in_course  integer  Students with activity in the course in the period.
started           integer  Students with any completion state for the module.
completed         integer  Students in state complete, complete_pass or complete_fail.
passed            integer  Students in state complete_pass.
failed            integer  Students in state complete_fail.
started_pct       number   started / enrolled, in percent.
completed_pct     number   completed / enrolled, in percent.
passed_pct        number   passed / enrolled, in percent.
""",
)
TEACHER_COURSE_HEALTH = _define(
    "teacher_course_health",
    "one course",
    _COURSE
    + """
teachers               integer  Active enrolments with role teacher or editingteacher.
enrolled               integer  Students: active enrolments with role student.
active_7d              integer  Students with activity in the 7 days ending date_to.
active_30d             integer  Students with activity in the 30 days ending date_to.
active_in_period       integer  Students with activity in the period.
events                 integer  Students' counted events in the course in the period.
avg_time_mins          number   Students' minutes in the course / active_in_period.
completion_pct         number   Completed tracked modules / (enrolled x tracked).
course_completion_pct  number   Students who completed the course / enrolled.
avg_grade_pct          number   Students' mean grade: course total, else every item.
at_risk_count          integer  Students whose stored course risk is high or critical.
""",
)
STUDENT_LEARNING_PROFILE = _define(
    "student_learning_profile",
    "one student's enrolment in one course",
    """
user_id           string    Moodle user id.
username          string    Username (null when the user is not synced).
full_name         string    Full name (null when the user is not synced).
course_id         string    Moodle course id.
course_shortname  string    Course short name.
status            string    Enrolment status: active or suspended.
enrolled_at       datetime  When the enrolment started (time_start).
events            integer   Counted events in the course in the period.
active_days       integer   UTC days with activity in the course in the period.
sessions          integer   Sessions started in the course in the period.
time_mins         number    Minutes spent in the course in the period.
last_active_day   date      Last UTC day with activity in the course, up to date_to.
grade_pct         number    Course total grade, else the mean of item grades.
completion_pct    number    Completed tracked modules / tracked modules.
course_completed  boolean   The whole course is complete.
risk_score        number    The stored risk score in the course (null: none).
risk_level        string    The stored risk level in the course (null: none).
""",
)
ASSESSMENT_PERFORMANCE = _define(
    "assessment_performance",
    "one grade item",
    """
course_id         string   Moodle course id.
course_shortname  string   Course short name.
item_id           string   Grade item id.
item_name         string   Grade item name.
item_type         string   Grade item type (mod, course, manual...).
grademin          number   Lowest grade of the item.
grademax          number   Highest grade of the item.
gradepass         number   Pass mark (null: none).
graded            integer  Final grades given (in the window when one is given).
avg_pct           number   Mean grade, in percent of the item's range.
median_pct        number   Median grade, in percent.
min_pct           number   Lowest grade, in percent.
max_pct           number   Highest grade, in percent.
passed            integer  Grades at or above the pass mark (null: no pass mark).
pass_rate         number   passed / graded, in percent (null: no pass mark).
late_submissions  integer  Late submissions: null, not known from the catalogue.
""",
)
EARLY_WARNING_SUMMARY = _define(
    "early_warning_summary",
    "one course",
    _COURSE
    + """
enrolled          integer  Students: active enrolments with role student.
inactive_0_7      integer  Students last active 0 to 7 days before date_to.
inactive_8_14     integer  Students last active 8 to 14 days before date_to.
inactive_15_30    integer  Students last active 15 to 30 days before date_to.
inactive_over_30  integer  Students last active more than 30 days before date_to.
never_active      integer  Students never active in the course up to date_to.
failing_grade     integer  Students with a grade under its pass mark.
low_completion    integer  Students under 50 % of tracked modules completed.
risk_low          integer  Students whose stored course risk is low.
risk_medium       integer  Students whose stored course risk is medium.
risk_high         integer  Students whose stored course risk is high.
risk_critical     integer  Students whose stored course risk is critical.
""",
)

REPORTS: dict[ReportType, ReportDefinition] = {
    definition.report_type: definition
    for definition in (
        RETENTION_COHORT,
        ACTIVITY_FUNNEL,
        TEACHER_COURSE_HEALTH,
        STUDENT_LEARNING_PROFILE,
        ASSESSMENT_PERFORMANCE,
        EARLY_WARNING_SUMMARY,
    )
}
