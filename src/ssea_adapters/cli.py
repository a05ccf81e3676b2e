"""The ``ssea`` command line: migrate the database, manage tenants and keys, serve.

Every command that touches the database takes ``--db URL`` (default:
``SSEA_DATABASE_URL``, else ``sqlite:///ssea.db`` in the working directory); all but
``serve`` and ``worker`` take ``--json``, which makes the whole output one JSON
object. The embedded SQLite database is upgraded on use; a server database must be
upgraded with ``ssea db upgrade`` first.
Expected failures print one line on stderr and exit with status 1.
"""

from __future__ import annotations

import functools
import json
import signal
import sys
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import aclosing
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import anyio
import click
from pydantic import ValidationError
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from ssea_adapters.asgi import create_app
from ssea_core.app import build_router
from ssea_core.auth.api_keys import generate_api_key
from ssea_core.auth.records import (
    PUBLIC_KEY_ALGORITHMS,
    SECRET_KINDS,
    PublicKeyAlgorithm,
    SecretKind,
)
from ssea_core.auth.sso import check_public_key
from ssea_core.auth.viewer import VIEWER_ROLES, ViewerRole, sign_viewer_context
from ssea_core.branding import origin
from ssea_core.clock import SystemClock
from ssea_core.context import Services
from ssea_core.demo import TermShape, load_demo
from ssea_core.errors import MisconfiguredError, NotFoundError, SseaError
from ssea_core.http import dumps
from ssea_core.importers import ImportSummary, import_into, open_source
from ssea_core.importers.runner import SOURCES
from ssea_core.ingest.service import Ingestor
from ssea_core.openapi import build_document
from ssea_core.records import PLANS, ApiKeyRecord, Plan, TenantRecord
from ssea_core.reports import (
    REPORT_TYPES,
    REPORTS,
    ReportFormat,
    ReportRequest,
    ReportType,
    WriteSummary,
    resolve_request,
    write_report,
)
from ssea_core.reports.worker import ReportWorker, run_worker
from ssea_core.risk.builder import day_start
from ssea_core.risk.service import RecomputeSummary, evaluate_tenant_alerts, recompute
from ssea_core.risk.settings import AlertSettings, RiskSettings
from ssea_core.settings import DEFAULT_DATABASE_URL, Settings
from ssea_core.validation import describe_errors
from ssea_storage.artifacts import artifact_store_from_settings
from ssea_storage.migrate import (
    current_revision,
    head_revision,
    ready_store,
    upgrade_database,
)
from ssea_storage.secrets import new_master_key
from ssea_storage.sql.schema import events
from ssea_storage.sql.store import SqlStore

T = TypeVar("T")
Command = Callable[..., None]

TENANT_COLUMNS = ("tenant_id", "name", "plan", "timezone", "active", "created_at")
KEY_COLUMNS = (
    "key_id",
    "prefix",
    "name",
    "created_at",
    "expires_at",
    "revoked_at",
    "last_used_at",
)


# -- plumbing shared by the commands ----------------------------------------------


def json_option(command: Command) -> Command:
    """Add ``--json``: the whole output is one JSON object."""
    return click.option(
        "--json",
        "as_json",
        is_flag=True,
        help="Print one JSON object and nothing else.",
    )(command)


database_option = click.option(
    "--db",
    "database_url",
    envvar="SSEA_DATABASE_URL",
    default=DEFAULT_DATABASE_URL,
    show_default=True,
    show_envvar=True,
    help="Database URL (sqlite:///file.db or postgresql://...).",
)


def _handles_errors(command: Command) -> Command:
    """Build the settings from ``--db``; turn expected errors into exit status 1."""

    @functools.wraps(command)
    def run(*args: Any, database_url: str, **kwargs: Any) -> None:
        try:
            command(*args, settings=_settings(database_url), **kwargs)
        except SseaError as error:
            _fail(error, kwargs.get("as_json", False))

    return run


def operator_command(command: Command) -> Command:
    """A command that takes ``--db`` and ``--json`` and fails with exit status 1."""
    return database_option(json_option(_handles_errors(command)))


def _settings(database_url: str) -> Settings:
    try:
        return Settings(database_url=database_url)
    except ValidationError as exc:
        problems = describe_errors(exc, what="setting")
        raise MisconfiguredError(f"An SSEA_* variable is invalid: {problems}") from exc


def _fail(error: SseaError, as_json: bool) -> None:
    click.echo(f"Error: {error.message}", err=True)
    if as_json:
        click.echo(dumps(error.envelope()).decode())
    raise click.exceptions.Exit(1)


