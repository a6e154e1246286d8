"""Bytes to records: encodings detected from the first bytes, any chunking, quotes across chunks."""

import codecs

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.ingest.domain.csv_stream import ByteBlocks, CsvStream, Record, records_of

ROWS = [
    ["届出種別", "在留カード番号", "事業所名称", "備考"],
    ["雇入れ", "AB12345678CD", "㈱髙橋製作所①", "ｶﾀｶﾅ"],
    ["離職", "CD12345678EF", '"引用" と, 改行\nあり', ""],
    ["雇入れ", "EF12345678GH", "Ｔｅｓｔ", "x"],
]


def _csv(rows: list[list[str]], newline: str = "\r\n") -> str:
    def cell(value: str) -> str:
        if any(c in value for c in ',"\n'):
            return '"' + value.replace('"', '""') + '"'
        return value

    return "".join(",".join(cell(v) for v in row) + newline for row in rows)


def _read(data: bytes, chunk: int, charset: str | None = None) -> tuple[list[Record], CsvStream]:
    stream = CsvStream(charset)
    records: list[Record] = []
    for start in range(0, len(data), chunk):
        records += stream.feed(data[start : start + chunk])
    records += stream.close()
    return records, stream


@pytest.mark.parametrize(
    ("encoded", "encoding"),
    [
        (_csv(ROWS).encode("utf-8"), "utf-8"),
        (codecs.BOM_UTF8 + _csv(ROWS).encode("utf-8"), "utf-8-sig"),
        (_csv(ROWS).encode("cp932"), "cp932"),
        (_csv(ROWS).encode("utf-16"), "utf-16"),
    ],
)
@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64, 100_000])
def test_every_encoding_and_chunking_gives_the_same_records(
    encoded: bytes, encoding: str, chunk: int
) -> None:
    records, stream = _read(encoded, chunk)
    assert [r.fields for r in records] == ROWS
    assert [r.number for r in records] == [1, 2, 3, 4]
    assert stream.encoding == encoding
    assert not any(r.suspect for r in records)


def test_a_declared_charset_wins_and_shift_jis_means_cp932() -> None:
    records, stream = _read(_csv(ROWS).encode("cp932"), 5, charset="Shift_JIS")
    assert stream.encoding == "cp932"
    assert records[1].fields[2] == "㈱髙橋製作所①"  # CP932 extensions, not in plain Shift_JIS


def test_ascii_for_a_long_while_then_cp932() -> None:
    rows = [["type", "note"]] + [["hired", f"row {n}"] for n in range(2000)] + [["hired", "髙橋"]]
    records, stream = _read(_csv(rows).encode("cp932"), 4096)
    assert stream.encoding == "cp932"
    assert records[-1].fields == ["hired", "髙橋"]


def test_tab_separated_unicode_text_from_excel() -> None:
    text = "在留カード番号\t国籍\r\nAB12345678CD\tVN\r\n"
    records, stream = _read(text.encode("utf-16"), 3)
    assert stream.delimiter == "\t"
    assert records[1].fields == ["AB12345678CD", "VN"]


def test_invalid_bytes_become_replacement_characters_and_mark_the_records() -> None:
    data = _csv(ROWS[:2]).encode("utf-8") + b"x,\xff\xfe,y\r\n"
    records, _ = _read(data, 10, charset="utf-8")
    assert "\ufffd" in records[2].fields[1]
    assert records[2].suspect


def test_a_quote_that_never_closes_stops_the_file_after_the_rows_before_it() -> None:
    data = b'a,b\r\n1,2\r\n3,"open\r\n4,5\r\n'
    records, stream = _read(data, 4)
    assert [r.fields for r in records] == [["a", "b"], ["1", "2"]]
    assert stream.failure == 'row 3: a quoted field never closes (a stray " in the file?)'
    assert stream.feed(b"more") == []
    cut, cutter = _blocks(data, 4)
    assert [r.fields for r in cut] == [["a", "b"], ["1", "2"]]
    assert cutter.failure is not None and "never closes" in cutter.failure


def test_a_record_longer_than_the_limit_is_refused() -> None:
    stream = CsvStream("utf-8", max_record_chars=100)
    assert [r.fields for r in stream.feed(b"a,b\r\n")] == [["a", "b"]]
    assert stream.feed(b'"' + b"x" * 200) == []
    assert stream.failure is not None and stream.failure.startswith("row 2: longer than 100")


def test_records_of_numbers_and_flags() -> None:
    records = records_of("a,b\r\n\r\nc,\ufffd\r\n", delimiter=",", first_number=5)
    assert [(r.number, r.fields) for r in records] == [(5, ["a", "b"]), (6, []), (7, ["c", "\ufffd"])]
    assert all(r.suspect for r in records)


def _blocks(data: bytes, chunk: int, charset: str | None = None) -> tuple[list[Record], ByteBlocks]:
    cutter = ByteBlocks(charset, block_bytes=16)
    blocks = []
    for start in range(0, len(data), chunk):
        blocks += cutter.feed(data[start : start + chunk])
    blocks += cutter.close()
    records: list[Record] = []
    for block in blocks:
        records += records_of(block.data.decode(block.encoding), delimiter=",", first_number=len(records) + 1)
    return records, cutter


@pytest.mark.parametrize(
    ("encoded", "encoding"),
    [
        (_csv(ROWS).encode("utf-8"), "utf-8"),
        (codecs.BOM_UTF8 + _csv(ROWS).encode("utf-8"), "utf-8"),
        (_csv(ROWS).encode("cp932"), "cp932"),
    ],
)
@pytest.mark.parametrize("chunk", [1, 5, 33, 100_000])
def test_byte_blocks_cut_at_record_boundaries(encoded: bytes, encoding: str, chunk: int) -> None:
    records, cutter = _blocks(encoded, chunk)
    assert [r.fields for r in records] == ROWS
    assert cutter.encoding == encoding


def test_byte_blocks_leave_utf16_to_the_text_reader() -> None:
    cutter = ByteBlocks(None, block_bytes=16)
    data = _csv(ROWS).encode("utf-16")
    assert cutter.feed(data) == []
    assert not cutter.byte_safe
    records, _ = _read(cutter.take_rest(), 7)
    assert [r.fields for r in records] == ROWS


_cell = st.text(alphabet=st.sampled_from('ab,"\n 髙橋①ｱ'), max_size=6)


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(st.lists(_cell, min_size=2, max_size=2), min_size=1, max_size=8),
    chunk=st.integers(min_value=1, max_value=40),
    encoding=st.sampled_from(["utf-8", "cp932"]),
)
def test_any_chunking_of_any_file_reads_like_the_whole(
    rows: list[list[str]], chunk: int, encoding: str
) -> None:
    data = (_csv([["h1", "h2"]]) + _csv(rows)).encode(encoding)
    whole, _ = _read(data, len(data))
    pieces, _ = _read(data, chunk)
    cut, _ = _blocks(data, chunk)
    assert [r.fields for r in pieces] == [r.fields for r in whole]
    assert [r.fields for r in cut] == [r.fields for r in whole]
    assert [r.number for r in pieces] == [r.number for r in whole]
