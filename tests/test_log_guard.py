"""The log guard itself: it sees every record and recognises every kind of secret."""

from __future__ import annotations

import logging

from tests.log_guard import LogCollector, leaks, remember, remembered


def test_the_guard_collects_records_of_every_logger(
    no_secret_in_any_log_line: LogCollector,
) -> None:
    logging.getLogger("ssea_core.anything").debug("probe %s", "debug-line-seen")

    assert any("debug-line-seen" in line for line in no_secret_in_any_log_line.lines)


def test_leaks_finds_remembered_secrets_and_credential_shapes() -> None:
    remember("a-tenant-secret-made-by-a-test")
    key = "ssea_" + "0123456789abcdef" * 2
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0MiJ9.c2lnbmF0dXJl"
    lines = [
        "nothing here",
        "viewer secret a-tenant-secret-made-by-a-test",
        f"key {key}",
        f"token {token}",
        "short ssea_ab and eyJ alone",
    ]

    assert leaks(lines, remembered()) == lines[1:4]


def test_short_strings_are_not_remembered() -> None:
    remember("short")

    assert "short" not in remembered()


def test_a_leak_is_reported_without_the_secret() -> None:
    from tests.log_guard import redacted

    remember("another-secret-of-a-test")
    line = "x another-secret-of-a-test and ssea_" + "ab" * 16

    assert redacted(line, remembered()) == "x <secret> and <credential>"
