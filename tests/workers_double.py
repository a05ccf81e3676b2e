"""A faithful double of what Cloudflare Python Workers hands a Python Worker.

It models, from the documented APIs and the ``workers`` SDK:

- ``workers``: ``WorkerEntrypoint(ctx, env)``, ``Request`` (the SDK's wrapper: its
  ``js_object`` is the JS request, with ``method``, ``url``, iterable ``headers`` of
  ``[name, value]`` and ``arrayBuffer()``) and ``Response(body, status, headers)``,
  which, like the SDK, takes a str, an ``ArrayBuffer`` or typed array, or None, and
  refuses Python bytes;
- a D1 binding over sqlite3: ``prepare(sql).bind(*values)`` then awaited ``run()``,
  ``all()``, ``raw(columnNames=...)``, ``first()``, and ``batch([...])`` (atomic).
  Results are the SDK's dicts ``{"success", "meta": {...}, "results": [...]}``; a
  BLOB reads back as a list of byte values, an integral number as an int; every
  statement autocommits; BEGIN, COMMIT and savepoints are refused; more than 100
  bound parameters or a value JS cannot carry is an error, as on D1;
- an R2 bucket: ``put``, ``get`` (``arrayBuffer()``, ``text()``), ``head``,
  ``delete``, and multipart uploads whose parts, but the last, share one size of at
  least ``min_part_bytes``.

:func:`double_entrypoint` makes an entry module's ``Default`` with this double as the
SDK; :class:`WorkersClient` sends requests through it as Workers would. For an entry
module run unchanged, :func:`runtime_modules` stands in for the ``workers`` SDK and
for the parts of Pyodide (``run_sync``, ``to_js``, ``jsnull``) its bridge uses.

Nothing here suspends: :func:`drive` plays ``run_sync`` by running an awaitable to
its end on the spot, and fails loudly if one ever waits for real.

For real Pyodide under Node, :data:`JS_D1_DOUBLE` is the same D1 binding in
JavaScript over ``node:sqlite``, and :data:`JS_RUNNER` loads Pyodide, mounts the
sources and runs a Python script with that binding as ``js.DB``.
"""

from __future__ import annotations

import hashlib
import http
import json
import sqlite3
import sys
import types
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from http.client import HTTPMessage
from typing import Any
from unittest.mock import patch
from urllib.parse import urlencode

from ssea_adapters.workers import make_entrypoint
from ssea_storage.jsbridge import JsBridge
from tests.support import Answer

#: Where :class:`WorkersClient` sends requests from and to.
ORIGIN = "https://ssea.example.workers.dev"
CLIENT_IP = "203.0.113.9"
MAX_SAFE_INTEGER = 2**53 - 1
MAX_PARAMETERS = 100
MAX_SQL_BYTES = 100_000
_NULL_BODY_STATUSES = frozenset({101, 204, 205, 304})


class JsError(Exception):
    """A JavaScript exception seen from Python (``pyodide.ffi.JsException``)."""


def drive(awaitable: Awaitable[Any]) -> Any:
    """``run_sync`` for awaitables that never suspend."""
    steps = awaitable.__await__()
    try:
        steps.send(None)
    except StopIteration as done:
        return done.value
    raise RuntimeError("a double suspended: something awaited for real in run_sync")


# -- JS values -----------------------------------------------------------------------


class ArrayBuffer:
    def __init__(self, data: bytes) -> None:
        self._data = bytes(data)
        self.byteLength = len(self._data)

    def to_bytes(self) -> bytes:
        return self._data

    def slice(self, start: int, end: int) -> ArrayBuffer:
        return ArrayBuffer(self._data[start:end])


class Uint8Array(ArrayBuffer):
    byteOffset = 0

    @property
    def buffer(self) -> ArrayBuffer:
        return ArrayBuffer(self._data)


def _bytes_of(value: Any) -> bytes:
    if isinstance(value, str):
        return value.encode()
    if value is None:
        return b""
    if isinstance(value, ArrayBuffer):
        return value.to_bytes()
    raise TypeError(f"Unsupported type in body: {type(value).__name__}")


