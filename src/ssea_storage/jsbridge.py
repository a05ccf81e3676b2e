"""How Python values cross into the JavaScript of Cloudflare Python Workers and back.

The D1 driver, the R2 artifact store and the Workers adapter each take a
:class:`JsBridge`: :func:`pyodide_bridge` inside Workers, a double in tests. Nothing
here imports Pyodide until a bridge is asked for, so the module loads anywhere.

Bindings come in two shapes: the ``workers`` SDK's wrappers, which convert Python
values themselves, and raw ``JsProxy`` objects of older runtimes, which do not. The
bridge converts explicitly (a JS value passes through the wrappers unchanged), so
the same calls work on both.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ssea_core.errors import MisconfiguredError


@dataclass(frozen=True, slots=True)
class JsBridge:
    """The conversions a runtime offers.

    ``wait`` blocks on an awaitable (``pyodide.ffi.run_sync``, which needs JSPI);
    ``to_py`` turns a JS value into Python (``null`` into None, arrays into lists);
    ``blob`` and ``buffer`` make a ``Uint8Array`` and an ``ArrayBuffer`` of bytes;
    ``array`` and ``record`` make a JS array and a plain JS object.
    """

    wait: Callable[[Awaitable[Any]], Any]
    to_py: Callable[[Any], Any]
    blob: Callable[[bytes], Any]
    buffer: Callable[[bytes], Any]
    array: Callable[[list[Any]], Any]
    record: Callable[[dict[str, Any]], Any]


def pyodide_bridge() -> JsBridge:
    """The bridge inside Cloudflare Python Workers.

    Raises :class:`MisconfiguredError` outside Pyodide.
    """
    try:
        ffi = importlib.import_module("pyodide.ffi")
        js = importlib.import_module("js")
    except ImportError as exc:
        raise MisconfiguredError(
            "The D1 and R2 stores run only inside Cloudflare Python Workers (Pyodide); "
            "elsewhere use a database URL and a folder or S3 artifact store."
        ) from exc
    null = getattr(ffi, "jsnull", None)

    def to_py(value: Any) -> Any:
        if isinstance(value, ffi.JsProxy):
            value = value.to_py()
        if null is not None and value is null:
            return None
        if isinstance(value, list):
            return [to_py(item) for item in value]
        if isinstance(value, dict):
            return {key: to_py(item) for key, item in value.items()}
        return value

    def array(items: list[Any]) -> Any:
        # The SDK's binding wrappers take Python lists; raw JS bindings need arrays.
        raw = all(isinstance(item, ffi.JsProxy) for item in items)
        return ffi.to_js(items) if raw else items

    def buffer(data: bytes) -> Any:
        view = ffi.to_js(data)
        return view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength)

    return JsBridge(
        wait=ffi.run_sync,
        to_py=to_py,
        blob=ffi.to_js,
        buffer=buffer,
        array=array,
        record=lambda value: ffi.to_js(value, dict_converter=js.Object.fromEntries),
    )


def as_bytes(value: Any) -> bytes:
    """The bytes of an ``ArrayBuffer`` or typed array, converted or not."""
    if hasattr(value, "to_bytes"):
        return bytes(value.to_bytes())
    return bytes(value)
