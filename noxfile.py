"""The one entry point for checks: ``nox -s ci`` is what CI runs."""

from __future__ import annotations

import os

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = [
    "lint",
    "typecheck",
    "tests_sqlite",
    "tests_postgres",
    "examples",
    "pyodide",
]

PYTHONS = ["3.11", "3.12", "3.13", "3.14"]
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
#: Every example, each run with ``--check`` (a few seconds in all).
EXAMPLES = [
    "examples/plain_uvicorn.py",
    "examples/fastapi_mount.py",
    "examples/starlette_mount.py",
    "examples/flask_mount.py",
    "examples/django_project/wsgi.py",
    "examples/library_overview.py",
    "examples/workers/locally.py",
]


def _install(session: nox.Session, *extras: str) -> None:
    wanted = ",".join(["dev", "server", "postgres", "s3", *extras])
    session.install("-e", f".[{wanted}]")


def _run_examples(session: nox.Session) -> None:
    for example in EXAMPLES:
        session.run("python", example, "--check")


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install("ruff>=0.5")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict over the ssea packages."""
    _install(session)
    session.run("mypy")


@nox.session(python=PYTHONS)
def tests_sqlite(session: nox.Session) -> None:
    """The suite on the embedded default (SQLite)."""
    _install(session)
    session.run("pytest", "-m", "not postgres", *session.posargs)


@nox.session
def tests_postgres(session: nox.Session) -> None:
    """The PostgreSQL half of the suite; an unreachable server is an error here."""
    _install(session)
    env = {
        "SSEA_TEST_POSTGRES_URL": os.environ.get(
            "SSEA_TEST_POSTGRES_URL", POSTGRES_URL
        ),
        "SSEA_REQUIRE_POSTGRES": "1",
    }
    session.run("pytest", "-m", "postgres", *session.posargs, env=env)


@nox.session
def examples(session: nox.Session) -> None:
    """Every example started, asked once and stopped (``--check``)."""
    session.install("-e", ".[examples,server]")
    _run_examples(session)


@nox.session
def pyodide(session: nox.Session) -> None:
    """examples/workers/entry.py in real Pyodide under Node 22, and the D1 driver on
    Pyodide 0.27, 0.28 and 314; Node, Pyodide and the wheels are fetched from npm and
    PyPI on first use, and missing them fails."""
    _install(session)
    env = {"SSEA_REQUIRE_PYODIDE": "1"}
    session.run("pytest", "-m", "pyodide", *session.posargs, env=env)


@nox.session
def ci(session: nox.Session) -> None:
    """Everything CI checks, in one environment: lint, types, both databases,
    examples, the Worker in real Pyodide."""
    _install(session, "examples")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")
    session.run("pytest", "-m", "not pyodide", *session.posargs)
    session.run("pytest", "-m", "pyodide", env={"SSEA_REQUIRE_PYODIDE": "1"})
    _run_examples(session)
