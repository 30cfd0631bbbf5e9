"""The extraction CLI reads files in the encodings Chinese news arrives in: UTF-8 (with or
without BOM), GBK / GB18030, Big5; anything else is read with replacement and a warning."""

from __future__ import annotations

import codecs
import json
from pathlib import Path
from typing import Any

import pytest

from services.extract.adapters.decoding import decode_article
from services.extract.entrypoints.cli import main

SIGNING = "4月2日,济宁市第一人民医院与巨野县中医医院签订医联体协议。\n双方将开展远程会诊。"


Row = dict[str, Any]


def run(paths: list[Path], capsys: pytest.CaptureFixture[str]) -> tuple[list[Row], str]:
    assert main([str(p) for p in paths] + ["--published", "2020-04-03"]) == 0
    captured = capsys.readouterr()
    return [json.loads(line) for line in captured.out.splitlines()], captured.err


def pairs(row: Row) -> list[tuple[list[str], list[str]]]:
    return [(e["lead"], e["members"]) for e in row["events"]]


def test_a_gbk_file_gives_the_same_events_as_its_utf8_twin(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    utf8 = tmp_path / "utf8.txt"
    utf8.write_bytes(SIGNING.encode("utf-8"))
    gbk = tmp_path / "gbk.txt"
    gbk.write_bytes(SIGNING.encode("gbk"))
    with pytest.raises(UnicodeDecodeError):
        gbk.read_bytes().decode("utf-8")  # what used to become garbage and no events

    [from_utf8, from_gbk], err = run([utf8, gbk], capsys)

    assert pairs(from_utf8) == [(["济宁市第一人民医院"], ["巨野县中医医院"])]
    assert pairs(from_gbk) == pairs(from_utf8)
    assert from_gbk["events"][0]["evidence"] == from_utf8["events"][0]["evidence"]
    assert err == ""


def test_a_big5_file_gives_the_same_events_as_its_utf8_twin(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    story = "4月2日,台北醫學大學附設醫院與新北市立聯合醫院簽署醫聯體協議。\n雙方將開展遠程會診。"
    utf8 = tmp_path / "utf8.txt"
    utf8.write_bytes(story.encode("utf-8"))
    big5 = tmp_path / "big5.txt"
    big5.write_bytes(story.encode("big5"))
    big5.read_bytes().decode("gb18030")  # no error: what used to become nonsense, no events

    [from_utf8, from_big5], err = run([utf8, big5], capsys)

    assert pairs(from_utf8) == [(["台北医学大学附设医院"], ["新北市立联合医院"])]
    assert pairs(from_big5) == pairs(from_utf8)
    assert err == ""


def test_real_articles_read_back_from_gb18030_and_big5(shared_dir: Path) -> None:
    read = 0
    for path in sorted((shared_dir / "eval").glob("*/*.txt")):
        text = path.read_text(encoding="utf-8")
        for encoding in ("gb18030", "big5"):
            try:
                data = text.encode(encoding)
            except UnicodeEncodeError:
                continue  # a character the encoding lacks (Big5 has no simplified ones)
            decoded = decode_article(data)
            assert (decoded.encoding, decoded.text) == (encoding, text), path.name
            read += 1
    assert read >= 150


def test_a_utf8_file_with_bom_and_windows_line_ends_reads_as_without(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plain = tmp_path / "plain.txt"
    plain.write_bytes(SIGNING.encode("utf-8"))
    windows = tmp_path / "windows.txt"
    windows.write_bytes(codecs.BOM_UTF8 + SIGNING.replace("\n", "\r\n").encode("utf-8"))

    [from_plain, from_windows], err = run([plain, windows], capsys)

    assert from_windows["events"] == from_plain["events"]
    assert from_plain["events"][0]["date"] == "2020-04-02"
    assert err == ""


def test_a_file_in_no_known_encoding_is_read_with_a_warning_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.txt"
    # Valid UTF-8 with one byte that neither UTF-8, GB18030 nor Big5 allows anywhere.
    broken.write_bytes(SIGNING.encode("utf-8") + b"\xff" + "完".encode())

    [row], err = run([broken], capsys)

    assert row["file"] == "broken.txt"
    assert pairs(row) == [(["济宁市第一人民医院"], ["巨野县中医医院"])]
    assert f"warning: {broken} is neither UTF-8, GB18030 (GBK) nor Big5" in err


def test_gb18030_reads_characters_that_gbk_lacks() -> None:
    text = "㐀山医院"  # U+3400 is in GB18030's four-byte range, not in GBK
    with pytest.raises(UnicodeEncodeError):
        text.encode("gbk")
    decoded = decode_article(text.encode("gb18030"))
    assert (decoded.text, decoded.encoding, decoded.lossy) == (text, "gb18030", False)


@pytest.mark.parametrize(
    ("data", "text", "encoding", "lossy"),
    [
        ("医联体".encode(), "医联体", "utf-8", False),
        (codecs.BOM_UTF8 + "医联体".encode(), "医联体", "utf-8-sig", False),
        ("医联体".encode("gb2312"), "医联体", "gb18030", False),
        (b"", "", "utf-8", False),
        # A BOM claims UTF-8: broken bytes after it are replaced, GB18030 is not tried.
        (codecs.BOM_UTF8 + "联".encode("gbk"), "\ufffd\ufffd", "utf-8-sig", True),
        (b"\x80\xff", "\ufffd\ufffd", "utf-8", True),
    ],
)
def test_decode_article(data: bytes, text: str, encoding: str, lossy: bool) -> None:
    decoded = decode_article(data)
    assert (decoded.text, decoded.encoding, decoded.lossy) == (text, encoding, lossy)
