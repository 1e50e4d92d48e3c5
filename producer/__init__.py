"""The WikiStream producer: Wikimedia EventStreams (SSE) -> Kafka (Amazon MSK with IAM).

Modules, thin to thick: :mod:`producer.main` (entry point, signals, the loop),
:mod:`producer.settings` (typed env-var contract), :mod:`producer.sse` (wire-format
parser, HTTP stream, backoff), :mod:`producer.validation` (contract + allow-list
routing), :mod:`producer.sink` (confluent-kafka sink, delivery watermark),
:mod:`producer.state` (resume position), :mod:`producer.metrics` (counters).

Delivery semantics: at-least-once, no gaps. See :mod:`producer.main` for the ordering
argument and the duplicates that can occur.
"""

__version__ = "1.0.0"