def double_bridge() -> JsBridge:
    """The :class:`JsBridge` of this double."""
    return JsBridge(
        wait=drive,
        to_py=lambda value: value,
        blob=Uint8Array,
        buffer=ArrayBuffer,
        array=list,
        record=dict,
    )


class JsProxy:
    """Pyodide's proxy of a JS value. Values of this double are Python already, as
    the SDK's binding wrappers hand them over, so none is a proxy."""


#: JavaScript's ``null`` (``pyodide.ffi.jsnull``).
JSNULL = object()


def to_js(value: Any, *, dict_converter: Callable[..., Any] | None = None) -> Any:
    """``pyodide.ffi.to_js``: bytes become a ``Uint8Array``; lists and dicts are
    converted deeply, a dict through ``dict_converter`` (else a ``Map``, here a
    dict)."""
    if isinstance(value, bytes | bytearray | memoryview):
        return Uint8Array(bytes(value))
    if isinstance(value, list | tuple):
        return [to_js(item, dict_converter=dict_converter) for item in value]
    if isinstance(value, dict):
        items = value.items()
        pairs = [
            [key, to_js(item, dict_converter=dict_converter)] for key, item in items
        ]
        return (dict_converter or dict)(pairs)
    return value


def runtime_modules() -> dict[str, types.ModuleType]:
    """What a Python Worker imports from its runtime, for ``sys.modules``: the
    ``workers`` SDK, and ``pyodide.ffi`` and ``js`` as far as
    :func:`~ssea_storage.jsbridge.pyodide_bridge` uses them."""
    ffi = types.ModuleType("pyodide.ffi")
    vars(ffi).update(JsProxy=JsProxy, jsnull=JSNULL, run_sync=drive, to_js=to_js)
    pyodide = types.ModuleType("pyodide")
    vars(pyodide).update(ffi=ffi)
    js = types.ModuleType("js")
    vars(js).update(Object=types.SimpleNamespace(fromEntries=dict))
    return {
        "workers": workers_module(),
        "pyodide": pyodide,
        "pyodide.ffi": ffi,
        "js": js,
    }


# -- workers SDK ---------------------------------------------------------------------


class JsHeaders:
    """Fetch ``Headers``: names lower-cased; iterating gives ``[name, value]``."""

    def __init__(self, pairs: Any = ()) -> None:
        items = pairs.items() if isinstance(pairs, dict) else pairs
        self._pairs = [(str(name).lower(), str(value)) for name, value in items]

    def __iter__(self) -> Iterator[list[str]]:
        joined: dict[str, list[str]] = {}
        for name, value in self._pairs:
            joined.setdefault(name, []).append(value)
        for name in sorted(joined):
            if name == "set-cookie":
                yield from ([name, value] for value in joined[name])
            else:
                yield [name, ", ".join(joined[name])]

    def get(self, name: str) -> str | None:
        values = [v for n, v in self._pairs if n == name.lower()]
        return ", ".join(values) if values else None

    def get_all(self, name: str) -> list[str]:
        return [v for n, v in self._pairs if n == name.lower()]


class JsRequest:
    """The JavaScript ``Request`` a Worker receives."""

    def __init__(
        self, method: str, url: str, headers: Any = (), body: bytes | None = None
    ) -> None:
        self.method = method.upper()
        self.url = url
        self.headers = JsHeaders(headers)
        self._body = body
        self.bodyUsed = False

    async def arrayBuffer(self) -> ArrayBuffer:
        if self.bodyUsed:
            raise JsError("TypeError: Body has already been used")
        self.bodyUsed = True
        return ArrayBuffer(self._body or b"")


class Request:
    """The SDK's ``workers.Request``: a wrapper whose ``js_object`` is the JS one."""

    def __init__(self, js_request: JsRequest) -> None:
        self.js_object = js_request

    @property
    def url(self) -> str:
        return self.js_object.url

    @property
    def method(self) -> http.HTTPMethod:
        return http.HTTPMethod[self.js_object.method]

    @property
    def headers(self) -> HTTPMessage:
        message = HTTPMessage()
        for name, value in self.js_object.headers:
            for part in value.split(","):  # as the SDK does
                message[name] = part.strip()
        return message

    async def bytes(self) -> bytes:
        return (await self.js_object.arrayBuffer()).to_bytes()


