"""Settings every service shares; each service's ``config.py`` extends them."""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    # hide_input_in_errors: a refused setting's error must not print the secrets it was
    # given (pydantic shows the input values otherwise).
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", hide_input_in_errors=True)

    environment: Literal["development", "test", "production"] = Field(
        "development", validation_alias=AliasChoices("APP_ENV", "ENVIRONMENT")
    )
    kafka_bootstrap_servers: str = Field(
        "127.0.0.1:9092", validation_alias="KAFKA_BOOTSTRAP_SERVERS"
    )
    #: Prepended to every topic name; lets tests and tenants share one broker.
    topic_prefix: str = Field("", validation_alias="TOPIC_PREFIX")
    host: str = Field("127.0.0.1", validation_alias="BIND_HOST")
    log_level: str = Field("INFO", validation_alias="LOG_LEVEL")

    def topic(self, name: str) -> str:
        return self.topic_prefix + name
