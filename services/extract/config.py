from __future__ import annotations

from pydantic import Field

from services.common.settings import ArticleSettings, request_bytes_field


class ExtractSettings(ArticleSettings):
    #: The HTTP port (health, readiness and metrics).
    port: int = Field(8004, validation_alias="EXTRACT_PORT")
    #: The Kafka consumer group of articles.raw.
    group_id: str = Field("extract", validation_alias="EXTRACT_GROUP_ID")
    #: The consumer group keeping where ``python -m services.extract replay`` stands in
    #: articles.raw (after TOPIC_PREFIX), so that a replay run again continues.
    replay_group_id: str = Field("extract-replay", validation_alias="EXTRACT_REPLAY_GROUP_ID")
    max_request_bytes: int = request_bytes_field("EXTRACT_MAX_REQUEST_BYTES")
    #: Longer extraction of one article is a pathology (text without punctuation, a dump):
    #: its worker process is killed and the article dead-lettered as budget_exceeded.
    article_budget_seconds: float = Field(
        10.0, gt=0, validation_alias="EXTRACT_ARTICLE_BUDGET_SECONDS"
    )
    #: Extraction worker processes: a fetch's partitions are spread over them (each
    #: partition's articles stay in order on one). One suits a machine whose other cores
    #: run the rest of the system; add one per core extraction may have to itself.
    workers: int = Field(1, ge=1, le=32, validation_alias="EXTRACT_WORKERS")