class Response:
    """The SDK's ``workers.Response``."""

    def __init__(
        self,
        body: Any = None,
        status: int | None = None,
        status_text: str = "",
        headers: Any = None,
    ) -> None:
        if body is not None and not isinstance(body, str | ArrayBuffer):
            raise TypeError(f"Unsupported type in Response: {type(body).__name__}")
        self.status = status or 200
        if body is not None and self.status in _NULL_BODY_STATUSES:
            raise JsError("TypeError: Response with null body status cannot have body")
        self.headers = JsHeaders(headers or ())
        self._body = _bytes_of(body)

    async def bytes(self) -> bytes:
        return self._body

    async def text(self) -> str:
        return self._body.decode()


class WorkerEntrypoint:
    def __init__(self, ctx: Any, env: Any) -> None:
        self.ctx = ctx
        self.env = env


def workers_module() -> types.ModuleType:
    """A ``workers`` module to put in ``sys.modules``."""
    module = types.ModuleType("workers")
    module.WorkerEntrypoint = WorkerEntrypoint  # type: ignore[attr-defined]
    module.Response = Response  # type: ignore[attr-defined]
    module.Request = Request  # type: ignore[attr-defined]
    return module


class Env:
    """``self.env``: bindings, vars and secrets as attributes; missing ones raise."""

    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)


class WorkersClient:
    """The :class:`tests.support.ApiClient` interface over a Worker's ``fetch``."""

    def __init__(
        self, entrypoint: type[Any], env: Env, headers: dict[str, str] | None = None
    ) -> None:
        self.entrypoint = entrypoint
        self.env = env
        self.headers = dict(headers or {})

    async def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
    ) -> Answer:
        body = content if content is not None else b""
        if json_body is not None:
            body = json.dumps(json_body).encode()
        query = urlencode(params or {}, doseq=True)
        merged = {**self.headers, **(headers or {})}
        response = await self.fetch(method, path, query, merged, body)
        joined = {name: value for name, value in response.headers}
        return Answer(response.status, joined, await response.bytes())

    async def fetch(
        self, method: str, path: str, query: str, headers: dict[str, str], body: bytes
    ) -> Response:
        """One request, as Workers sends it: a fresh ``Default(ctx, env)`` whose
        ``fetch`` gets the SDK's ``Request`` from a client at :data:`CLIENT_IP`."""
        url = ORIGIN + path + (f"?{query}" if query else "")
        sent = {"cf-connecting-ip": CLIENT_IP, **headers}
        request = Request(JsRequest(method, url, sent, body or None))
        response: Response = await self.entrypoint(object(), self.env).fetch(request)
        return response

    async def get(self, path: str, **kwargs: Any) -> Answer:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> Answer:
        return await self.request("POST", path, **kwargs)


def double_entrypoint(**options: Any) -> type[Any]:
    """:func:`~ssea_adapters.workers.make_entrypoint` with this double as the
    ``workers`` SDK and the Pyodide bridge; ``options`` are the entrypoint's."""
    with patch.dict(sys.modules, {"workers": workers_module()}):
        return make_entrypoint(bridge=double_bridge(), **options)


# -- D1 ------------------------------------------------------------------------------


def _to_js(value: Any) -> Any:
    """A bound value as D1 sees it, or the D1_TYPE_ERROR it raises."""
    if value is None or isinstance(value, str | float | bool):
        return value
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise JsError("D1_TYPE_ERROR: BigInt is not supported")
        return value
    if isinstance(value, ArrayBuffer):
        return value.to_bytes()
    raise JsError(f"D1_TYPE_ERROR: Type '{type(value).__name__}' not supported")


def _to_py(value: Any) -> Any:
    """A column value as it reaches Python: a BLOB as byte values, numbers as JS."""
    if isinstance(value, bytes):
        return list(value)
    if isinstance(value, float) and value.is_integer() and abs(value) <= 2**53:
        return int(value)
    if isinstance(value, int) and abs(value) > MAX_SAFE_INTEGER:
        return float(value)
    return value


