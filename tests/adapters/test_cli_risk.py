"""``ssea risk recompute``, ``risk settings`` and ``alerts evaluate`` (embedded DB).

The tenant is the one of ``tests/storage/test_risk_store.py``, loaded at 2026-03-02
12:00 UTC into the working directory's database; its features as of midnight are
proven there, so here the command's summary must match the pure scores of them.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import pytest

from ssea_core.app import SseaApp
from ssea_core.clock import FixedClock
from ssea_core.risk import RiskSettings, overall, score
from ssea_core.settings import Settings
from ssea_storage.migrate import ready_store
from tests.adapters.test_cli import (
    new_key,
    new_tenant,
    refused,
    ssea,
    ssea_json,
    workdir,
)
from tests.storage.test_risk_store import EXPECTED, load_term
from tests.support import ApiClient

__all__ = ["workdir"]  # autouse: every test runs in a clean temporary directory


@pytest.fixture
def tenant_id() -> str:
    """A tenant made by the CLI, with the risk term loaded through the API."""
    found = new_tenant()
    key = new_key(found)["key"]

    async def load() -> None:
        async with ready_store(Settings()) as store:
            clock = FixedClock(datetime(2026, 3, 2, 12, tzinfo=UTC))
            app = SseaApp(store, Settings(), clock=clock)
            await load_term(ApiClient(app, {"X-SSEA-Key": key}))

    anyio.run(load)
    return found


def midnight_levels() -> dict[str, int]:
    students = sorted({item.user_id for item in EXPECTED})
    levels: Counter[str] = Counter()
    for user in students:
        best = overall(
            score(item, RiskSettings()) for item in EXPECTED if item.user_id == user
        )
        levels[best.level if best is not None and best.level else "none"] += 1
    return dict(levels)


def test_recompute_as_of_a_day_uses_the_data_before_it(tenant_id: str) -> None:
    summary: dict[str, Any] = ssea_json(
        "risk", "recompute", "--tenant", tenant_id, "--as-of", "2026-03-02"
    )

    assert summary["tenant_id"] == tenant_id
    assert summary["as_of"] == "2026-03-02T00:00:00Z"
    assert (summary["enrolments"], summary["students"]) == (7, 6)
    assert summary["levels"] == midnight_levels()
    assert summary["at_risk"] == sum(
        count
        for level, count in midnight_levels().items()
        if level in ("high", "critical")
    )
    assert summary["alerts"] is None  # alerts are about now


def test_recompute_now_evaluates_alerts_once(tenant_id: str) -> None:
    first = ssea_json("risk", "recompute", "--tenant", tenant_id)
    again = ssea_json("alerts", "evaluate", "--tenant", tenant_id)

    assert first["alerts"]["raised"] > 0
    assert (again["raised"], again["updated"]) == (0, 0)
    text = ssea("risk", "recompute", "--tenant", tenant_id)
    assert text.exit_code == 0, text.output
    assert "0 raised, 0 updated" in text.stdout


def test_an_unknown_tenant_or_a_bad_day_fails() -> None:
    unknown = ssea(
        "risk", "recompute", "--tenant", "6f9619ff-8b86-4011-b42d-00c04fc964ff"
    )
    bad_day = ssea("risk", "recompute", "--tenant", new_tenant(), "--as-of", "March")

    refused(unknown, "No tenant")
    assert bad_day.exit_code == 2
    assert "--as-of" in bad_day.output


def test_settings_are_shown_set_and_checked(tenant_id: str, workdir: Path) -> None:
    shown = ssea_json("risk", "settings", "--tenant", tenant_id)
    assert shown["risk"] == RiskSettings().model_dump(mode="json")
    assert shown["alerts"]["inactivity_days"] == 7

    chosen = workdir / "risk.json"
    chosen.write_text(json.dumps({"risk": {"high_from": 60}, "alerts": {}}))
    changed = ssea_json("risk", "settings", "--tenant", tenant_id, "--set", str(chosen))
    assert changed["risk"]["high_from"] == 60
    assert ssea_json("risk", "settings", "--tenant", tenant_id) == changed

    chosen.write_text(json.dumps({"risk": {"high_from": 90}}))
    wrong = ssea("risk", "settings", "--tenant", tenant_id, "--set", str(chosen))
    chosen.write_text(json.dumps({"risks": {}}))
    typo = ssea("risk", "settings", "--tenant", tenant_id, "--set", str(chosen))
    assert wrong.exit_code == typo.exit_code == 2
    assert "level thresholds must increase" in wrong.output
    assert '"risk" and/or "alerts"' in typo.output
    assert ssea_json("risk", "settings", "--tenant", tenant_id) == changed
