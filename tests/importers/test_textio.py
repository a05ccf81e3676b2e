"""Line endings, encodings and JSON streaming of the importers' text layer."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import pytest

from ssea_core.importers import textio
from ssea_core.importers.textio import (
    Decoder,
    JsonFormatError,
    binary_lines,
    csv_rows,
    json_values,
    open_binary,
    text_chunks,
    text_lines,
)


@pytest.mark.parametrize("ending", [b"\r\n", b"\n", b"\r"])
def test_every_line_ending_splits_lines(ending: bytes) -> None:
    data = ending.join([b"a,b", b"1,2", b"3,4"]) + ending

    lines = list(text_lines(io.BytesIO(data), Decoder()))

    assert [line.rstrip("\r\n") for line in lines] == ["a,b", "1,2", "3,4"]


def test_crlf_split_across_blocks_is_one_line_end(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(textio, "_BLOCK", 4)
    data = b"abc\r\ndef\r\nghi"  # the first block ends between CR and LF

    lines = list(binary_lines(io.BytesIO(data)))

    assert lines == [b"abc\r\n", b"def\r\n", b"ghi"]


def test_bom_is_removed_from_the_first_line_only() -> None:
    data = "\ufeffTime,Description\n\ufeffx,y\n".encode()

    lines = list(text_lines(io.BytesIO(data), Decoder()))

    assert lines == ["Time,Description\n", "\ufeffx,y\n"]


def test_stray_cp1252_bytes_are_decoded_and_counted() -> None:
    decoder = Decoder()
    raw = "café ".encode() + b"\x85 \x93quoted\x94 \x81"

    text = decoder.decode(raw)

    assert text == "café … “quoted” \x81"
    assert decoder.fallback_bytes == 4


def test_quoted_fields_may_span_lines_of_any_ending() -> None:
    data = b'a,b\r\n"one\rtwo\r\nthree",x\r\n'

    rows = list(csv_rows(text_lines(io.BytesIO(data), Decoder())))

    assert rows == [["a", "b"], ["one\rtwo\r\nthree", "x"]]


def test_semicolon_delimiter_is_sniffed() -> None:
    rows = list(csv_rows(["Time;Description\n", "1;2\n"]))

    assert rows == [["Time", "Description"], ["1", "2"]]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[{"a": 1}, {"a": 2}]', [{"a": 1}, {"a": 2}]),
        ('[[{"a": 1}, {"a": 2}]]', [{"a": 1}, {"a": 2}]),
        ('[["x", "y"], ["1", "2"]]', [["x", "y"], ["1", "2"]]),
        ('{"a": 1}\n{"a": 2}\n', [{"a": 1}, {"a": 2}]),
        ("[]", []),
        ("", []),
    ],
)
def test_json_layouts_stream_their_records(text: str, expected: list[object]) -> None:
    chunks = [text[i : i + 3] for i in range(0, len(text), 3)]  # tiny chunks

    assert list(json_values(chunks)) == expected


def test_unclosed_json_array_is_a_format_error() -> None:
    with pytest.raises(JsonFormatError):
        list(json_values(['[{"a": 1}, {"a"']))


def test_utf8_sequences_split_between_blocks_survive(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(textio, "_BLOCK", 3)
    data = '["día", "€"]'.encode()
    decoder = Decoder()

    text = "".join(text_chunks(io.BytesIO(data), decoder))

    assert text == '["día", "€"]'
    assert decoder.fallback_bytes == 0


def test_gzip_files_are_read_transparently(tmp_path: Path) -> None:
    path = tmp_path / "log.csv.gz"
    path.write_bytes(gzip.compress(b"a\nb\n"))

    with open_binary(path) as stream:
        assert list(binary_lines(stream)) == [b"a\n", b"b\n"]
