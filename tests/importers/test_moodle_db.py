"""The live Moodle database reader, on an SQLite database made here."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ssea_core.importers import LogstoreSource
from ssea_storage.moodle_db import MoodleDatabaseError, read_logstore


@pytest.fixture
def moodle_db(tmp_path: Path) -> Path:
    path = tmp_path / "moodle.sqlite"
    connection = sqlite3.connect(path)
    connection.execute(
        "CREATE TABLE m_logstore_standard_log (id INTEGER PRIMARY KEY, eventname TEXT, "
        "component TEXT, contextlevel INTEGER, contextinstanceid INTEGER, userid "
        "INTEGER, courseid INTEGER, other TEXT, timecreated INTEGER, origin TEXT, "
        "ip TEXT, realuserid INTEGER, extra TEXT)"
    )
    connection.executemany(
        "INSERT INTO m_logstore_standard_log VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        [
            (n, "\\core\\event\\course_viewed", "core", 50, 3, n % 4, 3, "N;",
             1_600_000_000 + n, "web", "10.0.0.1", None, "ignored")
            for n in range(1, 12)
        ],
    )  # fmt: skip
    connection.commit()
    connection.close()
    return path


def test_reads_incrementally_in_batches(moodle_db: Path) -> None:
    url = f"sqlite:///{moodle_db}"

    rows = list(read_logstore(url, prefix="m_", after_id=3, batch=3))

    assert [row["id"] for row in rows] == list(range(4, 12))
    assert "extra" not in rows[0]
    assert rows[0]["eventname"] == "\\core\\event\\course_viewed"


def test_rows_feed_the_logstore_importer(moodle_db: Path) -> None:
    source = LogstoreSource(read_logstore(f"sqlite:///{moodle_db}", prefix="m_"))

    events = [item for item in source if isinstance(item, dict)]

    assert len(events) == 11
    assert events[0]["moodle_log_id"] == "1"
    assert events[0]["course_id"] == "3"


def test_never_writes(moodle_db: Path) -> None:
    before = moodle_db.read_bytes()

    list(read_logstore(f"sqlite:///{moodle_db}", prefix="m_", batch=2))

    assert moodle_db.read_bytes() == before
    assert not Path(f"{moodle_db}-wal").exists()


def test_missing_table_and_hidden_password(moodle_db: Path) -> None:
    with pytest.raises(MoodleDatabaseError, match="No table mdl_logstore"):
        list(read_logstore(f"sqlite:///{moodle_db}"))
    with pytest.raises(MoodleDatabaseError) as raised:
        list(read_logstore("postgresql://moodle:s3cret@127.0.0.1:1/moodle"))
    assert "s3cret" not in str(raised.value)
