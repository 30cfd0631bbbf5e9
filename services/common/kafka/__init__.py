"""The one Kafka adapter every service uses: publisher, source, consumer loop."""

from services.common.kafka.loop import ConsumerLoop, RetryPolicy
from services.common.kafka.publisher import KafkaPublisher, Publisher
from services.common.kafka.records import Record
from services.common.kafka.source import KafkaSource, Source

__all__ = [
    "ConsumerLoop",
    "KafkaPublisher",
    "KafkaSource",
    "Publisher",
    "Record",
    "RetryPolicy",
    "Source",
]
