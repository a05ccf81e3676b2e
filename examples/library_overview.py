"""ssea as a library, no server: import a Moodle log download, read its overview.

    python examples/library_overview.py [LOG.csv] [--timezone Europe/Madrid]
        [--from 2021-01-01] [--to 2021-06-30] [--days N]
    python examples/library_overview.py --check   # the bundled log; asserts, exits 0

The log is read into a throwaway SQLite database (schema migrated on open); the
overview and the course list come from the same read API the HTTP service answers,
called in-process through ``SseaApp.handle``.

The period read is, unless told, the UTC days of the imported events, first to last.
The read API answers at most 366 days, so a log that spans more (exports often end
with a few stray events long after the term) is read over the 366 days that hold
the most of its events. ``--from``/``--to`` choose the days (either alone: up to 366
days of the data from or to it); ``--days N`` is the N days ending at ``--to`` or
where the default period ends. The output's ``period`` says which days were read, and
why.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio

from ssea_core import Ingestor, Request, Services, Settings, SseaApp, SystemClock
from ssea_core.auth.api_keys import generate_api_key
from ssea_core.importers import MoodleLogSource, import_into
from ssea_core.importers.base import Payload, SyncItem
from ssea_storage.migrate import open_ready_store
from ssea_storage.secrets import new_master_key

SAMPLE = Path(__file__).resolve().parent / "data" / "moodle_course_log.csv"
#: The longest period the read API answers.
MAX_DAYS = 366


@dataclass(frozen=True)
class Wanted:
    """The period options as given; ``None`` where the data decides."""

    start: date | None = None
    end: date | None = None
    days: int | None = None


class CountedLog(MoodleLogSource):
    """A Moodle log download that counts its events by UTC day as they are read."""

    days: Counter[date]

    def __iter__(self) -> Iterator[Payload | SyncItem]:
        self.days = Counter()
        for item in super().__iter__():
            if isinstance(item, dict):
                moment = datetime.fromisoformat(item["timestamp"])
                self.days[moment.astimezone(UTC).date()] += 1
            yield item


def busiest_days(days: Counter[date]) -> tuple[date, date]:
    """The first and last event day of the MAX_DAYS-long window with most events
    (the latest such window on a tie); all of them when they fit."""
    ordered = sorted(days)
    best, window, total, left = -1, (ordered[0], ordered[-1]), 0, 0
    for day in ordered:
        total += days[day]
        while (day - ordered[left]).days >= MAX_DAYS:
            total -= days[ordered[left]]
            left += 1
        if total >= best:
            best, window = total, (ordered[left], day)
    return window


def choose_period(days: Counter[date], wanted: Wanted) -> dict[str, str]:
    """The days to read: ``wanted`` where given, else the imported events' days."""
    if not days:
        days = Counter({datetime.now(UTC).date(): 0})
    first, last = min(days), max(days)
    most = timedelta(days=MAX_DAYS - 1)
    busiest = busiest_days(days)
    if wanted == Wanted():
        start, end = busiest
        basis = "the imported events' days"
        if busiest != (first, last):
            spanned = (last - first).days + 1
            basis += f" in the {MAX_DAYS} that hold most of them (of {spanned})"
        return {"from": start.isoformat(), "to": end.isoformat(), "basis": basis}

    if wanted.end is not None:
        end = wanted.end
    elif wanted.start is not None:
        end = min(max(last, wanted.start), wanted.start + most)
    else:
        end = busiest[1]
    if wanted.days is not None:
        start = end - timedelta(days=wanted.days - 1)
    else:
        start = wanted.start or max(min(first, end), end - most)
    return {"from": start.isoformat(), "to": end.isoformat(), "basis": "the options"}


async def overview(log: Path, timezone: str, wanted: Wanted) -> dict[str, Any]:
    """Import ``log`` into a new tenant; answer its overview and courses."""
    with tempfile.TemporaryDirectory() as folder:
        # A throwaway database: its key that encrypts tenant secrets is throwaway too.
        settings = Settings(
            database_url=f"sqlite:///{folder}/ssea.db", master_key=new_master_key()
        )
        store = await open_ready_store(settings)
        try:
            return await import_and_read(store, settings, log, timezone, wanted)
        finally:
            await store.aclose()


async def import_and_read(
    store: Any, settings: Settings, log: Path, timezone: str, wanted: Wanted
) -> dict[str, Any]:
    clock = SystemClock()
    tenant = await store.operator.create_tenant(
        "Example", "enterprise", now=clock.now()
    )
    source = CountedLog(log, timezone=timezone)
    summary = await import_into(
        Ingestor(Services(store, settings, clock)), tenant.tenant_id, source
    )
    period = choose_period(source.days, wanted)

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
    query = f"from={period['from']}&to={period['to']}"

    async def read(path: str) -> Any:
        response = await app.handle(
            Request.build(
                "GET",
                f"/v1/tenants/{tenant.tenant_id}{path}",
                query_string=query,
                headers={"X-SSEA-Key": key.plaintext},
            )
        )
        if response.status != 200:
            raise SystemExit(f"GET {path}?{query}: {response.body.decode()}")
        return json.loads(response.body)

    try:
        return {
            "imported": {"rows": summary.rows_read, "stored": summary.stored},
            "period": period,
            "overview": await read("/overview"),
            "courses": await read("/courses"),
        }
    finally:
        await app.aclose()


def check(result: dict[str, Any]) -> None:
    """What the bundled log must give."""
    assert result["imported"] == {"rows": 21, "stored": 21}, result["imported"]
    # Its first row is 10/01/26 08:28 and its last 14/01/26 16:42 (read as UTC).
    assert result["period"] == {
        "from": "2026-01-10",
        "to": "2026-01-14",
        "basis": "the imported events' days",
    }, result["period"]
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

    # A term, then two stray events a year later: the term is read, not the strays.
    term = Counter({date(2019, 10, 1): 5, date(2020, 9, 1): 5, date(2021, 10, 17): 2})
    assert busiest_days(term) == (date(2019, 10, 1), date(2020, 9, 1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "log",
        nargs="?",
        type=Path,
        default=SAMPLE,
        help="a Moodle log download (default: the bundled sample)",
    )
    parser.add_argument(
        "--timezone",
        default="UTC",
        help="the site's zone, for times printed in local time (default: UTC, as "
        "`ssea import` has; the bundled log, from a Europe/Madrid site, gives the "
        "same figures in both)",
    )
    parser.add_argument(
        "--from",
        dest="start",
        type=date.fromisoformat,
        metavar="DATE",
        help="first day (YYYY-MM-DD)",
    )
    parser.add_argument(
        "--to",
        dest="end",
        type=date.fromisoformat,
        metavar="DATE",
        help="last day (YYYY-MM-DD)",
    )
    parser.add_argument(
        "--days",
        type=int,
        metavar="N",
        help=f"the N days (1 to {MAX_DAYS}) ending at --to or the default end",
    )
    parser.add_argument("--check", action="store_true", help="assert and exit 0")
    args = parser.parse_args(argv)
    if args.days is not None and args.start is not None:
        parser.error("give --days or --from, not both")
    if args.days is not None and not 1 <= args.days <= MAX_DAYS:
        parser.error(f"--days must be 1 to {MAX_DAYS}")

    wanted = Wanted(args.start, args.end, args.days)
    result = anyio.run(overview, args.log, args.timezone, wanted)
    print(json.dumps(result, indent=2))
    if args.check:
        check(result)
        print("library_overview: ok", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
