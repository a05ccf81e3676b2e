"""The OULAD folder layout on a tiny synthetic folder."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from ssea_core.importers import ImportFormatError, OuladSource, SyncItem, read_outcomes
from ssea_core.importers.oulad import presentation_start
from ssea_core.ingest.models import SYNC_MODELS, EventIn

TABLES = {
    "courses.csv": '"code_module","code_presentation","module_presentation_length"\r\n'
    '"AAA","2013J","268"\r\n"BBB","2014B","240"\r\n"CCC","2014X","1"\r\n',
    "assessments.csv": "code_module,code_presentation,id_assessment,assessment_type,"
    "date,weight\nAAA,2013J,1752,TMA,19,10\nAAA,2013J,1757,Exam,,100\n"
    "BBB,2014B,15,CMA,5,1\n",
    "vle.csv": "id_site,code_module,code_presentation,activity_type,week_from,week_to\n"
    "546652,AAA,2013J,forumng,,\n",
    "studentInfo_subset.csv": "code_module,code_presentation,id_student,final_result\n"
    "AAA,2013J,11,Pass\nBBB,2014B,11,Withdrawn\nAAA,2013J,12,Fail\n",
    "studentRegistration.csv": "code_module,code_presentation,id_student,"
    "date_registration,date_unregistration\nAAA,2013J,11,-159,\nBBB,2014B,11,-5,30\n"
    "AAA,2013J,12,,\n",
    "studentAssessment_part1.csv": "id_assessment,id_student,date_submitted,is_banked,"
    "score\n1752,11,18,0,78\n1752,12,25,0,\n15,11,6,1,100\n9999,11,1,0,50\n",
    "studentVle_head_AAA2013J.csv": "code_module,code_presentation,id_student,id_site,"
    "date,sum_click\nAAA,2013J,11,546652,-10,4\nAAA,2013J,11,546652,-10,1\n"
    "AAA,2013J,11,546652,-10,1\nAAA,2013J,12,546652,2,3\nAAA,2013J,12,546652,x,3\n",
}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for name, text in TABLES.items():
        (tmp_path / name).write_text(text)
    return tmp_path


def read(folder: Path) -> tuple[list[dict[str, Any]], list[SyncItem], OuladSource]:
    source = OuladSource(folder)
    items = list(source)
    events = [item for item in items if isinstance(item, dict)]
    for event in events:
        EventIn.model_validate(event)
    catalogue = [item for item in items if isinstance(item, SyncItem)]
    for item in catalogue:
        SYNC_MODELS[item.entity].model_validate(item.item)
    assert source.tally.accounted
    return events, catalogue, source


def test_presentation_starts() -> None:
    assert presentation_start("2013B") == date(2013, 2, 1)
    assert presentation_start("2013J") == date(2013, 10, 1)
    assert presentation_start("2014B") == date(2014, 2, 1)
    assert presentation_start("2014J") == date(2014, 10, 1)


def test_catalogue(folder: Path) -> None:
    _, catalogue, _ = read(folder)
    by_entity: dict[str, list[dict[str, Any]]] = {}
    for item in catalogue:
        by_entity.setdefault(item.entity, []).append(item.item)

    assert by_entity["courses"][0] == {
        "course_id": "AAA-2013J",
        "shortname": "AAA 2013J",
        "start_date": "2013-10-01",
        "end_date": "2014-06-26",
    }
    assert {m["module_id"] for m in by_entity["modules"]} == {
        "assessment-1752",
        "assessment-1757",
        "assessment-15",
        "546652",
    }
    assert by_entity["users"] == [
        {"user_id": "11"},
        {"user_id": "11"},
        {"user_id": "12"},
    ]
    withdrawn = by_entity["enrolments"][1]
    assert withdrawn["status"] == "suspended"
    assert withdrawn["time_end"] == "2014-03-03T12:00:00+00:00"
    assert len(by_entity["grades"]) == 3
    assert by_entity["grades"][1]["finalgrade"] is None


def test_events(folder: Path) -> None:
    events, _, source = read(folder)
    kinds = [e["event_type"] for e in events]

    assert kinds.count("user_enrolled") == 2
    enrolled = events[0]
    assert enrolled["timestamp"] == "2013-04-25T12:00:00+00:00"  # 159 days before
    tma = next(e for e in events if e["event_type"] == "assignment_submitted")
    assert tma["metadata"]["score"] == 78.0
    assert tma["metadata"]["is_late"] is False
    cma = next(e for e in events if e["event_type"] == "quiz_submitted")
    assert cma["metadata"]["is_banked"] is True
    assert cma["course_id"] == "BBB-2014B"
    clicks = [e for e in events if e["event_type"] == "module_viewed"]
    assert [c["metadata"]["sum_click"] for c in clicks] == [4, 1, 1, 3]
    assert len({c["moodle_log_id"] for c in clicks}) == 4  # repeats stay apart
    assert clicks[0]["metadata"]["activity_type"] == "forumng"
    assert source.tally.skipped == {
        "unknown_presentation": 1,
        "unknown_assessment": 1,
        "bad_row": 1,
    }
    assert source.tally.notes == {"registration_without_date": 1}


def test_outcomes(folder: Path) -> None:
    assert read_outcomes(folder) == {
        ("11", "AAA-2013J"): "Pass",
        ("11", "BBB-2014B"): "Withdrawn",
        ("12", "AAA-2013J"): "Fail",
    }


def test_a_folder_without_tables_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ImportFormatError):
        list(OuladSource(tmp_path))
    with pytest.raises(ImportFormatError):
        OuladSource(tmp_path / "missing")
