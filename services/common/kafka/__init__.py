"""Kafka for every service: a broker that loses nothing, durable consumers, publishers, dead letters."""

from .admin import ensure_topics
from .broker import create_broker
from .consumer import Consumed, ConsumerPolicy, PermanentError, TransientError, durable_subscriber
from .dead_letters import DeadLetters
from .publisher import Publisher
from .tracking import tracked

__all__ = [
    "Consumed",
    "ConsumerPolicy",
    "DeadLetters",
    "PermanentError",
    "Publisher",
    "TransientError",
    "create_broker",
    "durable_subscriber",
    "ensure_topics",
    "tracked",
]
