"""Event payloads (SPEC §2.1): validation, deterministic ids and IP privacy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import pytest
from pydantic import ValidationError

from ssea_core.ingest.events import compute_event_id, prepare_event
from ssea_core.ingest.models import MAX_METADATA_BYTES, EventIn

TENANT = UUID("11111111-1111-1111-1111-111111111111")
OTHER_TENANT = UUID("22222222-2222-2222-2222-222222222222")
MOMENT = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def event(**fields: Any) -> EventIn:
    payload: dict[str, Any] = {
        "event_type": "course_viewed",
        "user_id": "42",
        "course_id": "7",
        "timestamp": "2026-03-01T10:00:00Z",
    }
    payload.update(fields)
    return EventIn.model_validate(payload)


def failing_fields(**fields: Any) -> set[str]:
    with pytest.raises(ValidationError) as caught:
        event(**fields)
    return {".".join(map(str, error["loc"])) for error in caught.value.errors()}


@pytest.mark.parametrize(
    "timestamp",
    [
        int(MOMENT.timestamp()),
        float(MOMENT.timestamp()),
        "2026-03-01T10:00:00Z",
        "2026-03-01T10:00:00+00:00",
        "2026-03-01T12:00:00+02:00",
        "2026-03-01T05:00:00-05:00",
    ],
)
def test_timestamps_in_unix_seconds_or_iso_are_utc(timestamp: object) -> None:
    parsed = event(timestamp=timestamp).timestamp

    assert parsed == MOMENT
    assert parsed.utcoffset() == timedelta(0)


def test_naive_times_are_utc() -> None:
    parsed = event(timestamp="2026-03-01T10:00:00").timestamp

    assert parsed.tzinfo is not None
    assert parsed == MOMENT


def test_an_aware_datetime_is_converted_to_utc() -> None:
    local = MOMENT.astimezone(timezone(timedelta(hours=9)))

    parsed = event(timestamp=local).timestamp

    assert parsed == MOMENT
    assert parsed.utcoffset() == timedelta(0)
    assert parsed.hour == 10


def test_a_timestamp_that_is_not_a_time_is_refused() -> None:
    assert failing_fields(timestamp="yesterday") == {"timestamp"}


def test_metadata_up_to_16_kib_is_accepted_and_larger_refused() -> None:
    overhead = len('{"k":""}')  # the compact JSON around the value
    fits = {"k": "x" * (MAX_METADATA_BYTES - overhead)}
    too_big = {"k": "x" * (MAX_METADATA_BYTES - overhead + 1)}

    assert event(metadata=fits).metadata == fits
    assert failing_fields(metadata=too_big) == {"metadata"}


def test_multibyte_metadata_is_measured_in_bytes() -> None:
    # 6000 characters of 3 bytes each is 18000 bytes once encoded.
    assert failing_fields(metadata={"k": "€" * 6000}) == {"metadata"}


def test_unknown_fields_are_refused() -> None:
    assert failing_fields(colour="blue") == {"colour"}


@pytest.mark.parametrize("field", ["event_type", "user_id", "timestamp"])
def test_required_fields(field: str) -> None:
    payload = {
        "event_type": "course_viewed",
        "user_id": "42",
        "timestamp": "2026-03-01T10:00:00Z",
    }
    del payload[field]

    with pytest.raises(ValidationError) as caught:
        EventIn.model_validate(payload)

    assert [error["loc"] for error in caught.value.errors()] == [(field,)]


def test_integer_ids_become_strings() -> None:
    parsed = event(
        user_id=42, course_id=7, module_id=9, moodle_log_id=123, real_user_id=2
    )

    assert (parsed.user_id, parsed.course_id, parsed.module_id) == ("42", "7", "9")
    assert (parsed.moodle_log_id, parsed.real_user_id) == ("123", "2")


@pytest.mark.parametrize(
    "field", ["user_id", "course_id", "module_id", "moodle_log_id", "real_user_id"]
)
def test_booleans_are_not_ids(field: str) -> None:
    assert failing_fields(**{field: True}) == {field}


def test_ids_are_stripped() -> None:
    parsed = event(user_id=" 42 ", course_id="\t7\n")

    assert (parsed.user_id, parsed.course_id) == ("42", "7")


@pytest.mark.parametrize("bad", ["", "   ", "x" * 65])
def test_ids_are_one_to_64_characters(bad: str) -> None:
    assert failing_fields(user_id=bad) == {"user_id"}


def test_event_types_are_lowercase_identifiers() -> None:
    assert failing_fields(event_type="Course Viewed") == {"event_type"}


def test_the_same_event_twice_gets_the_same_id() -> None:
    first = compute_event_id(TENANT, event(metadata={"b": 1, "a": [1, 2]}))
    # Same instant in another notation, ids as numbers, keys in another order.
    again = compute_event_id(
        TENANT,
        event(
            timestamp=int(MOMENT.timestamp()),
            user_id=42,
            course_id=7,
            metadata={"a": [1, 2], "b": 1},
        ),
    )

    assert first == again
    assert first.startswith("evt_")
    assert len(first) == len("evt_") + 32


@pytest.mark.parametrize(
    "change",
    [
        {"event_type": "page_viewed"},
        {"user_id": "43"},
        {"course_id": "8"},
        {"course_id": None},
        {"module_id": "5"},
        {"timestamp": "2026-03-01T10:00:00.000001Z"},
        {"real_user_id": "2"},
        {"metadata": {"a": 1}},
    ],
)
def test_each_identifying_field_changes_the_id(change: dict[str, Any]) -> None:
    assert compute_event_id(TENANT, event(**change)) != compute_event_id(
        TENANT, event()
    )


def test_the_moodle_log_id_takes_precedence() -> None:
    one = event(moodle_log_id=9001)
    # Everything else differs, but it is the same row of Moodle's log.
    same_log = event(
        moodle_log_id="9001",
        event_type="page_viewed",
        user_id="5",
        timestamp="2026-01-01T00:00:00Z",
    )
    other_log = event(moodle_log_id=9002)

    assert compute_event_id(TENANT, one) == compute_event_id(TENANT, same_log)
    assert compute_event_id(TENANT, one) != compute_event_id(TENANT, other_log)
    assert compute_event_id(TENANT, one) != compute_event_id(TENANT, event())


@pytest.mark.parametrize("fields", [{}, {"moodle_log_id": 9001}])
def test_the_tenant_changes_the_id(fields: dict[str, Any]) -> None:
    same = event(**fields)

    assert compute_event_id(TENANT, same) != compute_event_id(OTHER_TENANT, same)


def test_origin_and_ip_do_not_change_the_id() -> None:
    plain = compute_event_id(TENANT, event())
    noisy = compute_event_id(TENANT, event(origin="ws", ip="10.1.2.3"))

    assert plain == noisy


def test_the_ip_is_never_kept() -> None:
    ip = "203.0.113.9"

    prepared = prepare_event(TENANT, event(ip=ip))

    assert event(ip=ip).ip == ip  # it was read...
    assert ip not in repr(prepared)  # ...and is gone from what gets stored
    assert not any(ip in str(value) for value in vars_of(prepared).values())


def vars_of(prepared: object) -> dict[str, object]:
    values: dict[str, object] = prepared._asdict()  # type: ignore[attr-defined]
    assert values  # an empty dict would make the check above vacuous
    return values


def test_a_prepared_event_keeps_what_was_sent() -> None:
    source = event(module_id=3, metadata={"k": 1}, moodle_log_id=5, origin="web")

    prepared = prepare_event(TENANT, source)

    assert prepared.event_id == compute_event_id(TENANT, source)
    assert prepared.occurred_at == MOMENT
    assert (prepared.user_id, prepared.course_id, prepared.module_id) == (
        "42",
        "7",
        "3",
    )
    assert prepared.metadata == {"k": 1}
    assert (prepared.moodle_log_id, prepared.origin) == ("5", "web")
    assert prepared.counted is True


def test_exclusion_reasons_name_why_an_event_is_not_the_users_own() -> None:
    from ssea_core.ingest.service import exclusion_reason
    from ssea_core.settings import Settings

    settings = Settings()
    base = {"event_type": "course_viewed", "timestamp": "2026-03-01T10:00:00Z"}

    def reason(**fields: object) -> str | None:
        return exclusion_reason(EventIn.model_validate({**base, **fields}), settings)

    assert reason(user_id="7") is None
    assert reason(user_id="7", real_user_id="7") is None
    assert reason(user_id="7", real_user_id="2") == "logged_in_as"
    assert reason(user_id="7", origin="cli") == "origin_cli"
    assert reason(user_id="7", origin="restore") == "origin_restore"
    assert reason(user_id="7", origin="web") is None
    assert reason(user_id="0") == "no_user"
    assert reason(user_id="2") == "site_admin"
    assert reason(user_id="7", event_type="grade_updated") == "passive"
    assert reason(user_id="7", event_type="user_enrolled") == "passive"
    relaxed = Settings(site_admin_user_ids=[], exclude_logged_in_as=False)
    assert (
        exclusion_reason(
            EventIn.model_validate({**base, "user_id": "2", "real_user_id": "9"}),
            relaxed,
        )
        is None
    )


#: Payloads each model must judge alike: the API's model (EventIn) and the dict the
#: batch path validates into (EventFields).
SAME_VERDICT: list[dict[str, Any]] = [
    {},
    {"user_id": 0},
    {"user_id": True},
    {"user_id": " 42 "},
    {"user_id": ""},
    {"user_id": "x" * 65},
    {"course_id": None, "module_id": None},
    {"course_id": 7.5},
    {"event_type": "Course Viewed"},
    {"timestamp": "yesterday"},
    {"timestamp": 1772359200},
    {"timestamp": "2026-03-01T12:00:00+02:00"},
    {"metadata": None},
    {"metadata": []},
    {"metadata": {"k": [1, 2, {"x": None}]}},
    {"metadata": {"k": "é" * (MAX_METADATA_BYTES // 2)}},
    {"moodle_log_id": 5, "real_user_id": "2", "origin": "web"},
    {"origin": "x" * 33},
    {"ip": "203.0.113.9"},
    {"ip": "1" * 65},
    {"surprise": 1},
]


@pytest.mark.parametrize("change", SAME_VERDICT)
def test_the_batch_fields_judge_like_the_model(change: dict[str, Any]) -> None:
    from pydantic import TypeAdapter

    from ssea_core.ingest.events import prepare_fields
    from ssea_core.ingest.models import EventFields

    payload: dict[str, Any] = {
        "event_type": "course_viewed",
        "user_id": "42",
        "timestamp": "2026-03-01T10:00:00Z",
        **change,
    }
    try:
        model = EventIn.model_validate(payload)
    except ValidationError as refused:
        with pytest.raises(ValidationError) as caught:
            TypeAdapter(EventFields).validate_python(payload)
        locations = {error["loc"] for error in refused.errors()}
        assert {error["loc"] for error in caught.value.errors()} == locations
        return
    fields = TypeAdapter(EventFields).validate_python(payload)

    assert prepare_fields(str(TENANT), fields) == prepare_event(TENANT, model)
    assert prepare_fields(str(TENANT), fields, "site_admin") == prepare_event(
        TENANT, model
    )._replace(counted=False, excluded_because="site_admin")
