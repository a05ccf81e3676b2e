"""Catalogue sync (SPEC §2): upserts by each entity's key, deletions by key."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel
from sqlalchemy import Connection, Table, and_, delete

from ssea_core.records import SyncResult
from ssea_storage.sql.schema import (
    completions,
    courses,
    enrolments,
    grade_items,
    grades,
    modules,
    users,
)
from ssea_storage.sql.writes import upsert

Row = dict[str, Any]


def _fields(item: BaseModel, *names: str) -> Row:
    return {name: getattr(item, name) for name in names}


def _user(item: Any) -> list[tuple[Table, Row]]:
    if item.deleted:
        # Users are kept when deleted (as Moodle does): their history stays theirs.
        # A deletion names only the key, so it must not blank the name it carried.
        return [(users, {"user_id": item.user_id, "deleted": True})]
    row = _fields(item, "user_id", "username", "full_name", "email", "suspended")
    row["deleted"] = False
    return [(users, row)]


def _course(item: Any) -> list[tuple[Table, Row]]:
    return [
        (
            courses,
            _fields(
                item,
                "course_id",
                "shortname",
                "fullname",
                "category",
                "start_date",
                "end_date",
                "visible",
            ),
        )
    ]


def _module(item: Any) -> list[tuple[Table, Row]]:
    names = ("module_id", "course_id", "modname", "name", "completion_enabled")
    return [(modules, _fields(item, *names, "due_date", "visible"))]


def _enrolment(item: Any) -> list[tuple[Table, Row]]:
    names = ("user_id", "course_id", "role", "status", "time_start", "time_end")
    return [(enrolments, _fields(item, *names))]


def _grade(item: Any) -> list[tuple[Table, Row]]:
    grade_item = _fields(
        item, "course_id", "item_id", "item_name", "item_type", "grademin", "grademax"
    )
    grade_item["gradepass"] = item.gradepass
    grade = _fields(item, "user_id", "course_id", "item_id", "finalgrade", "graded_at")
    return [(grade_items, grade_item), (grades, grade)]


def _completion(item: Any) -> list[tuple[Table, Row]]:
    row = _fields(item, "user_id", "course_id", "state", "completed_at")
    row["module_id"] = item.module_id or ""
    return [(completions, row)]


_ROWS: dict[str, Callable[[Any], list[tuple[Table, Row]]]] = {
    "users": _user,
    "courses": _course,
    "modules": _module,
    "enrolments": _enrolment,
    "grades": _grade,
    "completions": _completion,
}

#: Where a deletion removes a row (users are flagged instead, see ``_user``).
_DELETE_FROM: dict[str, Table] = {
    "courses": courses,
    "modules": modules,
    "enrolments": enrolments,
    "grades": grades,
    "completions": completions,
}


def _delete(
    connection: Connection, tenant_id: UUID, table: Table, rows: list[tuple[Table, Row]]
) -> None:
    row = rows[-1][1]
    key_columns = [c for c in table.primary_key.columns if c.name in row]
    connection.execute(
        delete(table).where(
            table.c.tenant_id == tenant_id,
            and_(*(column == row[column.name] for column in key_columns)),
        )
    )


def sync_items(
    connection: Connection,
    tenant_id: UUID,
    entity: str,
    items: Sequence[BaseModel],
    now: datetime,
) -> SyncResult:
    """Apply one entity's items; later items with the same key were merged earlier."""
    # Grouped by table and columns: one executemany needs rows of the same shape.
    upserts: dict[tuple[str, tuple[str, ...]], tuple[Table, list[Row]]] = {}
    deleted = 0
    for item in items:
        if getattr(item, "deleted", False):
            deleted += 1  # users too, though they are flagged rather than removed
            table_for_delete = _DELETE_FROM.get(entity)
            if table_for_delete is not None:
                _delete(connection, tenant_id, table_for_delete, _ROWS[entity](item))
                continue
        for table, row in _ROWS[entity](item):
            row.update(tenant_id=tenant_id, updated_at=now)
            upserts.setdefault((table.name, tuple(row)), (table, []))[1].append(row)

    for table, rows in upserts.values():
        statement = upsert(connection, table)
        keys = [column.name for column in table.primary_key.columns]
        connection.execute(
            statement.on_conflict_do_update(
                index_elements=list(table.primary_key.columns),
                set_={
                    name: statement.excluded[name]
                    for name in rows[0]
                    if name not in keys
                },
            ),
            rows,
        )
    upserted = len(items) - deleted
    return SyncResult(upserted=upserted, deleted=deleted)
