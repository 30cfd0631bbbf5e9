from services.ingest.domain.articles import ArticleCreate, article_id_for, canonical_url


def test_cosmetic_url_differences_give_one_article_id() -> None:
    variants = [
        "https://news.example.cn/health/2023/1014/a1.html",
        "http://NEWS.example.cn/health/2023/1014/a1.html?utm_source=wechat",
        "https://news.example.cn:443/health/2023/1014/a1.html#comments",
        "https://news.example.cn/health/2023/1014/a1.html?spm=abc&from=timeline",
    ]
    ids = {article_id_for(ArticleCreate(url=u, body="正文")) for u in variants}
    assert len(ids) == 1


def test_query_parameters_that_name_the_article_are_kept() -> None:
    assert canonical_url("https://x.cn/show?id=2&page=1") != canonical_url("https://x.cn/show?id=3")
    assert canonical_url("https://x.cn/show?page=1&id=2") == canonical_url(
        "https://x.cn/show?id=2&page=1"
    )


def test_without_a_url_the_content_is_the_identity() -> None:
    one = ArticleCreate(title="标题", body="某医院  与某卫生院签约")
    same = ArticleCreate(title="标题", body="某医院 与某卫生院签约")
    other = ArticleCreate(title="标题", body="另一篇文章")
    assert article_id_for(one) == article_id_for(same)
    assert article_id_for(one) != article_id_for(other)
    assert article_id_for(one).startswith("c")
