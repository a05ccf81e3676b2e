"""Ingest payloads (SPEC §2): one event, a batch, and the six catalogue entities.

Moodle ids arrive as numbers or strings and are kept as strings. Times are ISO-8601 or
Unix seconds; naive times are UTC. Unknown fields are a validation error everywhere.

:class:`EventIn` is the event as the API documents it; :class:`EventFields` is the same
fields as a plain dict, built from the same annotated types, which is what a batch is
validated into (pydantic makes a dict several times faster than a model instance).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal, NotRequired

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    with_config,
)
from typing_extensions import TypedDict  # pydantic needs this one before 3.12

MAX_BATCH = 500
MAX_METADATA_BYTES = 16 * 1024

#: The 15 Moodle events the plugin observes map onto these 13 types (SPEC §2.2),
#: plus the two generic types importers use so that nothing a site logs is lost.
STANDARD_EVENT_TYPES: frozenset[str] = frozenset(
    {
        "user_login",
        "user_logout",
        "user_enrolled",
        "course_viewed",
        "resource_viewed",
        "page_viewed",
        "quiz_attempted",
        "quiz_submitted",
        "assignment_submitted",
        "forum_post_created",
        "grade_updated",
        "grade_item_updated",
        "course_completed",
        "module_completed",
        "module_viewed",
        "other",
    }
)


def _id_text(value: Any) -> Any:
    if type(value) is str:
        # Stripped here, before the length is checked, so "   " is no id.
        return value.strip()
    if isinstance(value, bool):
        raise ValueError("an id must be a string or an integer, not a boolean")
    if isinstance(value, int):
        return str(value)
    return value


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _date_as_midnight(value: Any) -> Any:
    if isinstance(value, str) and len(value.strip()) == 10:
        value = date.fromisoformat(value.strip())
    if isinstance(value, date) and not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return value


#: A point in time: ISO date-time, ISO date (midnight UTC) or Unix seconds.
#: Naive times are UTC.
Instant = Annotated[datetime, BeforeValidator(_date_as_midnight), AfterValidator(_utc)]


# The constraints stand inside the BeforeValidator so that pydantic checks them in
# its core, on the text _id_text made, rather than in Python.
MoodleId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64),
    BeforeValidator(_id_text),
]
EventType = Annotated[
    str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$", strip_whitespace=True)
]
ShortText = Annotated[str, StringConstraints(max_length=255)]


def _metadata_small(value: dict[str, Any]) -> dict[str, Any]:
    # JSON is at most 12 bytes per character of repr (an escaped surrogate pair), so
    # most metadata is proven small without encoding it.
    if len(repr(value)) * 12 <= MAX_METADATA_BYTES:
        return value
    size = len(json.dumps(value, separators=(",", ":"), default=str).encode())
    if size > MAX_METADATA_BYTES:
        raise ValueError(
            f"metadata is {size} bytes encoded; at most {MAX_METADATA_BYTES}"
        )
    return value


Metadata = Annotated[dict[str, Any], AfterValidator(_metadata_small)]
Origin = Annotated[str, StringConstraints(max_length=32)]
IpText = Annotated[str, StringConstraints(max_length=64)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EventIn(_Strict):
    """One activity event as the plugin sends it (SPEC §2.1)."""

    event_type: EventType
    user_id: MoodleId
    course_id: MoodleId | None = None
    module_id: MoodleId | None = None
    timestamp: Instant
    metadata: Metadata = Field(default_factory=dict)
    moodle_log_id: MoodleId | None = None
    real_user_id: MoodleId | None = None
    origin: Origin | None = None
    ip: IpText | None = None


@with_config(ConfigDict(extra="forbid"))
class EventFields(TypedDict):
    """:class:`EventIn`'s fields and rules as a plain dict; absent options stay absent.

    A test checks that both accept and refuse the same payloads.
    """

    event_type: EventType
    user_id: MoodleId
    course_id: NotRequired[MoodleId | None]
    module_id: NotRequired[MoodleId | None]
    timestamp: Instant
    metadata: NotRequired[Metadata]
    moodle_log_id: NotRequired[MoodleId | None]
    real_user_id: NotRequired[MoodleId | None]
    origin: NotRequired[Origin | None]
    ip: NotRequired[IpText | None]


class EventBatchIn(_Strict):
    """The body of ``POST /v1/events/batch``; events are validated one by one later."""

    events: list[Any] = Field(min_length=1, max_length=MAX_BATCH)


class SyncBatchIn(_Strict):
    """The body of ``POST /v1/sync/{entity}``."""

    items: list[Any] = Field(min_length=1, max_length=MAX_BATCH)


class _SyncItem(_Strict):
    deleted: bool = False


class UserItem(_SyncItem):
    user_id: MoodleId
    username: ShortText | None = None
    full_name: ShortText | None = None
    email: ShortText | None = None
    suspended: bool = False


class CourseItem(_SyncItem):
    course_id: MoodleId
    shortname: ShortText | None = None
    fullname: ShortText | None = None
    category: ShortText | None = None
    start_date: Instant | None = None
    end_date: Instant | None = None
    visible: bool = True


class ModuleItem(_SyncItem):
    module_id: MoodleId
    course_id: MoodleId | None = None
    modname: ShortText | None = None
    name: ShortText | None = None
    completion_enabled: bool = False
    due_date: Instant | None = None
    visible: bool = True


EnrolmentRole = Literal["student", "teacher", "editingteacher", "manager"]


class EnrolmentItem(_SyncItem):
    user_id: MoodleId
    course_id: MoodleId
    role: EnrolmentRole
    status: Literal["active", "suspended"] = "active"
    time_start: Instant | None = None
    time_end: Instant | None = None


class GradeItem(_SyncItem):
    user_id: MoodleId
    course_id: MoodleId
    item_id: MoodleId
    item_name: ShortText | None = None
    item_type: ShortText | None = None
    finalgrade: float | None = None
    grademin: float = 0.0
    grademax: float = 100.0
    gradepass: float | None = None
    graded_at: Instant | None = None


CompletionState = Literal["incomplete", "complete", "complete_pass", "complete_fail"]


class CompletionItem(_SyncItem):
    user_id: MoodleId
    course_id: MoodleId
    module_id: MoodleId | None = None
    state: CompletionState | None = Field(default=None, validate_default=True)
    completed_at: Instant | None = None

    @field_validator("state", mode="after")
    @classmethod
    def _state_unless_deleted(
        cls, value: CompletionState | None, info: ValidationInfo
    ) -> CompletionState | None:
        # A deletion is the key alone (SPEC §2); every other item needs its state.
        if value is None and not info.data.get("deleted", False):
            raise ValueError("a completion needs a state unless it is deleted")
        return value


SyncEntity = Literal[
    "users", "courses", "modules", "enrolments", "grades", "completions"
]

SYNC_MODELS: dict[str, type[_SyncItem]] = {
    "users": UserItem,
    "courses": CourseItem,
    "modules": ModuleItem,
    "enrolments": EnrolmentItem,
    "grades": GradeItem,
    "completions": CompletionItem,
}

#: The key fields of each entity, in order: a later item with the same key replaces it.
SYNC_KEYS: dict[str, tuple[str, ...]] = {
    "users": ("user_id",),
    "courses": ("course_id",),
    "modules": ("module_id",),
    "enrolments": ("user_id", "course_id", "role"),
    "grades": ("user_id", "course_id", "item_id"),
    "completions": ("user_id", "course_id", "module_id"),
}
