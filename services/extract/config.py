from __future__ import annotations

from pydantic import Field

from services.common.settings import ServiceSettings


class ExtractSettings(ServiceSettings):
    port: int = Field(8004, validation_alias="EXTRACT_PORT")
    group_id: str = Field("extract", validation_alias="EXTRACT_GROUP_ID")
    max_article_chars: int = Field(1_000_000, validation_alias="EXTRACT_MAX_ARTICLE_CHARS")
    #: Longer extraction of one article is a pathology (text without punctuation, a dump):
    #: its worker process is killed and the article dead-lettered as budget_exceeded.
    article_budget_seconds: float = Field(
        10.0, gt=0, validation_alias="EXTRACT_ARTICLE_BUDGET_SECONDS"
    )