class D1Database:
    """A D1 binding over one sqlite3 database."""

    def __init__(self, path: str = ":memory:") -> None:
        self.sqlite = sqlite3.connect(path, isolation_level=None)
        self.sqlite.execute("PRAGMA foreign_keys = ON")  # D1 enforces foreign keys
        self.roundtrips: list[str] = []
        self.queries = 0
        #: A statement whose SQL contains this fails (to test atomicity).
        self.fail_on: str | None = None

    def prepare(self, sql: str) -> D1PreparedStatement:
        return D1PreparedStatement(self, sql, ())

    async def batch(
        self, statements: list[D1PreparedStatement]
    ) -> list[dict[str, Any]]:
        self.roundtrips.append("batch")
        self.sqlite.execute("BEGIN")
        try:
            results = [statement.execute() for statement in statements]
        except BaseException:
            self.sqlite.execute("ROLLBACK")
            raise
        self.sqlite.execute("COMMIT")
        return [result for result, _, _ in results]

    async def exec(self, sql: str) -> dict[str, Any]:
        self.roundtrips.append("exec")
        self.sqlite.executescript(sql)
        return {"count": sql.count(";") or 1, "duration": 0}


class D1PreparedStatement:
    def __init__(self, database: D1Database, sql: str, values: tuple[Any, ...]) -> None:
        self.database = database
        self.sql = sql
        self.values = values

    def bind(self, *values: Any) -> D1PreparedStatement:
        return D1PreparedStatement(self.database, self.sql, values)

    async def run(self) -> dict[str, Any]:
        self.database.roundtrips.append("run")
        return self.execute()[0]

    all = run

    async def raw(
        self, options: dict[str, Any] | None = None, *, columnNames: bool = False
    ) -> list[list[Any]]:
        self.database.roundtrips.append("raw")
        _, names, rows = self.execute()
        table = [list(map(_to_py, row)) for row in rows]
        if columnNames or (options or {}).get("columnNames"):
            return [names, *table]
        return table

    async def first(self, column: str | None = None) -> Any:
        rows = (await self.run())["results"]
        if not rows:
            return None
        return rows[0] if column is None else rows[0][column]

    def execute(self) -> tuple[dict[str, Any], list[str], list[tuple[Any, ...]]]:
        """Run on sqlite3 as D1 would, or raise what D1 throws: the D1 result, the
        column names and the rows."""
        database, sql = self.database, self.sql
        word = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else ""
        if word in ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "END"):
            raise JsError("D1_ERROR: transactions are not supported; use batch()")
        if len(self.values) > MAX_PARAMETERS:
            raise JsError("D1_ERROR: too many SQL variables: SQLITE_ERROR")
        if len(sql.encode()) > MAX_SQL_BYTES:
            raise JsError("D1_ERROR: statement too long: SQLITE_TOOBIG")
        if database.fail_on is not None and database.fail_on in sql:
            raise JsError("D1_ERROR: Network connection lost.")
        values = [_to_js(value) for value in self.values]
        database.queries += 1
        before = database.sqlite.total_changes
        try:
            cursor = database.sqlite.execute(sql, values)
            rows = cursor.fetchall()
        except sqlite3.IntegrityError as exc:
            raise JsError(f"D1_ERROR: {exc}: SQLITE_CONSTRAINT") from exc
        except sqlite3.Error as exc:
            raise JsError(f"D1_ERROR: {exc}: SQLITE_ERROR") from exc
        changes = database.sqlite.total_changes - before
        meta = {
            "duration": 0.1,
            "changes": changes,
            "last_row_id": cursor.lastrowid or 0,
            "changed_db": changes > 0,
            "rows_read": len(rows),
            "rows_written": changes,
        }
        names = [column[0] for column in cursor.description or ()]
        # A JS object per row: a repeated column name keeps its last value.
        results = [dict(zip(names, map(_to_py, row), strict=True)) for row in rows]
        return {"success": True, "meta": meta, "results": results}, names, rows


# -- R2 ------------------------------------------------------------------------------


class R2Object:
    """Metadata of an object: attributes, also readable as ``object["size"]``."""

    def __init__(self, key: str, data: bytes, http_metadata: dict[str, Any]) -> None:
        self.key = key
        self.size = len(data)
        self.etag = hashlib.sha256(data).hexdigest()[:32]
        self.httpEtag = f'"{self.etag}"'
        self.httpMetadata = http_metadata
        self.uploaded = datetime.now(UTC)

    def __getitem__(self, name: str) -> Any:
        return getattr(self, name)


