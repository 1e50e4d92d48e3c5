"""Data-quality gates: suites as data (checks), engines that measure (engine_spark,
engine_deequ), a pure decision (evaluate), the promoted window (window), persistence
(results) and the alert payload (alert). Entry point: :mod:`spark_jobs.dq_gate`."""
