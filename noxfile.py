"""The one entry point for checks: ``nox -s ci`` is what CI runs."""

from __future__ import annotations

import os

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["lint", "typecheck", "tests_sqlite", "tests_postgres"]

PYTHONS = ["3.11", "3.12", "3.13", "3.14"]
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _install(session: nox.Session) -> None:
    session.install("-e", ".[dev,server,postgres,s3]")


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
def ci(session: nox.Session) -> None:
    """Everything CI checks, in one environment: lint, types, both databases."""
    _install(session)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")
    session.run("pytest", *session.posargs)