class R2ObjectBody(R2Object):
    def __init__(self, key: str, data: bytes, http_metadata: dict[str, Any]) -> None:
        super().__init__(key, data, http_metadata)
        self._data = data
        self.bodyUsed = False

    async def arrayBuffer(self) -> ArrayBuffer:
        self.bodyUsed = True
        return ArrayBuffer(self._data)

    async def text(self) -> str:
        return (await self.arrayBuffer()).to_bytes().decode()


class R2Bucket:
    """An R2 bucket binding in memory."""

    def __init__(self, min_part_bytes: int = 5 * 1024 * 1024) -> None:
        self.objects: dict[str, tuple[bytes, dict[str, Any]]] = {}
        self.uploads: dict[str, R2MultipartUpload] = {}
        self.min_part_bytes = min_part_bytes

    async def put(
        self, key: str, value: Any, options: dict[str, Any] | None = None
    ) -> R2Object:
        data = _bytes_of(value)
        metadata = dict((options or {}).get("httpMetadata") or {})
        self.objects[key] = (data, metadata)
        return R2Object(key, data, metadata)

    async def get(self, key: str, options: Any = None) -> R2ObjectBody | None:
        found = self.objects.get(key)
        return R2ObjectBody(key, *found) if found is not None else None

    async def head(self, key: str) -> R2Object | None:
        found = self.objects.get(key)
        return R2Object(key, *found) if found is not None else None

    async def delete(self, keys: str | list[str]) -> None:
        for key in [keys] if isinstance(keys, str) else keys:
            self.objects.pop(key, None)

    async def createMultipartUpload(
        self, key: str, options: dict[str, Any] | None = None
    ) -> R2MultipartUpload:
        upload = R2MultipartUpload(
            self, key, options or {}, f"upload-{len(self.uploads)}"
        )
        self.uploads[upload.uploadId] = upload
        return upload


class R2UploadedPart:
    def __init__(self, number: int, etag: str) -> None:
        self.partNumber = number
        self.etag = etag


class R2MultipartUpload:
    def __init__(
        self, bucket: R2Bucket, key: str, options: dict[str, Any], upload_id: str
    ) -> None:
        self.bucket = bucket
        self.key = key
        self.uploadId = upload_id
        self.options = options
        self.parts: dict[int, bytes] = {}
        self.state = "open"

    async def uploadPart(self, number: int, value: Any) -> R2UploadedPart:
        if self.state != "open":
            raise JsError(f"uploadPart: upload is {self.state}")
        self.parts[number] = _bytes_of(value)
        return R2UploadedPart(number, hashlib.sha256(self.parts[number]).hexdigest())

    async def complete(self, parts: list[R2UploadedPart]) -> R2Object:
        sizes = [len(self.parts[part.partNumber]) for part in parts]
        if any(
            size != sizes[0] or size < self.bucket.min_part_bytes for size in sizes[:-1]
        ):
            raise JsError("completeMultipartUpload: parts must share one size >= 5 MiB")
        self.state = "completed"
        data = b"".join(self.parts[part.partNumber] for part in parts)
        return await self.bucket.put(self.key, ArrayBuffer(data), self.options)

    async def abort(self) -> None:
        self.state = "aborted"


# -- the same D1 binding in JavaScript, for real Pyodide under Node -------------------

