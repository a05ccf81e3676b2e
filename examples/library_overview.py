"""ssea as a library, no server: import a Moodle log download, read its overview.

    python examples/library_overview.py [LOG.csv] [--timezone Europe/Madrid]
    python examples/library_overview.py --check   # the bundled log; asserts, exits 0

The log is read into a throwaway SQLite database (schema migrated on open); the
overview and the course list come from the same read API the HTTP service answers,
called in-process through ``SseaApp.handle``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import anyio

from ssea_core import Ingestor, Request, Services, Settings, SseaApp, SystemClock
from ssea_core.auth.api_keys import generate_api_key
from ssea_core.importers import MoodleLogSource, import_into
from ssea_storage.migrate import open_ready_store
from ssea_storage.secrets import new_master_key

SAMPLE = Path(__file__).resolve().parent / "data" / "moodle_course_log.csv"
#: The sample's days: 10 to 14 January 2026.
SAMPLE_PERIOD = {"from": "2026-01-10", "to": "2026-01-14"}


async def overview(log: Path, timezone: str, period: dict[str, str]) -> dict[str, Any]:
    """Import ``log`` into a new tenant; answer its overview and courses."""
    with tempfile.TemporaryDirectory() as folder:
        # A throwaway database: its key that encrypts tenant secrets is throwaway too.
        settings = Settings(
            database_url=f"sqlite:///{folder}/ssea.db", master_key=new_master_key()
        )
        store = await open_ready_store(settings)
        try:
            return await import_and_read(store, settings, log, timezone, period)
        finally:
            await store.aclose()


async def import_and_read(
    store: Any, settings: Settings, log: Path, timezone: str, period: dict[str, str]
) -> dict[str, Any]:
    clock = SystemClock()
    tenant = await store.operator.create_tenant(
        "Example", "enterprise", now=clock.now()
    )
    summary = await import_into(
        Ingestor(Services(store, settings, clock)),
        tenant.tenant_id,
        MoodleLogSource(log, timezone=timezone),
    )

    # The read API wants a credential, like any caller: a key of this tenant.
    key = generate_api_key()
    await store.for_tenant(tenant.tenant_id).create_api_key(
        key_hash=key.key_hash,
        prefix=key.prefix,
        name="example",
        now=clock.now(),
        expires_at=None,
    )
    app = SseaApp(store, settings, clock=clock)
    query = "&".join(f"{name}={value}" for name, value in period.items())

    async def read(path: str) -> Any:
        response = await app.handle(
            Request.build(
                "GET",
                f"/v1/tenants/{tenant.tenant_id}{path}",
                query_string=query,
                headers={"X-SSEA-Key": key.plaintext},
            )
        )
        assert response.status == 200, response.body
        return json.loads(response.body)

    try:
        return {
            "imported": {"rows": summary.rows_read, "stored": summary.stored},
            "overview": await read("/overview"),
            "courses": await read("/courses"),
        }
    finally:
        await app.aclose()


def check(result: dict[str, Any]) -> None:
    """What the bundled log must give."""
    assert result["imported"] == {"rows": 21, "stored": 21}, result["imported"]
    figures = {k: v for k, v in result["overview"].items() if k != "tenant_id"}
    # Enrolments are done to a student, not by one: 18 of the 21 events count.
    assert figures == {
        "period_days": 5,
        "total_events": 18,
        "active_users": 3,
        "total_sessions": 5,
        "avg_time_spent_mins": 30.0,
        "at_risk_count": 0,
    }, figures
    assert [course["course_id"] for course in result["courses"]] == ["2"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log", nargs="?", type=Path, default=SAMPLE)
    parser.add_argument("--timezone", default="Europe/Madrid")
    parser.add_argument("--days", type=int, help="the last N days (default: sample's)")
    parser.add_argument("--check", action="store_true", help="assert and exit 0")
    args = parser.parse_args(argv)

    period = {"days": str(args.days)} if args.days else SAMPLE_PERIOD
    result = anyio.run(overview, args.log, args.timezone, period)
    print(json.dumps(result, indent=2))
    if args.check:
        check(result)
        print("library_overview: ok", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
