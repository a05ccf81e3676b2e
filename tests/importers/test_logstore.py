"""logstore_standard_log rows: PHP ``other``, MySQL dumps, CSV dumps, live rows."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import pytest

from ssea_core.importers import ImportFormatError, LogstoreSource, SyncItem
from ssea_core.importers.mysql_dump import DumpFormatError, dump_rows, parse_values
from ssea_core.importers.php import PhpFormatError, unserialize
from ssea_core.ingest.models import EventIn
from tests.importers.samples import DUMP

# -- PHP unserialize ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("N;", None),
        ("b:1;", True),
        ("i:-12;", -12),
        ("d:0.5;", 0.5),
        ('s:6:"héllo";', "héllo"),  # lengths are bytes, as PHP counts them
        ('s:3:"a;b";', "a;b"),
        ('a:1:{s:8:"username";s:5:"admin";}', {"username": "admin"}),
        ('a:2:{i:0;s:1:"x";i:1;N;}', ["x", None]),
        ('a:2:{i:1;s:1:"x";i:5;b:0;}', {"1": "x", "5": False}),
        ('a:1:{s:1:"a";a:1:{s:1:"b";i:2;}}', {"a": {"b": 2}}),
        ('O:8:"stdClass":1:{s:1:"a";i:1;}', {"a": 1}),
        ("a:0:{}", []),
    ],
)
def test_php_unserialize(text: str, expected: Any) -> None:
    assert unserialize(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        's:5:"héllo";',  # six bytes: a length of five misses the quote
        's:9:"short";',
        "a:1:{i:0;}",
        "x:1;",
        "i:abc;",
        'a:1:{s:1:"a";i:1;',
        "N;N;",
        "r:1;",
    ],
)
def test_php_unserialize_refuses_what_it_cannot_read(text: str) -> None:
    with pytest.raises(PhpFormatError):
        unserialize(text)


# -- MySQL dump ---------------------------------------------------------------------


def test_mysql_escapes_and_literals() -> None:
    body = r"1, 'it\'s', 'a\\b', 'two''quotes', 'line\nnext', NULL, -3.5, 0x4142, ''"

    assert parse_values(body) == [
        1,
        "it's",
        "a\\b",
        "two'quotes",
        "line\nnext",
        None,
        -3.5,
        "AB",
        "",
    ]


def test_dump_rows_of_wanted_tables_only() -> None:
    rows = list(
        dump_rows(DUMP.splitlines(keepends=True), {"mdl_modules", "mdl_config"})
    )

    assert rows[0] == (
        "mdl_config",
        {
            "id": 1,
            "value": "a; tricky 'value' with (parens) and\na newline; still inside",
        },
    )
    assert [table for table, _ in rows] == ["mdl_config", "mdl_config", "mdl_modules"]


def test_insert_without_columns_and_without_create_is_an_error() -> None:
    with pytest.raises(DumpFormatError, match="without a column list"):
        list(dump_rows(["INSERT INTO `t` VALUES (1);\n"], {"t"}))


@pytest.fixture
def dump(tmp_path: Path) -> Path:
    path = tmp_path / "moodle.sql.gz"
    path.write_bytes(gzip.compress(DUMP.encode()))
    return path


def read(source: LogstoreSource) -> tuple[list[dict[str, Any]], list[SyncItem]]:
    items = list(source)
    found = [item for item in items if isinstance(item, dict)]
    for event in found:
        EventIn.model_validate(event)
    assert source.tally.accounted
    return found, [item for item in items if isinstance(item, SyncItem)]


def test_dump_events(dump: Path) -> None:
    source = LogstoreSource(dump)

    found, _ = read(source)

    login, front_page, page, failed, course = found
    assert login["event_type"] == "user_login"
    assert login["moodle_log_id"] == "1"
    assert login["timestamp"] == "2015-06-23T10:20:30+00:00"
    assert "course_id" not in login  # courseid 0, system context
    assert "other" not in login["metadata"]  # only a username, which is dropped
    assert login["ip"] == "0:0:0:0:0:0:0:1"
    assert (front_page["user_id"], "course_id" in front_page) == ("0", False)
    assert page["event_type"] == "page_viewed"
    assert (page["course_id"], page["module_id"], page["real_user_id"]) == (
        "3",
        "12",
        "2",
    )
    assert page["metadata"]["other"] == {"content": "it's; fine"}
    assert failed["metadata"]["other"] == {"reason": 3}
    assert "secret" not in str(failed)
    assert course["user_id"] == "1"  # the guest account keeps its id
    assert course["metadata"]["other_raw"] == "not php at all"
    assert source.tally.notes["undecodable_other"] == 1


def test_dump_catalogue(dump: Path) -> None:
    source = LogstoreSource(dump)

    _, items = read(source)

    assert [(i.entity, i.item) for i in items] == [
        (
            "courses",
            {
                "course_id": "3",
                "shortname": "M101",
                "fullname": "Maths '101'",
                "category": "2",
                "start_date": "2015-06-24T17:00:00+00:00",
                "visible": False,
            },
        ),
        (
            "modules",
            {
                "module_id": "12",
                "course_id": "3",
                "modname": "page",
                "completion_enabled": True,
                "visible": True,
            },
        ),
        (
            "enrolments",
            {
                "user_id": "5",
                "course_id": "3",
                "role": "student",
                "status": "active",
                "time_start": "2015-06-24T17:00:00+00:00",
            },
        ),
        (
            "enrolments",
            {
                "user_id": "2",
                "course_id": "3",
                "role": "editingteacher",
                "status": "suspended",
            },
        ),
    ]
    assert source.tally.notes["enrolment_without_role"] == 1
    assert source.tally.rows_read == 5 + 16


def test_csv_dump_with_mysql_nulls(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text(
        "id,eventname,userid,courseid,relateduserid,contextlevel,timecreated,other\n"
        "7,\\core\\event\\course_viewed,4,3,\\N,50,1606845939,N;\n"
        '8,\\core\\event\\user_graded,2,3,4,50,1606845940,"a:1:{s:6:""itemid"";i:9;}"\n'
        "9,\\core\\event\\course_viewed,\\N,3,\\N,50,1606845941,\n"
        "10,\\core\\event\\course_viewed,4,3,\\N,50,never,\n"
    )
    source = LogstoreSource(path)

    (view, graded), _ = read(source)

    assert (view["moodle_log_id"], view["course_id"]) == ("7", "3")
    assert "related_user_id" not in view["metadata"]
    assert graded["event_type"] == "grade_updated"
    assert graded["metadata"]["other"] == {"itemid": 9}
    assert (graded["user_id"], graded["metadata"]["actor_id"]) == ("4", "2")
    assert "related_user_id" not in graded["metadata"]
    assert source.tally.skipped == {"no_user_id": 1, "bad_time": 1}


def test_csv_without_logstore_columns_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text("a,b\n1,2\n")

    with pytest.raises(ImportFormatError, match="userid and timecreated"):
        list(LogstoreSource(path))


def test_rows_from_any_iterable() -> None:
    rows = [
        {
            "id": 11,
            "eventname": "\\mod_quiz\\event\\attempt_submitted",
            "userid": 4,
            "courseid": 3,
            "contextlevel": 70,
            "contextinstanceid": 12,
            "anonymous": 1,
            "other": '{"quizid": 2}',
            "timecreated": 1606845939,
            "origin": "ws",
        }
    ]

    (event,), _ = read(LogstoreSource(rows))

    assert event["event_type"] == "quiz_submitted"
    assert event["metadata"]["anonymous"] is True
    assert event["metadata"]["other"] == {"quizid": 2}
    assert event["origin"] == "ws"