def _with_store(settings: Settings, action: Callable[[SqlStore], Awaitable[T]]) -> T:
    """Open the store (schema ready), run ``action`` on it, close it: one event loop."""

    async def main() -> T:
        async with ready_store(settings) as store:
            return await action(store)

    return anyio.run(main)


def _emit(as_json: bool, payload: Mapping[str, Any], text: str) -> None:
    click.echo(dumps(payload).decode() if as_json else text)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds").replace("+00:00", "Z")
    if isinstance(value, Mapping):
        return (
            ", ".join(f"{name}: {_cell(item)}" for name, item in value.items()) or "-"
        )
    return str(value)


def _fields(row: Mapping[str, Any]) -> str:
    width = max(len(name) for name in row)
    return "\n".join(f"{name:<{width}}  {_cell(value)}" for name, value in row.items())


def _table(rows: Iterable[Mapping[str, Any]], columns: tuple[str, ...]) -> str:
    cells = [columns, *[tuple(_cell(row[name]) for name in columns) for row in rows]]
    widths = [max(len(line[index]) for line in cells) for index in range(len(columns))]
    lines = [
        "  ".join(f"{c:<{w}}" for c, w in zip(line, widths, strict=True))
        for line in cells
    ]
    return "\n".join(line.rstrip() for line in lines)


