"""xAPI statements as Moodle's xAPI log store emits them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ssea_core.importers import XapiSource
from ssea_core.importers.xapi import actor_id, type_from_verb
from ssea_core.ingest.models import EventIn

INFO = "http://lrs.learninglocker.net/define/extensions/info"


def statement(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "6f0b3b4e-7c8a-4a52-9d8e-0f1c2b3a4d5e",
        "timestamp": "2015-06-10T14:31:41.000Z",
        "actor": {"account": {"homePage": "http://moodle.test", "name": "7"}},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"},
        "object": {
            "id": "http://moodle.test/mod/quiz/attempt.php?attempt=1&cmid=9",
            "definition": {"type": "http://adlnet.gov/expapi/activities/attempt"},
        },
        "context": {
            "contextActivities": {
                "grouping": [{"id": "http://moodle.test/course/view.php?id=42"}],
                "category": [{"id": "http://moodle.test"}],
            },
            "extensions": {
                INFO: {"event_name": "\\mod_quiz\\event\\attempt_submitted"}
            },
        },
        "result": {"score": {"raw": 5, "min": 0, "max": 10, "scaled": 0.5}},
    }
    base.update(changes)
    return base


def read(source: XapiSource) -> list[dict[str, Any]]:
    found = [item for item in source if isinstance(item, dict)]
    for event in found:
        EventIn.model_validate(event)
    assert source.tally.accounted
    return found


def test_a_quiz_submission() -> None:
    (event,) = read(XapiSource([statement()]))

    assert event == {
        "event_type": "quiz_submitted",
        "user_id": "7",
        "course_id": "42",
        "module_id": "9",
        "timestamp": "2015-06-10T14:31:41+00:00",
        "moodle_log_id": "xapi:6f0b3b4e-7c8a-4a52-9d8e-0f1c2b3a4d5e",
        "metadata": {
            "verb": "http://adlnet.gov/expapi/verbs/completed",
            "object_id": "http://moodle.test/mod/quiz/attempt.php?attempt=1&cmid=9",
            "object_type": "http://adlnet.gov/expapi/activities/attempt",
            "moodle_event": "\\mod_quiz\\event\\attempt_submitted",
            "score": {"raw": 5, "min": 0, "max": 10, "scaled": 0.5},
        },
    }


def test_without_event_name_the_verb_and_type_decide() -> None:
    plain = statement(context={}, verb={"id": "http://id.tincanapi.com/verb/viewed"})
    plain["object"] = {
        "id": "http://moodle.test/course/view.php?id=42",
        "definition": {"type": "https://w3id.org/xapi/cmi5/activitytype/course"},
    }

    (event,) = read(XapiSource([plain]))

    assert (event["event_type"], event["course_id"]) == ("course_viewed", "42")


@pytest.mark.parametrize(
    ("verb", "object_type", "expected"),
    [
        ("viewed", "course", "course_viewed"),
        ("viewed", "file", "resource_viewed"),
        ("viewed", "webpage", "page_viewed"),
        ("viewed", "forum", "module_viewed"),
        ("login", "lms", "user_login"),
        ("logout", "lms", "user_logout"),
        ("registered", "course", "user_enrolled"),
        ("launched", "assessment", "quiz_attempted"),
        ("completed", "attempt", "quiz_submitted"),
        ("completed", "course", "course_completed"),
        ("completed", "lesson", "module_completed"),
        ("submit", "submission", "assignment_submitted"),
        ("replied", "forum-reply", "forum_post_created"),
        ("scored", "assessment", "grade_updated"),
        ("bookmarked", "page", "other"),
    ],
)
def test_verb_and_type(verb: str, object_type: str, expected: str) -> None:
    assert type_from_verb(verb, object_type) == expected


def test_actors() -> None:
    mbox_hash = "sha1:" + "a" * 40

    assert actor_id({"account": {"name": "12"}}) == "12"
    assert actor_id({"mbox_sha1sum": "A" * 40}) == mbox_hash
    hashed = actor_id({"mbox": "mailto:someone@example.org"})
    assert hashed is not None
    assert hashed.startswith("sha1:")
    assert "example" not in hashed
    assert actor_id({"openid": "http://x"}) is None
    assert actor_id("nobody") is None


def test_skips_have_reasons() -> None:
    source = XapiSource(
        [
            statement(timestamp=None),
            statement(actor={"name": "no account"}),
            statement(verb={"id": "http://adlnet.gov/expapi/verbs/voided"}),
            {"case": "not a statement"},
            statement(timestamp=None, stored="2015-06-10T14:31:41Z"),
        ]
    )

    found = read(source)

    assert len(found) == 1
    assert source.tally.skipped == {
        "no_timestamp": 1,
        "no_user_id": 1,
        "voiding_statement": 1,
        "not_a_statement": 1,
    }


def test_statements_without_id_get_a_stable_identity() -> None:
    bare = statement()
    del bare["id"]

    first = read(XapiSource([bare]))
    second = read(XapiSource([json.loads(json.dumps(bare))]))

    assert first[0]["moodle_log_id"] == second[0]["moodle_log_id"]
    assert first[0]["moodle_log_id"].startswith("xapi:")


def test_site_course_is_site_level() -> None:
    site = statement()
    site["context"]["contextActivities"]["grouping"] = [
        {"id": "http://moodle.test/course/view.php?id=1"}
    ]

    (event,) = read(XapiSource([site]))

    assert "course_id" not in event


@pytest.mark.parametrize("layout", ["array", "lrs", "lines"])
def test_file_layouts(tmp_path: Path, layout: str) -> None:
    statements = [statement(id=f"id-{n}") for n in range(3)]
    path = tmp_path / "statements.json"
    if layout == "array":
        path.write_text(json.dumps(statements))
    elif layout == "lrs":
        path.write_text(json.dumps({"statements": statements, "more": ""}))
    else:
        path.write_text("\n".join(json.dumps(s) for s in statements))

    found = read(XapiSource(path))

    assert [e["moodle_log_id"] for e in found] == [
        "xapi:id-0",
        "xapi:id-1",
        "xapi:id-2",
    ]


def test_flat_csv_export(tmp_path: Path) -> None:
    path = tmp_path / "flat.csv"
    path.write_text(
        "timestamp,Email,ACTION_VERB,OBJECT_ID,OBJECT_TYPE,RelatedActivities,Context\n"
        f"2022-01-31 22:59:03+00:00,{'b' * 40},viewed,https://m.test/mod/page/view.php?id=5,"
        "http://activitystrea.ms/page,\"['https://m.test/course/view.php?id=8']\","
        "\\mod_page\\event\\course_module_viewed\n"
    )

    (event,) = read(XapiSource(path))

    assert event["event_type"] == "page_viewed"
    assert (event["user_id"], event["course_id"], event["module_id"]) == (
        "sha1:" + "b" * 40,
        "8",
        "5",
    )
