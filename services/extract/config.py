from __future__ import annotations

from pydantic import Field

from services.common.settings import ServiceSettings


class ExtractSettings(ServiceSettings):
    port: int = Field(8004, validation_alias="EXTRACT_PORT")
    group_id: str = Field("extract", validation_alias="EXTRACT_GROUP_ID")
    max_article_chars: int = Field(1_000_000, validation_alias="EXTRACT_MAX_ARTICLE_CHARS")