def _redacted(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparsable URL>"


def _tenant(record: TenantRecord) -> dict[str, Any]:
    return {**asdict(record), "daily_event_cap": record.daily_event_cap}


def _key(record: ApiKeyRecord) -> dict[str, Any]:
    row = asdict(record)
    row.pop("key_hash", None)
    return row


def _timezone(
    _ctx: click.Context, _param: click.Parameter, value: str | None
) -> str | None:
    if value is None:
        return None
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise click.BadParameter(
            f"unknown time zone {value!r}; e.g. Europe/Madrid"
        ) from exc
    return value


async def _require_tenant(store: SqlStore, tenant_id: UUID) -> None:
    if await store.operator.get_tenant(tenant_id) is None:
        raise NotFoundError(f"No tenant {tenant_id}; `ssea tenants list` shows them.")


# -- commands ---------------------------------------------------------------------


@click.group()
@click.version_option(package_name="ssea")
def cli() -> None:
    """SSEA: learning analytics for Moodle. Operator commands."""


@cli.group()
def db() -> None:
    """Database schema migrations."""


def _revision_report(settings: Settings) -> tuple[dict[str, Any], str]:
    current, head = current_revision(settings.database_url), head_revision()
    payload = {
        "database": _redacted(settings.database_url),
        "revision": current,
        "head": head,
        "up_to_date": current == head,
    }
    state = "up to date" if current == head else f"behind head {head}"
    text = f"{payload['database']}: revision {current or '(none)'}, {state}"
    return payload, text


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target revision.")
@operator_command
def db_upgrade(settings: Settings, as_json: bool, revision: str) -> None:
    """Upgrade the database schema (run before starting a new version)."""
    upgrade_database(settings.database_url, revision)
    _emit(as_json, *_revision_report(settings))


@db.command("current")
@operator_command
def db_current(settings: Settings, as_json: bool) -> None:
    """Show the schema revision of the database and whether it is current."""
    _emit(as_json, *_revision_report(settings))


@cli.group()
def tenants() -> None:
    """Tenants: one per Moodle site."""


@tenants.command("create")
@click.option("--name", required=True, help="The institution or site name.")
# A self-hosted install has no reason to cap itself; plans matter to hosted sites.
@click.option(
    "--plan", type=click.Choice(PLANS), default="enterprise", show_default=True
)
@click.option(
    "--timezone",
    "timezone_name",
    default="UTC",
    show_default=True,
    callback=_timezone,
    help="The site's time zone: its heatmap's weekdays and hours "
    "(periods are UTC days).",
)
@operator_command
def tenants_create(
    settings: Settings, as_json: bool, name: str, plan: Plan, timezone_name: str
) -> None:
    """Create a tenant and print its id."""
    now = SystemClock().now()
    record = _with_store(
        settings,
        lambda store: store.operator.create_tenant(
            name, plan, now=now, timezone=timezone_name
        ),
    )
    _emit(as_json, _tenant(record), _fields(_tenant(record)))


@tenants.command("list")
@operator_command
def tenants_list(settings: Settings, as_json: bool) -> None:
    """List every tenant."""
    records = _with_store(settings, lambda store: store.operator.list_tenants())
    rows = [_tenant(record) for record in records]
    _emit(as_json, {"tenants": rows}, _table(rows, TENANT_COLUMNS))


@tenants.command("rotate-secret")
@click.option(
    "--tenant", "tenant_id", type=click.UUID, required=True, help="Tenant id."
)
@click.option(
    "--kind",
    type=click.Choice(SECRET_KINDS),
    required=True,
    help="sso: the plugin signs SSO tokens; viewer: it signs iframe contexts.",
)
@click.option(
    "--grace-hours",
    type=click.FloatRange(min=0),
    default=None,
    help="Hours the previous secret stays valid (default: SSEA_SECRET_GRACE_SECONDS).",
)
@operator_command
def tenants_rotate_secret(
    settings: Settings,
    as_json: bool,
    tenant_id: UUID,
    kind: SecretKind,
    grace_hours: float | None,
) -> None:
    """Set a new shared secret and print it once; the old one lasts the grace period."""
    now = SystemClock().now()
    grace = (
        timedelta(hours=grace_hours)
        if grace_hours is not None
        else timedelta(seconds=settings.secret_grace_seconds)
    )

    async def rotate(store: SqlStore) -> bytes:
        await _require_tenant(store, tenant_id)
        return (
            await store.for_tenant(tenant_id)
            .access()
            .rotate_secret(kind, now=now, grace=grace)
        )

    secret = _with_store(settings, rotate).decode()
    payload = {
        "tenant_id": tenant_id,
        "kind": kind,
        "secret": secret,
        "previous_valid_until": now + grace,
    }
    _emit(as_json, payload, _fields(payload))
    if not as_json:
        click.echo("Keep the secret now: it cannot be shown again.", err=True)


def _origin(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Any:
    if value is None:
        return None
    try:
        return origin(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


@tenants.command("configure")
@click.option(
    "--tenant", "tenant_id", type=click.UUID, required=True, help="Tenant id."
)
@click.option(
    "--moodle-origin",
    callback=_origin,
    help="The Moodle site (https://moodle.example.edu) that may frame viewer pages.",
)
@click.option("--clear-moodle-origin", is_flag=True, help="No site may frame them.")
@click.option(
    "--sso-public-key",
    type=click.File("r"),
    help="PEM file: verify SSO tokens with this key instead of the shared secret.",
)
@click.option(
    "--sso-algorithm",
    type=click.Choice(PUBLIC_KEY_ALGORITHMS),
    help="The algorithm of --sso-public-key.",
)
@click.option(
    "--clear-sso-public-key", is_flag=True, help="Go back to the shared secret."
)
@operator_command
def tenants_configure(
    settings: Settings,
    as_json: bool,
    tenant_id: UUID,
    moodle_origin: str | None,
    clear_moodle_origin: bool,
    sso_public_key: Any,
    sso_algorithm: PublicKeyAlgorithm | None,
    clear_sso_public_key: bool,
) -> None:
    """Set a tenant's Moodle origin and how its SSO tokens are verified."""
    pem = sso_public_key.read() if sso_public_key is not None else None
    if (pem is None) != (sso_algorithm is None):
        raise click.UsageError("--sso-public-key and --sso-algorithm go together.")
    if pem is not None and sso_algorithm is not None:
        try:
            check_public_key(pem, sso_algorithm)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--sso-public-key") from exc

    async def configure(store: SqlStore) -> None:
        await _require_tenant(store, tenant_id)
        access = store.for_tenant(tenant_id).access()
        if moodle_origin is not None or clear_moodle_origin:
            await access.set_moodle_origin(moodle_origin)
        if pem is not None or clear_sso_public_key:
            await access.set_sso_public_key(pem, sso_algorithm)

    _with_store(settings, configure)
    payload: dict[str, Any] = {"tenant_id": tenant_id}
    if moodle_origin is not None or clear_moodle_origin:
        payload["moodle_origin"] = moodle_origin
    if pem is not None or clear_sso_public_key:
        payload["sso_key_algorithm"] = sso_algorithm
    _emit(as_json, payload, _fields(payload))


@cli.group()
def viewer() -> None:
    """Viewer signatures for Moodle iframes (what the plugin computes)."""


@viewer.command("sign")
@click.option(
    "--tenant", "tenant_id", type=click.UUID, required=True, help="Tenant id."
)
@click.option("--role", type=click.Choice(VIEWER_ROLES), required=True)
@click.option("--user", "moodle_user_id", required=True, help="The Moodle user id.")
@click.option(
    "--ttl",
    type=click.IntRange(1, 3600),
    default=600,
    show_default=True,
    help="Seconds until the context expires (at most 3600).",
)
@operator_command
def viewer_sign(
    settings: Settings,
    as_json: bool,
    tenant_id: UUID,
    role: ViewerRole,
    moodle_user_id: str,
    ttl: int,
) -> None:
    """Print the X-SSEA-Viewer-Context and -Signature headers of one viewer."""
    now = SystemClock().now()

    async def secret(store: SqlStore) -> bytes:
        auth = await store.operator.tenant_auth(tenant_id, now=now)
        if auth is None:
            raise NotFoundError(
                f"No tenant {tenant_id}; `ssea tenants list` shows them."
            )
        if not auth.viewer_secrets:
            raise MisconfiguredError(
                "The tenant has no viewer secret; run `ssea tenants rotate-secret "
                "--kind viewer`."
            )
        return auth.viewer_secrets[0]

    headers = sign_viewer_context(
        _with_store(settings, secret),
        tenant_id=tenant_id,
        role=role,
        moodle_user_id=moodle_user_id,
        exp=int(now.timestamp()) + ttl,
    )
    payload = {"headers": headers.as_dict(), "expires_at": now + timedelta(seconds=ttl)}
    text = "\n".join(f"{name}: {value}" for name, value in headers.as_dict().items())
    _emit(as_json, payload, text)


@cli.group()
def keys() -> None:
    """API keys (X-SSEA-Key) and the master key."""


def _tenant_option(command: Command) -> Command:
    return click.option(
        "--tenant", "tenant_id", type=click.UUID, required=True, help="Tenant id."
    )(command)


@keys.command("create")
@_tenant_option
@click.option("--name", default="", help="What the key is for, e.g. moodle-plugin.")
@click.option(
    "--expires-days",
    type=click.IntRange(min=1),
    default=None,
    help="Days until the key expires (default: never).",
)
@operator_command
def keys_create(
    settings: Settings,
    as_json: bool,
    tenant_id: UUID,
    name: str,
    expires_days: int | None,
) -> None:
    """Create an API key; the key is printed this once and never stored."""
    key = generate_api_key()
    now = SystemClock().now()
    expires_at = now + timedelta(days=expires_days) if expires_days else None

    async def create(store: SqlStore) -> ApiKeyRecord:
        await _require_tenant(store, tenant_id)
        return await store.for_tenant(tenant_id).create_api_key(
            key_hash=key.key_hash,
            prefix=key.prefix,
            name=name,
            now=now,
            expires_at=expires_at,
        )

    record = _with_store(settings, create)
    payload = {"key": key.plaintext, **_key(record)}
    _emit(as_json, payload, _fields(payload))
    if not as_json:
        click.echo("Keep the key now: it cannot be shown again.", err=True)


@keys.command("list")
@_tenant_option
@operator_command
def keys_list(settings: Settings, as_json: bool, tenant_id: UUID) -> None:
    """List a tenant's keys (never the keys themselves)."""

    async def find(store: SqlStore) -> list[ApiKeyRecord]:
        await _require_tenant(store, tenant_id)
        return await store.for_tenant(tenant_id).list_api_keys()

    rows = [_key(record) for record in _with_store(settings, find)]
    _emit(as_json, {"keys": rows}, _table(rows, KEY_COLUMNS))


@keys.command("revoke")
@_tenant_option
@click.option("--key-id", required=True, help="The key_id that `keys list` shows.")
@operator_command
def keys_revoke(
    settings: Settings, as_json: bool, tenant_id: UUID, key_id: str
) -> None:
    """Revoke a tenant's key, with immediate effect."""
    now = SystemClock().now()

    async def revoke(store: SqlStore) -> None:
        await _require_tenant(store, tenant_id)
        if not await store.for_tenant(tenant_id).revoke_api_key(key_id, now=now):
            raise NotFoundError(f"Tenant {tenant_id} has no key {key_id}.")

    _with_store(settings, revoke)
    payload = {"tenant_id": tenant_id, "key_id": key_id, "revoked_at": now}
    _emit(as_json, payload, f"Revoked {key_id}.")


@keys.command("master")
@json_option
def keys_master(as_json: bool) -> None:
    """Print a new master key for SSEA_MASTER_KEY (encrypts tenant secrets)."""
    key = new_master_key()
    _emit(as_json, {"master_key": key}, key)


@cli.command()
@click.option("--host", help="Interface to bind (default: SSEA_HOST or 127.0.0.1).")
@click.option(
    "--port",
    type=click.IntRange(1, 65_535),
    help="Port to listen on (default: SSEA_PORT or 8000).",
)
@database_option
@_handles_errors
def serve(settings: Settings, host: str | None, port: int | None) -> None:
    """Serve the API with uvicorn until interrupted (needs the server extra)."""
    # Fail here, with a one-line message, rather than in the server's startup.
    _with_store(settings, _nothing)
    _serve(settings, host, port)


def _serve(settings: Settings, host: str | None, port: int | None) -> None:
    try:
        import uvicorn
    except ImportError as exc:
        raise MisconfiguredError(
            'ssea serve needs uvicorn: pip install "ssea[server]"'
        ) from exc
    uvicorn.run(
        create_app(settings),
        host=host or settings.host,
        port=port or settings.port,
        lifespan="on",
    )


async def _nothing(_store: SqlStore) -> None:
    return None


@cli.command("openapi")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write the document to this file instead of printing it.",
)
@json_option
def openapi(as_json: bool, output: Path | None) -> None:
    """Print the OpenAPI 3.1 document of the API (needs no database).

    Indented JSON by default; --json prints it on one line. With --output, the file
    gets the document and the output says what was written.
    """
    document = build_document(build_router().routes)
    text = json.dumps(document, ensure_ascii=False, indent=None if as_json else 2)
    if output is None:
        click.echo(text)
        return
    output.write_text(text + "\n", encoding="utf-8")
    operations = sum(len(item) for item in document["paths"].values())
    payload = {"path": str(output), "operations": operations}
    _emit(as_json, payload, f"Wrote {operations} operations to {output}.")


# -- data in: imports and the demo term ---------------------------------------------


def _progress(label: str, total: int | None) -> Progress:
    """A progress bar on stderr; silent when stderr is not a terminal."""
    return Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=not sys.stderr.isatty(),
        transient=True,
    )


def _ingestor(store: SqlStore, settings: Settings) -> Ingestor:
    return Ingestor(Services(store, settings, SystemClock()))


@cli.command("import")
@click.argument("kind", type=click.Choice(sorted(SOURCES)))
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@_tenant_option
@click.option(
    "--timezone",
    "timezone_name",
    callback=_timezone,
    help="The site's time zone, for moodle-logs downloads printed in local time "
    "(default: UTC). The other kinds carry UTC or an offset in their times.",
)
@click.option(
    "--site-course-id",
    help="The course id of the site's front page, whose events are site-level, with "
    "no course (default: 1). For moodle-logs, logstore and xapi.",
)
@click.option(
    "--chunk-size",
    type=click.IntRange(1, 50_000),
    default=2_000,
    show_default=True,
    help="Rows ingested per transaction.",
)
@operator_command
def import_command(
    settings: Settings,
    as_json: bool,
    kind: str,
    path: Path,
    tenant_id: UUID,
    timezone_name: str | None,
    site_course_id: str | None,
    chunk_size: int,
) -> None:
    """Import a Moodle log download, logstore dump, xAPI file or OULAD folder."""
    options: dict[str, Any] = {}
    if timezone_name is not None:
        _only_for(kind, "--timezone", ("moodle-logs",), "their times are not local")
        options["timezone"] = timezone_name
    if site_course_id is not None:
        _only_for(kind, "--site-course-id", SITE_COURSE_KINDS)
        options["site_course_id"] = site_course_id

    async def run(store: SqlStore) -> ImportSummary:
        await _require_tenant(store, tenant_id)
        source = open_source(kind, path, **options)
        with _progress(f"importing {path.name}", None) as bar:
            task = bar.add_task("rows", total=None)
            return await import_into(
                _ingestor(store, settings),
                tenant_id,
                source,
                chunk_size=chunk_size,
                progress=lambda rows: bar.update(task, completed=rows),
            )

    summary = _with_store(settings, run).model_dump()
    _emit(as_json, summary, _fields(summary))


def _only_for(kind: str, option: str, kinds: Sequence[str], why: str = "") -> None:
    """A usage error when ``option`` was given to an import of another kind."""
    if kind not in kinds:
        reason = f" ({why})" if why else ""
        raise click.UsageError(
            f"{option} applies to {', '.join(kinds)} imports only, not {kind}{reason}."
        )


DEMO_TENANT = "SSEA Demo"
#: The options that shape the generated term; they matter only on a first load.
TERM_OPTIONS = ("students", "courses", "weeks", "seed")


#: The import kinds whose sources know Moodle's front-page course.
SITE_COURSE_KINDS = ("moodle-logs", "logstore", "xapi")


async def _demo_tenant(store: SqlStore) -> TenantRecord:
    """The demo tenant of this database, created on the enterprise plan once."""
    for tenant in await store.operator.list_tenants():
        if tenant.name == DEMO_TENANT:
            return tenant
    return await store.operator.create_tenant(
        DEMO_TENANT, "enterprise", now=SystemClock().now()
    )


def _given(name: str) -> bool:
    """Whether the option ``name`` of the running command was given, not defaulted."""
    source = click.get_current_context().get_parameter_source(name)
    return source not in (None, click.core.ParameterSource.DEFAULT)


async def _demo_loaded(store: SqlStore, tenant_id: UUID) -> bool:
    query = select(events.c.event_id).where(events.c.tenant_id == tenant_id).limit(1)
    found = await store.executor.run(lambda c: c.execute(query).first())
    return found is not None


def _regenerate_hint(database_url: str) -> str:
    """How to get a new demo term: a database without the demo tenant."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (
        None,
        "",
        ":memory:",
    ):
        return f"delete {url.database} or pass another --db"
    return "pass another --db"


@cli.command()
@click.option(
    "--students",
    type=click.IntRange(1, 50_000),
    default=300,
    show_default=True,
    help="Students in the generated term (first load only).",
)
@click.option(
    "--courses",
    type=click.IntRange(1, 1_000),
    default=12,
    show_default=True,
    help="Courses in the term (first load only).",
)
@click.option(
    "--weeks",
    type=click.IntRange(1, 52),
    default=14,
    show_default=True,
    help="Length of the term, ending yesterday (first load only).",
)
@click.option(
    "--seed",
    type=int,
    default=7,
    show_default=True,
    help="Random seed: the same seed and shape give the same term (first load only).",
)
@click.option(
    "--serve/--no-serve",
    "then_serve",
    default=True,
    show_default=True,
    help="Serve the API once the term is loaded.",
)
@click.option("--host", help="Interface to bind (default: SSEA_HOST or 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65_535), help="Port to listen on.")
@operator_command
def demo(
    settings: Settings,
    as_json: bool,
    students: int,
    courses: int,
    weeks: int,
    seed: int,
    then_serve: bool,
    host: str | None,
    port: int | None,
) -> None:
    """Fill a demo tenant with a generated term, print a key and curl lines, serve.

    Run again on the same database, it keeps the term it loaded the first time and
    only prints a new key; to generate another term, delete the database file or
    pass another --db.
    """
    yesterday = SystemClock().now().date() - timedelta(days=1)
    shape = TermShape.ending_on(
        yesterday, students=students, courses=courses, weeks=weeks, seed=seed
    )

    async def run(store: SqlStore) -> dict[str, Any]:
        tenant = await _demo_tenant(store)
        summary: dict[str, Any] = {"already_loaded": True}
        if not await _demo_loaded(store, tenant.tenant_id):
            with _progress("generating the term", shape.estimated_events) as bar:
                task = bar.add_task("events", total=shape.estimated_events)

                def advance(stage: str, done: int) -> None:
                    if stage == "events":
                        bar.update(task, completed=done)

                loaded = await load_demo(
                    _ingestor(store, settings),
                    tenant.tenant_id,
                    shape,
                    progress=advance,
                )
            summary = loaded.as_dict()
        key = generate_api_key()
        await store.for_tenant(tenant.tenant_id).create_api_key(
            key_hash=key.key_hash,
            prefix=key.prefix,
            name="ssea demo",
            now=SystemClock().now(),
            expires_at=None,
        )
        return {"tenant_id": str(tenant.tenant_id), "api_key": key.plaintext, **summary}

    result = _with_store(settings, run)
    base = f"http://{host or settings.host}:{port or settings.port}"
    prefix = f"{base}/v1/tenants/{result['tenant_id']}"
    curls = [
        f'curl -H "X-SSEA-Key: {result["api_key"]}" "{prefix}/overview?days=30"',
        f'curl -H "X-SSEA-Key: {result["api_key"]}" "{prefix}/courses?limit=5"',
        f'curl -H "X-SSEA-Key: {result["api_key"]}" "{prefix}/heatmap?days=30"',
    ]
    hint = _regenerate_hint(settings.database_url)
    loaded = (
        f"the demo term was loaded before (for a new one: {hint})"
        if result.get("already_loaded")
        else f"{result['events_stored']} events stored, "
        f"{result['first_day']} to {result['last_day']}"
    )
    given = [f"--{name}" for name in TERM_OPTIONS if _given(name)]
    if result.get("already_loaded") and given:
        click.echo(
            f"Ignored {', '.join(given)}: the demo term is already loaded; "
            f"for a new one, {hint}.",
            err=True,
        )
    text = [
        f"tenant   {result['tenant_id']}",
        f"api key  {result['api_key']}  (shown once)",
        loaded,
        "",
        *curls,
    ]
    _emit(as_json, {**result, "curl": curls}, "\n".join(text))
    if then_serve:
        _serve(settings, host, port)


# -- report jobs: workers and one-off reports (issue 6) ------------------------------


def _report_services(store: SqlStore, settings: Settings) -> Services:
    clock = SystemClock()
    artifacts = artifact_store_from_settings(settings, clock=clock)
    return Services(store, settings, clock, artifacts=artifacts)


async def _until_signalled(stop: anyio.Event, scope: anyio.CancelScope) -> None:
    """First SIGINT or SIGTERM: finish the jobs in hand; a second: stop at once."""
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for _signal in signals:
            if stop.is_set():
                scope.cancel()
                return
            stop.set()
            click.echo("Stopping after the jobs in hand (again to stop now).", err=True)


@cli.command()
@click.option(
    "--concurrency",
    type=click.IntRange(1, 32),
    default=None,
    help="Jobs at a time (default: SSEA_REPORT_WORKER_CONCURRENCY or 1).",
)
@click.option("--worker-id", help="Name in leases and logs (default: host-pid-random).")
@click.option("--once", is_flag=True, help="Run the jobs due now and one sweep, exit.")
@database_option
@_handles_errors
def worker(
    settings: Settings, concurrency: int | None, worker_id: str | None, once: bool
) -> None:
    """Run report workers until interrupted; any number of processes may share one
    PostgreSQL database (SQLite: one machine)."""
    count = concurrency or settings.report_worker_concurrency

    async def run(store: SqlStore) -> None:
        services = _report_services(store, settings)
        if once:
            done = await _drain(ReportWorker(services, worker_id=worker_id))
            click.echo(f"{done} report jobs run.", err=True)
            return
        stop = anyio.Event()
        async with anyio.create_task_group() as group:
            group.start_soon(_until_signalled, stop, group.cancel_scope)
            async with anyio.create_task_group() as workers:
                for index in range(count):
                    name = (
                        f"{worker_id}-{index + 1}" if worker_id and count > 1 else None
                    )
                    workers.start_soon(
                        functools.partial(
                            run_worker,
                            services,
                            worker_id=name or worker_id,
                            stop_event=stop,
                        )
                    )
            group.cancel_scope.cancel()

    _with_store(settings, run)


async def _drain(report_worker: ReportWorker) -> int:
    await report_worker.sweep()
    done = 0
    while await report_worker.run_one() is not None:
        done += 1
    return done


@cli.group()
def reports() -> None:
    """Report exports (SPEC §7) run in the foreground, for scripts."""


def _param(_ctx: click.Context, _param: click.Parameter, values: Any) -> Any:
    found: dict[str, str] = {}
    for value in values:
        name, sep, text = value.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(f"{value!r} is not NAME=VALUE")
        found[name.strip()] = text
    return found


class _FileSink:
    def __init__(self, file: Any) -> None:
        self._file = file

    async def write(self, chunk: bytes) -> None:
        await self._file.write(chunk)


@reports.command("run")
@click.argument("report_type", type=click.Choice(REPORT_TYPES))
@_tenant_option
@click.option(
    "--format", "report_format", type=click.Choice(["csv", "json"]), default="csv"
)
@click.option(
    "--param",
    "params",
    multiple=True,
    callback=_param,
    help="A report parameter, NAME=VALUE (date_from, date_to, max_weeks, course_id).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the report here (complete or not at all); default: stdout.",
)
@operator_command
def reports_run(
    settings: Settings,
    as_json: bool,
    report_type: ReportType,
    tenant_id: UUID,
    report_format: ReportFormat,
    params: dict[str, str],
    out: Path | None,
) -> None:
    """Build one report now and write it to a file or stdout."""
    request = resolve_request(
        report_type, params, SystemClock().now().date(), report_format
    )

    async def run(store: SqlStore) -> WriteSummary:
        await _require_tenant(store, tenant_id)
        source = store.for_tenant(tenant_id).reports()
        if out is None:
            stdout = anyio.wrap_file(sys.stdout.buffer)
            return await _write(request, source, _FileSink(stdout))
        partial = out.with_name(f".{out.name}.part")
        try:
            async with await anyio.open_file(partial, "wb") as file:
                summary = await _write(request, source, _FileSink(file))
            partial.replace(out)
        finally:
            partial.unlink(missing_ok=True)
        return summary

    summary = _with_store(settings, run)
    payload = {
        "report_type": report_type,
        "format": report_format,
        "rows": summary.rows,
        "bytes": summary.bytes,
        "out": str(out) if out is not None else None,
    }
    if out is None:
        click.echo(f"{summary.rows} rows, {summary.bytes} bytes.", err=True)
    else:
        _emit(as_json, payload, _fields(payload))


async def _write(request: ReportRequest, source: Any, sink: _FileSink) -> WriteSummary:
    async with aclosing(source.rows(request)) as rows:
        return await write_report(
            REPORTS[request.report_type], rows, request.format, sink
        )


# -- risk scores and alerts (issue 5) -----------------------------------------------


@cli.group()
def risk() -> None:
    """Risk scores (SPEC §6); a running service recomputes them after ingestion."""


def _summary_text(summary: RecomputeSummary) -> str:
    row = summary.as_dict()
    row["levels"] = ", ".join(f"{name} {n}" for name, n in summary.levels.items())
    changes = summary.alerts
    row["alerts"] = (
        "not evaluated (--as-of)"
        if changes is None
        else f"{changes.raised} raised, {changes.updated} updated"
    )
    return _fields(row)


@risk.command("recompute")
@_tenant_option
@click.option(
    "--as-of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Score as of the start of this UTC day, from the data dated before it "
    "(default: now). Alerts are evaluated only as of now.",
)
@operator_command
def risk_recompute(
    settings: Settings, as_json: bool, tenant_id: UUID, as_of: datetime | None
) -> None:
    """Score every student of a tenant, store the scores, evaluate the alerts."""
    now = SystemClock().now()
    moment = day_start(as_of.date()) if as_of is not None else now

    async def run(store: SqlStore) -> RecomputeSummary:
        await _require_tenant(store, tenant_id)
        return await recompute(
            store, tenant_id, as_of=moment, now=now, alerts=as_of is None
        )

    summary = _with_store(settings, run)
    _emit(as_json, summary.as_dict(), _summary_text(summary))


def _risk_settings(text: str) -> tuple[RiskSettings, AlertSettings]:
    try:
        given = json.loads(text)
    except ValueError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--set") from exc
    if not isinstance(given, dict) or set(given) - {"risk", "alerts"}:
        raise click.BadParameter(
            'expected an object with "risk" and/or "alerts"', param_hint="--set"
        )
    try:
        return (
            RiskSettings.model_validate(given.get("risk") or {}),
            AlertSettings.model_validate(given.get("alerts") or {}),
        )
    except ValidationError as exc:
        problems = describe_errors(exc, what="setting")
        raise click.BadParameter(problems, param_hint="--set") from exc


@risk.command("settings")
@_tenant_option
@click.option(
    "--set",
    "source",
    type=click.File("r"),
    help='A JSON file (- for stdin) {"risk": {...}, "alerts": {...}}: checked, '
    "stored (absent fields take their defaults) and recomputed at the next pass.",
)
@operator_command
def risk_settings(
    settings: Settings, as_json: bool, tenant_id: UUID, source: Any
) -> None:
    """Show a tenant's risk and alert settings, or set them (docs/risk.md)."""
    chosen = _risk_settings(source.read()) if source is not None else None
    now = SystemClock().now()

    async def run(store: SqlStore) -> tuple[RiskSettings, AlertSettings]:
        await _require_tenant(store, tenant_id)
        repository = store.for_tenant(tenant_id).risk()
        if chosen is not None:
            await repository.save_settings(*chosen, now=now)
        return await repository.settings()

    risk_found, alerts_found = _with_store(settings, run)
    payload = {
        "risk": risk_found.model_dump(mode="json"),
        "alerts": alerts_found.model_dump(mode="json"),
    }
    _emit(as_json, payload, json.dumps(payload, indent=2))


@cli.group()
def alerts() -> None:
    """Alerts about students (SPEC §6): inactivity, performance drops, …"""


@alerts.command("evaluate")
@_tenant_option
@operator_command
def alerts_evaluate(settings: Settings, as_json: bool, tenant_id: UUID) -> None:
    """Evaluate a tenant's alert rules now (scores stay as stored)."""
    now = SystemClock().now()

    async def run(store: SqlStore) -> dict[str, Any]:
        await _require_tenant(store, tenant_id)
        changes = await evaluate_tenant_alerts(store, tenant_id, now=now)
        return {"tenant_id": tenant_id, **asdict(changes)}

    payload = _with_store(settings, run)
    _emit(as_json, payload, _fields(payload))


def main() -> None:
    """Entry point of the ``ssea`` console script."""
    cli()


if __name__ == "__main__":
    main()
