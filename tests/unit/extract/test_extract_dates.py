import datetime as dt

from services.extract.extraction.dates import cn_number, dateline, find_dates


def iso(text: str, ref: dt.date | None) -> list[str | None]:
    return [d.iso() for d in find_dates(text, ref)]


def test_full_date() -> None:
    assert iso("2018年7月29日,某医院", None) == ["2018-07-29"]


def test_month_day_uses_publication_year() -> None:
    assert iso("6月15日上午,挂牌仪式举行", dt.date(2018, 6, 19)) == ["2018-06-15"]
    assert iso("1月25日,签约", dt.date(2022, 1, 26)) == ["2022-01-25"]


def test_month_day_after_publication_is_last_year() -> None:
    assert iso("12月28日,签约", dt.date(2022, 1, 5)) == ["2021-12-28"]


def test_month_day_without_reference_has_no_year() -> None:
    assert iso("8月24日,签约", None) == [None]


def test_same_year_reference() -> None:
    dates = find_dates("2019年9月,批准成立,并于当年11月30日正式挂牌", None)
    assert [d.iso() for d in dates] == ["2019-09", "2019-11-30"]


def test_iso_and_dotted_dates() -> None:
    assert iso("发布时间:2023.12.25 点击:421", None) == ["2023-12-25"]
    assert iso("2015-11-04 14:00", None) == ["2015-11-04"]


def test_relative_days_and_last_year() -> None:
    assert iso("昨天,两院签约", dt.date(2020, 3, 2)) == ["2020-03-01"]
    assert iso("去年3月,两院签约", dt.date(2020, 3, 2)) == ["2019-03"]


def test_chinese_numerals() -> None:
    assert cn_number("二十七") == 27
    assert cn_number("十") == 10
    assert iso("十月二十七日,揭牌", dt.date(2015, 11, 4)) == ["2015-10-27"]


def test_invalid_dates_skipped() -> None:
    assert iso("13月40日", dt.date(2020, 1, 1)) == []


def test_dateline() -> None:
    assert dateline("头条 发布时间:2022-01-26\n正文") == dt.date(2022, 1, 26)
    assert dateline("来源:桂林日报 2018-06-19 12:04") == dt.date(2018, 6, 19)
    assert dateline("没有日期") is None