#: An ES module exporting ``D1Database`` (node:sqlite behind D1's API and shapes).
JS_D1_DOUBLE = r"""import { DatabaseSync } from "node:sqlite";

const MAX_PARAMETERS = 100;

function toSqlite(value) {
  if (value === undefined) {
    throw new Error("D1_TYPE_ERROR: Type 'undefined' not supported");
  }
  if (value === null || ["number", "string"].includes(typeof value)) return value;
  if (typeof value === "boolean") return value ? 1 : 0;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) {
    return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  }
  throw new Error(`D1_TYPE_ERROR: Type '${typeof value}' not supported`);
}

const toJs = (value) => (value instanceof Uint8Array ? Array.from(value) : value);

class D1PreparedStatement {
  constructor(db, sql, values = []) {
    Object.assign(this, { db, sql, values });
  }
  bind(...values) {
    return new D1PreparedStatement(this.db, this.sql, values);
  }
  execute() {
    if (this.values.length > MAX_PARAMETERS) {
      throw new Error("D1_ERROR: too many SQL variables: SQLITE_ERROR");
    }
    if (/^\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)\b/i.test(this.sql)) {
      throw new Error("D1_ERROR: transactions are not supported; use batch()");
    }
    this.db.maxParameters = Math.max(this.db.maxParameters, this.values.length);
    const values = this.values.map(toSqlite);
    try {
      const statement = this.db.sqlite.prepare(this.sql);
      const columns = statement.columns().map((column) => column.name);
      if (columns.length === 0) {
        const done = statement.run(...values);
        const lastRowId = Number(done.lastInsertRowid);
        return { columns, rows: [], changes: Number(done.changes), lastRowId };
      }
      statement.setReturnArrays(true);
      const rows = statement.all(...values).map((row) => row.map(toJs));
      return { columns, rows, changes: 0, lastRowId: 0 };
    } catch (error) {
      const kind = /constraint/i.test(error.message) ? "CONSTRAINT" : "ERROR";
      throw new Error(`D1_ERROR: ${error.message}: SQLITE_${kind}`);
    }
  }
  result(done) {
    const meta = {
      duration: 0,
      changes: done.changes,
      last_row_id: done.lastRowId,
      changed_db: done.changes > 0,
      rows_read: done.rows.length,
      rows_written: done.changes,
    };
    const record = (row) =>
      Object.fromEntries(done.columns.map((name, i) => [name, row[i]]));
    return { success: true, meta, results: done.rows.map(record) };
  }
  async run() {
    this.db.log.push("run");
    return this.result(this.execute());
  }
  async all() {
    return this.run();
  }
  async raw(options) {
    this.db.log.push("raw");
    const done = this.execute();
    return options?.columnNames ? [done.columns, ...done.rows] : done.rows;
  }
  async first(column) {
    const [row] = (await this.run()).results;
    if (row === undefined) return null;
    return column === undefined ? row : row[column];
  }
}

export class D1Database {
  constructor() {
    this.sqlite = new DatabaseSync(":memory:");
    this.sqlite.exec("PRAGMA foreign_keys = ON");
    this.log = [];
    this.maxParameters = 0;
  }
  prepare(sql) {
    return new D1PreparedStatement(this, sql);
  }
  async batch(statements) {
    this.log.push(`batch:${statements.length}`);
    this.sqlite.exec("BEGIN");
    try {
      const results = statements.map((each) => each.result(each.execute()));
      this.sqlite.exec("COMMIT");
      return results;
    } catch (error) {
      this.sqlite.exec("ROLLBACK");
      throw error;
    }
  }
}
"""

#: ``node run.mjs PYODIDE SRC SITE STUB SCRIPT`` (PYODIDE: the npm package's folder):
#: prints the script's JSON report (on its last line) with what the JS side saw.
JS_RUNNER = r"""import { readFileSync } from "node:fs";
import { D1Database } from "./d1double.mjs";

const [pyodideDir, src, site, stub, script] = process.argv.slice(2);
const { loadPyodide } = await import(`${pyodideDir}/pyodide.mjs`);
const pyodide = await loadPyodide({ indexURL: `${pyodideDir}/` });
for (const [host, at] of [[src, "/src"], [site, "/site"], [stub, "/stub"]]) {
  pyodide.FS.mkdirTree(at);
  pyodide.FS.mount(pyodide.FS.filesystems.NODEFS, { root: host }, at);
}
globalThis.DB = new D1Database();
const source = readFileSync(script, "utf8");
const report = JSON.parse(await pyodide.runPythonAsync(source));
Object.assign(report, {
  d1_log: globalThis.DB.log,
  max_parameters: globalThis.DB.maxParameters,
  python: pyodide.runPython("import sys; sys.version.split()[0]"),
  pyodide: pyodide.version,
});
console.log(JSON.stringify(report));
"""
