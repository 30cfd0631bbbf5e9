from services.extract.extraction.text import clean_lines, normalise, remove_pinyin, to_simplified


def test_traditional_to_simplified() -> None:
    assert to_simplified("醫聯體簽約儀式在縣人民醫院舉行") == "医联体签约仪式在县人民医院举行"


def test_hong_kong_character_forms_to_simplified() -> None:
    assert to_simplified("鄉鎮衞生院與社區衞生服務中心簽約") == "乡镇卫生院与社区卫生服务中心签约"


def test_characters_that_show_nothing_are_dropped_not_made_spaces() -> None:
    text = "桂林市\u200b中西医结合医\u00ad院与灵川县中\ufeff医医院组建医联体"
    assert normalise(text).text == "桂林市中西医结合医院与灵川县中医医院组建医联体"


def test_simplified_passes_through() -> None:
    text = "桂林市中西医结合医院与灵川县中医医院组建紧密型医联体"
    assert to_simplified(text) == text


def test_pinyin_annotations_removed() -> None:
    assert remove_pinyin("西南医(yī)科大学(xué)附属医(yī)院") == "西南医科大学附属医院"
    assert remove_pinyin("网(wǎng)络(luò)门户") == "网络门户"


def test_pinyin_removal_keeps_real_parentheses() -> None:
    assert remove_pinyin("急诊PCI(经皮冠状动脉介入治疗)手术") == "急诊PCI(经皮冠状动脉介入治疗)手术"
    assert remove_pinyin("中国卒中中心联盟(CSCA)") == "中国卒中中心联盟(CSCA)"


def test_traditional_with_pinyin_end_to_end() -> None:
    norm = normalise("西南醫(yī)科大學(xué)附屬醫(yī)院與敘永縣人民醫(yī)院簽約")
    assert norm.text == "西南医科大学附属医院与叙永县人民医院签约"


def test_boilerplate_lines_dropped() -> None:
    raw = "\n".join(
        [
            "首页 新闻 健康 教育 财经 旅游 体育",
            "黄河新闻网 > 运城频道 > 健康生活",
            "中文亚洲|高清综合|区一区二区免费|无码一区二区|久久免费观看",
            "正文第一段,某医院与某卫生院签约。" * 10,
            "【携手】某某授牌(图1)",
            "本网站版权所有 晋ICP备2021000000号",
            "增值电信业务经营许可证:晋B2-20060000",
            "相关新闻:",
            "另一条新闻标题不应出现",
        ]
    )
    text = clean_lines(raw)
    assert text.startswith("正文第一段")
    assert "ICP" not in text and "图1" not in text and "另一条新闻" not in text
    assert "无码" not in text and ">" not in text


def test_duplicate_lines_dropped() -> None:
    text = clean_lines("某医院举行签约仪式。\n某医院举行签约仪式。\n第二段内容。")
    assert text == "某医院举行签约仪式。\n第二段内容。"


def test_html_main_text_and_title() -> None:
    html = (
        "<html><head><title>县医院加入骨科专科联盟_某某网</title></head><body>"
        "<div class='nav'><a>首页</a> <a>新闻</a> <a>专题</a> <a>服务</a></div>"
        "<h1>县医院加入骨科专科联盟</h1>"
        "<p>5月6日,甲市人民医院骨科专科联盟签约仪式在乙县人民医院举行,双方正式开展合作。</p>"
        "<p>根据协议,双方将在双向转诊、进修培训等方面开展合作,专家每月到县医院坐诊。</p>"
        "<div class='footer'>版权所有 京ICP备00000000号</div></body></html>"
    )
    norm = normalise(html, is_html=True)
    lines = norm.text.split("\n")
    assert lines[0] == "县医院加入骨科专科联盟"
    assert any(line.startswith("5月6日") for line in lines)
    assert "ICP" not in norm.text and "<" not in norm.text


def test_a_link_to_the_next_story_is_dropped_however_long_its_headline() -> None:
    story = "3月5日,甲市人民医院与乙县人民医院签约组建紧密型医联体,双方将在人才培养方面深入合作。"
    headline = "丙市中心医院与丁县人民医院签约共建医联体暨大型义诊活动圆满成功" * 5
    assert clean_lines(f"{story}\n上一篇:{headline}\n• 下一篇: {headline}") == story


def test_related_news_after_a_short_story_is_cut() -> None:
    story = "3月5日,甲市人民医院与乙县人民医院签约组建紧密型医联体。"
    text = clean_lines(f"{story}\n相关新闻\n- 2019-05-02 丙市中心医院与丁县人民医院签约")
    assert text == story


def test_related_news_in_a_menu_above_the_story_is_not_a_cut() -> None:
    story = "3月5日,甲市人民医院与乙县人民医院签约组建紧密型医联体。"
    assert clean_lines(f"首页\n相关新闻\n{story}").endswith(story)


def test_the_dates_of_linked_stories_are_not_the_publication_date() -> None:
    story = (
        "3月5日,甲市人民医院与乙县人民医院签约组建紧密型医联体,双方将在人才培养、学科建设等方面开展合作。"
        * 2
    )
    norm = normalise(f"{story}\n相关新闻\n- 2019-05-02 丙市中心医院义诊")
    assert "2019-05-02" not in norm.head


def test_a_breadcrumb_given_as_the_title_is_not_the_title() -> None:
    story = "3月5日,甲市人民医院与乙县人民医院签约组建紧密型医联体。"
    assert normalise(story, title="您当前的位置:首页 > 新闻资讯").text == story
    assert normalise(story, title="发布时间:2024-03-05").text == story
    assert normalise(story, title="甲市医联体成立").text == "甲市医联体成立\n" + story
