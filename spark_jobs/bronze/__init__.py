"""The bronze layer: Kafka records -> contract-checked events and dead letters in Iceberg.

Modules: :mod:`.schema` (explicit schemas derived from the event contract),
:mod:`.contract` (the contract as Spark Column expressions), :mod:`.transforms` (pure
DataFrame functions), :mod:`.writer` (exactly-once insert-only MERGEs inside
``foreachBatch``), :mod:`.source` (Kafka/MSK and landed-file stream sources) and
:mod:`.metrics` (per-micro-batch metrics). The entry point is ``spark_jobs/bronze_stream.py``.

Python 3.9-compatible (shipped to EMR Serverless).
"""
