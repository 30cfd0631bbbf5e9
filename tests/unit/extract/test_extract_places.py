from services.extract.extraction.places import PlaceContext, find_place_names, locate_name


def test_county_in_gazetteer() -> None:
    place, _ = locate_name("灵川县中医医院")
    assert (place.province, place.city, place.county) == ("广西", "桂林市", "灵川县")
    assert place.strong


def test_county_level_city() -> None:
    place, _ = locate_name("广汉市第二人民医院")
    assert (place.province, place.city, place.county) == ("四川", "德阳市", "广汉市")


def test_province_and_city_prefix() -> None:
    place, length = locate_name("陕西省西安市红会医院")
    assert (place.province, place.city) == ("陕西", "西安市")
    assert length == len("陕西省西安市")


def test_province_short_name() -> None:
    assert locate_name("北京航天中心医院")[0].province == "北京"
    assert locate_name("宁夏爱尔眼科医院")[0].province == "宁夏"
    assert locate_name("山西医科大学第二医院")[0].province == "山西"


def test_known_university_hospital() -> None:
    place, _ = locate_name("西南医科大学附属医院")
    assert (place.province, place.city) == ("四川", "泸州市")


def test_autonomous_prefecture_short_form() -> None:
    assert locate_name("玉树州人民医院")[0].province == "青海"


def test_renamed_city() -> None:
    assert locate_name("襄樊市中心医院")[0].province == "湖北"


def test_city_alias_is_weak() -> None:
    place, _ = locate_name("佛山中医医院")
    assert place.province == "广东" and not place.strong


def test_ambiguous_district_resolved_by_context() -> None:
    text = "上海市长宁区卫健委、上海市宝山区和普陀区医院"
    ctx = PlaceContext(find_place_names(text))
    assert ctx.home_province == "上海"
    place, _ = locate_name("普陀区中心医院", ctx)
    assert place.province == "上海"


def test_place_names_found_in_text() -> None:
    names = [m.name for m in find_place_names("云梦县先后挂牌成立云梦县总医院,健康城区建设")]
    assert names == ["云梦县", "云梦县"]
