"""Artifacts over fsspec: a local folder, and S3 through s3fs against a real server.

The S3 tests start moto's S3 server on 127.0.0.1 (a free port) in this process. moto
5 neither checks the signature nor the expiry of a presigned URL, so the server runs
behind :class:`PresignCheck`, a small WSGI layer that does what S3 and R2 do with a
query-signed request: recompute its SigV4 signature with the known secret (botocore's
signer) and refuse it (403) when it does not match or is past
``X-Amz-Date + X-Amz-Expires``.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import AsyncGenerator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit, urlunsplit
from uuid import UUID

import anyio
import pytest
from pydantic import SecretStr

from ssea_core.artifacts import (
    ArtifactNotFoundError,
    ExpiredDownloadLinkError,
    InvalidArtifactKeyError,
    InvalidDownloadLinkError,
    verify_local_signature,
)
from ssea_core.clock import FixedClock
from ssea_core.errors import MisconfiguredError
from ssea_core.reports import (
    REPORTS,
    ReportRequest,
    export_report,
    parse_csv,
    resolve_request,
)
from ssea_storage.artifacts import FsspecArtifactStore, S3Options

TENANT = UUID("11111111-1111-4111-8111-111111111111")
OTHER = UUID("22222222-2222-4222-8222-222222222222")
SECRET = "a-signing-secret-of-at-least-32-bytes"
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
KEY = "reports/job_1/early_warning_summary.csv"


async def put(store: FsspecArtifactStore, tenant: UUID, key: str, data: bytes) -> None:
    async with store.open_writer(tenant, key, "text/csv; charset=utf-8") as writer:
        for start in range(0, len(data), 7):
            await writer.write(data[start : start + 7])


async def get(
    store: FsspecArtifactStore, tenant: UUID, key: str, chunk_size: int = 5
) -> bytes:
    chunks = [c async for c in store.read(tenant, key, chunk_size=chunk_size)]
    assert all(len(chunk) <= chunk_size for chunk in chunks)
    return b"".join(chunks)


async def put_then_fail(store: FsspecArtifactStore, key: str, size: int) -> None:
    async with store.open_writer(TENANT, key, "text/csv") as writer:
        await writer.write(b"x" * size)
        raise RuntimeError("the report failed half-way")


class RowsSource:
    """A report source of a few early-warning rows."""

    async def rows(
        self, request: ReportRequest
    ) -> AsyncGenerator[dict[str, Any], None]:
        for index in range(3):
            row = dict.fromkeys(REPORTS["early_warning_summary"].names)
            yield {**row, "course_id": f"c{index}", "shortname": "Ünïcode, quoted"}


# -- local folder ----------------------------------------------------------------------


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def local(tmp_path: Path, clock: FixedClock) -> FsspecArtifactStore:
    return FsspecArtifactStore(f"file://{tmp_path}", signing_secret=SECRET, clock=clock)


async def test_local_round_trip(local: FsspecArtifactStore, tmp_path: Path) -> None:
    data = b"course_id,enrolled\r\nc1,3\r\n" * 10

    await put(local, TENANT, KEY, data)

    assert (tmp_path / str(TENANT) / KEY).read_bytes() == data
    assert await get(local, TENANT, KEY) == data
    assert await local.size(TENANT, KEY) == len(data)
    assert await local.exists(TENANT, KEY) is True
    await put(local, TENANT, KEY, b"replaced")
    assert await get(local, TENANT, KEY) == b"replaced"
    assert await local.delete(TENANT, KEY) is True
    assert await local.delete(TENANT, KEY) is False
    assert await local.exists(TENANT, KEY) is False


async def test_local_tenants_cannot_reach_each_other(
    local: FsspecArtifactStore,
) -> None:
    await put(local, TENANT, KEY, b"secret rows")

    assert await local.exists(OTHER, KEY) is False
    with pytest.raises(ArtifactNotFoundError) as caught:
        await get(local, OTHER, KEY)
    assert (caught.value.status, caught.value.code) == (404, "NOT_FOUND")
    with pytest.raises(ArtifactNotFoundError):
        await local.size(OTHER, KEY)
    with pytest.raises(ArtifactNotFoundError):
        await local.signed_url(OTHER, KEY, timedelta(minutes=5))
    assert await local.delete(OTHER, KEY) is False
    # Climbing out of the tenant is not a key at all.
    with pytest.raises(InvalidArtifactKeyError):
        await local.exists(OTHER, f"../{TENANT}/{KEY}")
    assert await get(local, TENANT, KEY) == b"secret rows"


async def test_a_folder_is_not_an_artifact(local: FsspecArtifactStore) -> None:
    await put(local, TENANT, KEY, b"rows")

    assert await local.exists(TENANT, "reports/job_1") is False
    with pytest.raises(ArtifactNotFoundError):
        await get(local, TENANT, "reports")
    assert await local.delete(TENANT, "reports") is False


async def test_a_failed_local_write_leaves_nothing(
    local: FsspecArtifactStore, tmp_path: Path
) -> None:
    await put(local, TENANT, KEY, b"the previous report")

    with pytest.raises(RuntimeError, match="half-way"):
        await put_then_fail(local, KEY, 1000)

    assert await get(local, TENANT, KEY) == b"the previous report"
    folder = tmp_path / str(TENANT) / "reports" / "job_1"
    assert sorted(path.name for path in folder.iterdir()) == [
        "early_warning_summary.csv"
    ]


async def test_local_signed_url_verifies_until_expiry(
    local: FsspecArtifactStore, clock: FixedClock
) -> None:
    await put(local, TENANT, KEY, b"rows")

    signed = await local.signed_url(TENANT, KEY, timedelta(minutes=15))

    assert signed is not None
    assert signed.expires_at == NOW + timedelta(minutes=15)
    parts = urlsplit(signed.url)
    assert parts.path == f"/v1/artifacts/{TENANT}/{KEY}"
    query = {name: values[0] for name, values in parse_qs(parts.query).items()}
    assert set(query) == {"expires", "signature"}
    tenant, key = UUID(parts.path.split("/")[3]), parts.path.split("/", 4)[4]

    verify_local_signature(SECRET, tenant, key, **query, now=clock.now())
    with pytest.raises(InvalidDownloadLinkError):
        verify_local_signature(SECRET, OTHER, key, **query, now=clock.now())
    with pytest.raises(InvalidDownloadLinkError):
        verify_local_signature("another-secret-" * 3, tenant, key, **query, now=NOW)
    clock.advance(minutes=15)
    with pytest.raises(ExpiredDownloadLinkError):
        verify_local_signature(SECRET, tenant, key, **query, now=clock.now())


async def test_local_links_take_the_public_base_url(tmp_path: Path) -> None:
    store = FsspecArtifactStore(
        str(tmp_path),
        signing_secret=SECRET,
        public_base_url="https://analytics.example.edu",
    )
    await put(store, TENANT, KEY, b"rows")

    signed = await store.signed_url(TENANT, KEY, timedelta(minutes=1))

    assert signed is not None
    assert signed.url.startswith(
        f"https://analytics.example.edu/v1/artifacts/{TENANT}/"
    )


async def test_without_a_secret_local_artifacts_are_streamed_inline(
    tmp_path: Path,
) -> None:
    store = FsspecArtifactStore(f"file://{tmp_path}")
    await put(store, TENANT, KEY, b"rows")

    assert await store.signed_url(TENANT, KEY, timedelta(minutes=1)) is None
    with pytest.raises(ValueError, match="1 s to 7 days"):
        await store.signed_url(TENANT, KEY, timedelta(days=8))


async def test_the_default_folder_is_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = FsspecArtifactStore()
    monkeypatch.chdir("/")

    await put(store, TENANT, KEY, b"rows")

    assert (tmp_path / "ssea-artifacts" / str(TENANT) / KEY).read_bytes() == b"rows"


def test_an_unknown_scheme_is_a_misconfiguration() -> None:
    with pytest.raises(MisconfiguredError, match="ftp://"):
        FsspecArtifactStore("ftp://example.org/reports")


async def test_a_report_export_into_a_folder(
    local: FsspecArtifactStore, tmp_path: Path
) -> None:
    request = resolve_request("early_warning_summary", {}, NOW.date())

    result = await export_report(request, RowsSource(), local, TENANT, KEY)

    text = (tmp_path / str(TENANT) / KEY).read_bytes().decode()
    rows = parse_csv(REPORTS["early_warning_summary"], text)
    assert [row["course_id"] for row in rows] == ["c0", "c1", "c2"]
    assert rows[0]["shortname"] == "Ünïcode, quoted"
    assert result.bytes == len(text.encode())


# -- S3 through a real S3-compatible server --------------------------------------------

ACCESS_KEY, SECRET_KEY, REGION, BUCKET = "testing", "testing", "us-east-1", "artifacts"


def presign_problem(url: str, method: str) -> str | None:
    """Why S3 would refuse this query-signed request, or None (also: not presigned)."""
    from botocore.auth import S3SigV4QueryAuth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    parts = urlsplit(url)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    query = dict(pairs)
    if "X-Amz-Signature" not in query:
        return None
    stamp = datetime.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    lifetime = int(query["X-Amz-Expires"])
    if datetime.now(UTC) > stamp + timedelta(seconds=lifetime):
        return "Request has expired"
    rest = urlencode([(k, v) for k, v in pairs if not k.startswith("X-Amz-")])
    request = AWSRequest(
        method=method,
        url=urlunsplit(parts._replace(query=rest)),
        headers={"host": parts.netloc},
    )
    request.context["timestamp"] = query["X-Amz-Date"]
    credentials = Credentials(ACCESS_KEY, SECRET_KEY)
    auth = S3SigV4QueryAuth(credentials, "s3", REGION, expires=lifetime)
    auth._modify_request_before_signing(request)
    canonical = auth.canonical_request(request)
    expected = auth.signature(auth.string_to_sign(request, canonical), request)
    return None if expected == query["X-Amz-Signature"] else "SignatureDoesNotMatch"


class PresignCheck:
    """WSGI middleware: refuse presigned requests S3 would refuse."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        from werkzeug.wrappers import Request, Response

        request = Request(environ)
        problem = presign_problem(request.url, request.method)
        if problem is None:
            return self.app(environ, start_response)
        body = f"<Error><Code>AccessDenied</Code><Message>{problem}</Message></Error>"
        response = Response(body, status=403, content_type="application/xml")
        return response(environ, start_response)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    pytest.importorskip("s3fs")
    pytest.importorskip("moto.server", reason="install moto[server] for S3 tests")
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        create_backend_app,
    )
    from moto.server import ThreadedMotoServer
    from werkzeug.serving import make_server

    class CheckedMotoServer(ThreadedMotoServer):
        def _server_entry(self) -> None:
            app = PresignCheck(DomainDispatcherApplication(create_backend_app))
            self._server = make_server(self._ip_address, self._port, app, True)
            self._server_ready_event.set()
            self._server.serve_forever()

    server = CheckedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    _create_bucket(endpoint)
    yield endpoint
    server.stop()


