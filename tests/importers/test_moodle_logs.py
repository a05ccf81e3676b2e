"""The Logs report download importer on small synthetic files, one quirk each."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ssea_core.importers import ImportFormatError, MoodleLogSource
from ssea_core.ingest.models import EventIn

HEADER = (
    "Time,User full name,Affected user,Event context,Component,Event name,"
    "Description,Origin,IP address"
)


def row(
    time: str,
    description: str,
    *,
    event: str = "Course viewed",
    component: str = "System",
    context: str = "Course: Maths",
    origin: str = "web",
    ip: str = "10.0.0.1",
) -> str:
    cells = [
        time,
        "Ana Example",
        "-",
        context,
        component,
        event,
        description,
        origin,
        ip,
    ]
    return ",".join(f'"{cell}"' for cell in cells)


def write(
    tmp_path: Path, lines: list[str], *, name: str = "log.csv", **kw: Any
) -> Path:
    ending = kw.get("ending", "\r\n")
    data = (ending.join(lines) + ending).encode(kw.get("encoding", "utf-8"))
    path = tmp_path / name
    path.write_bytes(kw.get("prefix", b"") + data)
    return path


def events(path: Path, **options: Any) -> tuple[list[dict[str, Any]], MoodleLogSource]:
    source = MoodleLogSource(path, **options)
    found = [item for item in source if isinstance(item, dict)]
    for event in found:
        EventIn.model_validate(event)  # every payload is one the ingest API accepts
    assert source.tally.accounted
    return found, source


VIEW = "The user with id '7' viewed the course with id '42'."
MODULE_VIEW = (
    "The user with id '7' viewed the 'resource' activity with course module id '9'."
)


def test_standard_row_becomes_a_course_view(tmp_path: Path) -> None:
    path = write(tmp_path, [HEADER, row("17/10/21, 12:39", VIEW)])

    (event,), _ = events(path)

    assert event == {
        "event_type": "course_viewed",
        "user_id": "7",
        "course_id": "42",
        "timestamp": "2021-10-17T12:39:00+00:00",
        "origin": "web",
        "ip": "10.0.0.1",
        "metadata": {
            "description": VIEW,
            "event_name": "Course viewed",
            "component": "System",
            "context": "Course: Maths",
            "moodle_event": "\\core\\event\\course_viewed",
        },
    }


@pytest.mark.parametrize("context", ["Course: Maths", "User: Ana Example"])
def test_names_never_reach_the_event(tmp_path: Path, context: str) -> None:
    dashboard = "The user with id '7' has viewed their dashboard"
    path = write(tmp_path, [HEADER, row("17/10/21, 12:39", dashboard, context=context)])

    (event,), _ = events(path)

    assert "Ana" not in json.dumps(event)


@pytest.mark.parametrize("ending", ["\r\n", "\n", "\r"])
def test_bom_and_any_line_ending(tmp_path: Path, ending: str) -> None:
    lines = [HEADER, row("17/10/21, 12:39", VIEW), row("17/10/21, 12:40", VIEW)]
    path = write(tmp_path, lines, ending=ending, prefix=b"\xef\xbb\xbf")

    found, source = events(path)

    assert [e["timestamp"][11:16] for e in found] == ["12:39", "12:40"]
    assert source.tally.rows_read == 2


def test_quoted_multi_line_description(tmp_path: Path) -> None:
    text = (
        "The user with id '7' has sent a message in the chat with course module id"
        "\r\n            '9'."
    )
    path = write(tmp_path, [HEADER, row("17/10/21, 12:39", text, event="Message sent")])

    (event,), _ = events(path, course_id="42")

    assert (event["user_id"], event["module_id"], event["course_id"]) == (
        "7",
        "9",
        "42",
    )
    assert "\r\n" in event["metadata"]["description"]


def test_html_entities_are_decoded(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        [HEADER, row("17/10/21, 12:39", VIEW, context="Course: R&amp;D &lt;1&gt;")],
    )

    (event,), _ = events(path)

    assert event["metadata"]["context"] == "Course: R&D <1>"


def test_stray_cp1252_bytes_never_crash(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    bad = row("17/10/21, 12:39", VIEW, context="Course: Caf\x85").encode("latin-1")
    path.write_bytes(HEADER.encode() + b"\r\n" + bad + b"\r\n")

    (event,), source = events(path)

    assert event["metadata"]["context"] == "Course: Caf…"
    assert source.tally.notes["cp1252_bytes"] == 1


LOCALISED = {
    "es": "Hora,Nombre completo del usuario,Usuario afectado,Contexto del evento,"
    "Componente,Nombre evento,Descripción,Origen,Dirección IP",
    "pt": "Hora,Nome completo do utilizador,Utilizador afetado,Contexto do evento,"
    "Componente,Nome do evento,Descrição,Origem,Endereço IP",
    "fr": "Heure,Nom complet de l'utilisateur,Utilisateur concerné,"
    "Contexte de l'événement,Composant,Nom de l'événement,Description,Origine,"
    "Adresse IP",
    "de": "Zeit,Vollständiger Name,Betroffene/r Nutzer/in,Ereigniskontext,"
    "Komponente,Ereignisname,Beschreibung,Ursprung,IP-Adresse",
    "pl": "Czas,Imię i nazwisko,Użytkownik, którego dotyczy zdarzenie,"
    "Kontekst zdarzenia,Składnik,Nazwa zdarzenia,Opis,Pochodzenie,Adres IP",
    "r-style": "czas,nazwa_uzytkownika,dotyczy,kontekst_zdarzenia,skladnik,"
    "nazwa_zdarzenia,opis,pochodzenie,adres_ip",
}


@pytest.mark.parametrize("language", sorted(LOCALISED))
def test_localised_headers(tmp_path: Path, language: str) -> None:
    header = LOCALISED[language]
    if language == "pl":  # the Polish affected-user header contains a comma
        header = header.replace("Użytkownik, którego", '"Użytkownik, którego').replace(
            "zdarzenie,", 'zdarzenie",', 1
        )
    line = row("25/09/2020 15:24", VIEW, event="x", origin="ws", ip="10.1.1.1")
    path = write(tmp_path, [header, line])

    (event,), _ = events(path)

    assert (event["user_id"], event["course_id"], event["event_type"]) == (
        "7",
        "42",
        "course_viewed",
    )
    assert (event["origin"], event["ip"]) == ("ws", "10.1.1.1")
    assert event["metadata"]["context"] == "Course: Maths"


def test_user_zero_is_kept_and_rows_without_actor_are_skipped(tmp_path: Path) -> None:
    lines = [
        HEADER,
        row("17/10/21, 12:39", "The user with id '0' viewed the course with id '42'."),
        row("17/10/21, 12:40", "User viewed their submission inbox at course: 42"),
        row("17/10/21, 12:41", ""),
        row("not a time", VIEW),
    ]
    path = write(tmp_path, lines)

    found, source = events(path)

    assert [e["user_id"] for e in found] == ["0"]
    assert source.tally.skipped == {"no_user_id": 2, "bad_time": 1}
    assert source.tally.rows_read == 4


def test_blank_lines_are_not_rows(tmp_path: Path) -> None:
    path = write(tmp_path, [HEADER, "", row("17/10/21, 12:39", VIEW), ",,,,,,,,", ""])

    found, source = events(path)

    assert len(found) == 1
    assert source.tally.rows_read == 1


def test_site_course_is_site_level(tmp_path: Path) -> None:
    text = "The user with id '0' viewed the course with id '1'."
    path = write(tmp_path, [HEADER, row("17/10/21, 12:39", text)])

    (event,), _ = events(path)

    assert "course_id" not in event


def test_module_rows_take_the_only_course_the_file_names(tmp_path: Path) -> None:
    lines = [
        HEADER,
        row("17/10/21, 12:39", MODULE_VIEW, event="Course module viewed"),
        row("17/10/21, 12:38", VIEW),
        row("17/10/21, 12:37", "The user with id '7' has viewed their dashboard"),
    ]
    path = write(tmp_path, lines)

    found, _ = events(path)

    assert [e.get("course_id") for e in found] == ["42", "42", None]
    assert found[0]["event_type"] == "resource_viewed"
    assert found[0]["module_id"] == "9"
    assert found[0]["metadata"]["modname"] == "resource"


def test_no_course_is_guessed_when_the_file_names_several(tmp_path: Path) -> None:
    other = "The user with id '8' viewed the course with id '43'."
    lines = [
        HEADER,
        row("1/1/21, 1:00", MODULE_VIEW),
        row("1/1/21, 1:00", VIEW),
        row("1/1/21, 1:00", other),
    ]
    path = write(tmp_path, lines)

    found, _ = events(path)
    given, _ = events(path, course_id="42")

    assert "course_id" not in found[0]
    assert given[0]["course_id"] == "42"


def test_restore_rows_belong_to_the_new_course(tmp_path: Path) -> None:
    text = (
        "The user with id '2' restored old course with id '97' to a new course "
        "with id '42'."
    )
    path = write(tmp_path, [HEADER, row("1/1/21, 1:00", text, event="Course restored")])

    (event,), _ = events(path)

    assert event["course_id"] == "42"


def test_identical_rows_of_one_minute_stay_separate_and_stable(tmp_path: Path) -> None:
    same = row("17/10/21, 12:39", VIEW)
    other_ip = row("17/10/21, 12:39", VIEW, ip="10.0.0.2")
    lines = [HEADER, same, same, other_ip, row("17/10/21, 12:38", VIEW), same]
    path = write(tmp_path, lines)

    found, _ = events(path)
    again, _ = events(path)
    merged, _ = events(path, merge_repeats=True)

    assert [e["metadata"].get("repeat") for e in found] == [None, 1, 2, None, None]
    assert found == again
    assert all("repeat" not in e["metadata"] for e in merged)


@pytest.mark.parametrize(
    ("event_name", "description", "component", "expected"),
    [
        (
            "Quiz attempt started",
            "The user with id '7' began",
            "Quiz",
            "quiz_attempted",
        ),
        ("Intento enviado", "", "Cuestionario", "quiz_submitted"),
        ("\\mod_forum\\event\\post_created", "", "Forum", "forum_post_created"),
        ("Course module viewed", "", "File", "resource_viewed"),
        ("Módulo de curso visto", "", "Página", "page_viewed"),
        ("Course module viewed", "", "Quiz", "module_viewed"),
        ("Something new", "The user with id '7' did X", "Plugin", "other"),
        (
            "Usuario matriculado en curso",
            "The user with id '2' updated the enrolment for the user with id '7' "
            "using the enrolment method 'manual' in the course with id '42'.",
            "Sistema",
            "other",
        ),
        (
            "Usuario matriculado en curso",
            "The user with id '2' enrolled the user with id '7' using the enrolment "
            "method 'manual' in the course with id '42'.",
            "Sistema",
            "user_enrolled",
        ),
        (
            "anything",
            "The user with id '7' has submitted the attempt with id '3' for the quiz "
            "with course module id '9'.",
            "Quiz",
            "quiz_submitted",
        ),
        ("anything", "The user with id '7' has logged in.", "System", "user_login"),
    ],
)
def test_event_types(
    tmp_path: Path, event_name: str, description: str, component: str, expected: str
) -> None:
    text = description or "The user with id '7' did something."
    path = write(
        tmp_path,
        [HEADER, row("1/1/21, 1:00", text, event=event_name, component=component)],
    )

    (event,), _ = events(path)

    assert event["event_type"] == expected


def test_more_event_names_can_be_mapped(tmp_path: Path) -> None:
    text = "The user with id '7' did something."
    path = write(tmp_path, [HEADER, row("1/1/21, 1:00", text, event="Kurs angezeigt")])

    (event,), _ = events(path, event_names={"kurs angezeigt": "course_viewed"})

    assert event["event_type"] == "course_viewed"


@pytest.mark.parametrize(
    ("description", "event_type", "user", "metadata"),
    [
        (
            "The user with id '2' updated the grade with id '5' for the user with id "
            "'7' for the grade item with id '3'.",
            "grade_updated",
            "7",
            {"actor_id": "2"},
        ),
        (
            "The user with id '2' enrolled the user with id '7' using the enrolment "
            "method 'manual' in the course with id '42'.",
            "user_enrolled",
            "7",
            {"actor_id": "2"},
        ),
        (
            "The user with id '7' updated the completion state for the course module "
            "with id '9' for the user with id '7'.",
            "module_completed",
            "7",
            {"actor_id": "7"},
        ),
        (
            "The user with id '2' viewed the profile for the user with id '7' in the "
            "course with id '42'.",
            "other",
            "2",
            {"related_user_id": "7"},
        ),
    ],
)
def test_grades_enrolments_and_completions_are_about_the_related_user(
    tmp_path: Path,
    description: str,
    event_type: str,
    user: str,
    metadata: dict[str, str],
) -> None:
    path = write(tmp_path, [HEADER, row("1/1/21, 1:00", description, event="x")])

    (event,), _ = events(path)

    assert (event["event_type"], event["user_id"]) == (event_type, user)
    assert metadata.items() <= event["metadata"].items()
    (other_key,) = {"actor_id", "related_user_id"} - metadata.keys()
    assert other_key not in event["metadata"]


def test_local_time_zone_across_the_madrid_dst_nights(tmp_path: Path) -> None:
    lines = [
        HEADER,
        row("28/03/21, 01:59", VIEW),
        row("28/03/21, 02:30", VIEW),
        row("28/03/21, 03:00", VIEW),
        row("31/10/21, 02:30", VIEW),
        row("31/10/21, 03:30", VIEW),
        row("31/10/21, 00:30", VIEW),
    ]
    path = write(tmp_path, lines)

    found, source = events(path, timezone="Europe/Madrid")

    assert [e["timestamp"] for e in found] == [
        "2021-03-28T00:59:00+00:00",
        "2021-03-28T01:30:00+00:00",
        "2021-03-28T01:00:00+00:00",
        "2021-10-31T00:30:00+00:00",
        "2021-10-31T02:30:00+00:00",
        "2021-10-30T22:30:00+00:00",
    ]
    assert source.tally.notes == {
        "nonexistent_local_time": 1,
        "ambiguous_local_time": 1,
    }


def test_json_download_with_labelled_records(tmp_path: Path) -> None:
    records = [
        {
            "Time": "17/10/21, 12:39",
            "User full name": "Ana Example",
            "Description": VIEW,
            "Origin": "web",
            "IP address": "10.0.0.1",
        }
    ]
    path = tmp_path / "log.json"
    path.write_text(json.dumps([records]))

    (event,), _ = events(path)

    assert (event["user_id"], event["course_id"]) == ("7", "42")


def test_json_download_with_rows_as_lists(tmp_path: Path) -> None:
    cells = [
        "17/10/21, 12:39",
        "-",
        "-",
        "Course: Maths",
        "System",
        "Course viewed",
        VIEW,
        "web",
        "10.0.0.1",
    ]
    path = tmp_path / "log.json"
    path.write_text(json.dumps([HEADER.split(","), cells]))
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps([cells]))

    (event,), _ = events(path)
    (same,), _ = events(bare)

    assert event == same
    assert event["course_id"] == "42"


def test_xlsx_download(tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(HEADER.split(","))
    sheet.append(
        [
            "17/10/21, 12:39",
            "-",
            "-",
            "Course: Maths",
            "System",
            "Course viewed",
            VIEW,
            "web",
            "10.0.0.1",
        ]
    )
    sheet.append([None] * 9)
    sheet.append(["x", "-", "-", "", "", "", "User viewed their inbox", "web", ""])
    path = tmp_path / "log.xlsx"
    workbook.save(path)

    found, source = events(path)

    assert [e["user_id"] for e in found] == ["7"]
    assert source.tally.skipped == {"no_user_id": 1}


def test_a_file_without_time_column_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, ["a,b,c", "1,2,3"])

    with pytest.raises(ImportFormatError, match="No Time column"):
        list(MoodleLogSource(path))


def test_user_id_column_of_research_copies(tmp_path: Path) -> None:
    path = write(
        tmp_path, ["Time,userid,Event_name", '"23/01/2021, 11:56:32",281,Course viewed']
    )

    (event,), _ = events(path)

    assert (event["user_id"], event["event_type"]) == ("281", "course_viewed")