def _create_bucket(endpoint: str) -> None:
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name=REGION,
    )
    client.create_bucket(Bucket=BUCKET)


@pytest.fixture
def s3(s3_endpoint: str) -> FsspecArtifactStore:
    options = S3Options(
        endpoint_url=s3_endpoint,
        region=REGION,
        access_key_id=ACCESS_KEY,
        secret_access_key=SecretStr(SECRET_KEY),
        addressing_style="path",
    )
    # The real clock: the server checks presigned URLs against real time.
    return FsspecArtifactStore(f"s3://{BUCKET}/ssea", s3_options=options)


def http_get(url: str) -> Any:
    import httpx

    return httpx.get(url, timeout=10)


async def test_s3_report_artifact_downloads_through_its_presigned_url(
    s3: FsspecArtifactStore,
) -> None:
    request = resolve_request("early_warning_summary", {}, NOW.date())
    await export_report(request, RowsSource(), s3, TENANT, KEY)
    stored = await get(s3, TENANT, KEY, chunk_size=64)

    signed = await s3.signed_url(TENANT, KEY, timedelta(minutes=5))

    assert signed is not None
    query = parse_qs(urlsplit(signed.url).query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Expires"] == ["300"]
    assert urlsplit(signed.url).path == f"/{BUCKET}/ssea/{TENANT}/{KEY}"
    answer = await anyio.to_thread.run_sync(http_get, signed.url)
    assert answer.status_code == 200
    assert answer.content == stored
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    rows = parse_csv(REPORTS["early_warning_summary"], answer.content.decode())
    assert [row["course_id"] for row in rows] == ["c0", "c1", "c2"]


async def test_s3_presigned_url_is_refused_once_expired_or_altered(
    s3: FsspecArtifactStore,
) -> None:
    await put(s3, TENANT, KEY, b"rows")
    signed = await s3.signed_url(TENANT, KEY, timedelta(seconds=1))
    assert signed is not None
    tampered = signed.url.replace(KEY, KEY.replace("early", "later"))
    await put(s3, TENANT, KEY.replace("early", "later"), b"other rows")

    first = await anyio.to_thread.run_sync(http_get, signed.url)
    altered = await anyio.to_thread.run_sync(http_get, tampered)
    await anyio.sleep(2.1)
    late = await anyio.to_thread.run_sync(http_get, signed.url)

    assert (first.status_code, first.content) == (200, b"rows")
    assert altered.status_code == 403
    assert late.status_code == 403
    assert b"Request has expired" in late.content


async def test_s3_round_trip_and_tenancy(s3: FsspecArtifactStore) -> None:
    data = os.urandom(100_000)

    await put(s3, TENANT, "blob.bin", data)

    assert await get(s3, TENANT, "blob.bin", chunk_size=4096) == data
    assert await s3.size(TENANT, "blob.bin") == len(data)
    assert await s3.exists(OTHER, "blob.bin") is False
    with pytest.raises(ArtifactNotFoundError):
        await get(s3, OTHER, "blob.bin")
    with pytest.raises(ArtifactNotFoundError):
        await s3.signed_url(OTHER, "blob.bin", timedelta(minutes=1))
    assert await s3.exists(TENANT, "reports") is False
    assert await s3.delete(OTHER, "blob.bin") is False
    assert await s3.delete(TENANT, "blob.bin") is True
    assert await s3.exists(TENANT, "blob.bin") is False


@pytest.mark.parametrize("size", [1000, 9 * 1024 * 1024])  # one shot; multipart
async def test_a_failed_s3_write_leaves_nothing(
    s3: FsspecArtifactStore, size: int
) -> None:
    started = time.monotonic()

    with pytest.raises(RuntimeError, match="half-way"):
        await put_then_fail(s3, f"failed-{size}.csv", size)

    assert await s3.exists(TENANT, f"failed-{size}.csv") is False
    assert time.monotonic() - started < 30


def test_r2_urls_default_to_region_auto() -> None:
    options = S3Options(endpoint_url="https://account.r2.cloudflarestorage.com")

    settings = options.filesystem_options("r2")

    assert settings["client_kwargs"] == {"region_name": "auto"}
    assert settings["config_kwargs"]["signature_version"] == "s3v4"
    assert settings["fixed_upload_size"] is True
    assert S3Options().filesystem_options("s3")["client_kwargs"] == {}
