"""The pipeline's Spark jobs, declared once: name, entry module, arguments, launch, order.

Every reader takes a job from here instead of typing its module name:

* the infrastructure — the state machine (``stacks/constructs/pipeline.py``: :data:`CYCLE`
  and :func:`cycle_steps`), the restart Lambda (:data:`BRONZE_STREAM`), the maintenance
  schedule (:data:`MAINTENANCE`) — renders each job run's entry point, arguments and
  ``sparkSubmitParameters`` (with :func:`job_bundles` and :mod:`spark_jobs.launch`);
* the jobs name themselves in the ledger with :attr:`Job.name` and find each other's
  ledger rows with it (silver finds its bronze gate with :func:`gate_ledger_name`);
* the local launcher (``local_runtime/submit.py``, ``local_runtime/jobs.py``) hosts the
  cycle's jobs (:func:`cycle_jobs`) in one job server and runs a job request by the job
  its entry point names (:func:`job_for_entry_point`);
* the tests check the template and the local launcher against it.

A job's *name* is three things at once, kept equal on purpose: its module
(``spark_jobs/<name>.py``, uploaded as ``<name>.py``), the prefix of its EMR job-run
names, and its ``job`` in ``ops.pipeline_runs``.

Python 3.9-compatible (shipped to EMR).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from spark_jobs.launch import DEEQU, ICEBERG, KAFKA_SOURCE, MSK_IAM
from wikistream.config import ConfigError


@dataclass(frozen=True)
class Job:
    """One Spark job: ``spark_jobs/<name>.py`` and what its JVM needs beyond Iceberg."""

    name: str
    summary: str
    #: Jar bundles (``jvm/pom.xml`` modules) beyond Iceberg, on EMR and locally.
    bundles: Tuple[str, ...] = ()
    #: Extra bundles when the DQ engine is this one (``dq.engine``), e.g. Deequ's jar.
    engine_bundles: Tuple[Tuple[str, Tuple[str, ...]], ...] = ()

    @property
    def module(self) -> str:
        """The importable entry module, e.g. ``spark_jobs.silver_batch``."""
        return f"spark_jobs.{self.name}"

    @property
    def entry_point(self) -> str:
        """The script EMR runs, relative to the deployed ``spark_jobs/`` prefix."""
        return f"{self.name}.py"


CREATE_TABLES = Job("create_tables", "creates the catalogue's missing tables and columns")
BRONZE_STREAM = Job(
    "bronze_stream",
    "Kafka -> event contract -> insert-only MERGE into bronze (stream, or one bounded run)",
    bundles=(KAFKA_SOURCE, MSK_IAM),
)
DQ_GATE = Job(
    "dq_gate",
    "measures, evaluates and gates one layer; exits non-zero on an Error-level failure",
    engine_bundles=(("deequ", (DEEQU,)),),
)
SILVER_BATCH = Job("silver_batch", "bronze's new snapshots -> silver.events (gated by the bronze gate)")
GOLD_BATCH = Job("gold_batch", "silver's new rows -> gold.hourly_stats, risk_scores, daily_summary")
MAINTENANCE = Job("maintenance", "weekly Iceberg compaction and snapshot expiry")
ROLLBACK = Job("rollback", "operator's rollback of silver and gold to the snapshots before a bad cycle")

#: Every job, by name.
JOBS: Mapping[str, Job] = {
    job.name: job
    for job in (CREATE_TABLES, BRONZE_STREAM, DQ_GATE, SILVER_BATCH, GOLD_BATCH, MAINTENANCE, ROLLBACK)
}


def gate_ledger_name(layer: str) -> str:
    """The ledger job name of the DQ gate of ``layer``, e.g. ``dq_gate_bronze``."""
    return f"{DQ_GATE.name}_{layer}"


def job_for_entry_point(entry_point: str) -> Job:
    """The job whose script ``entry_point`` (a URI or path ending ``/<name>.py``) names."""
    name = entry_point.rsplit("/", 1)[-1]
    if not name.endswith(".py") or name[: -len(".py")] not in JOBS:
        raise KeyError(f"no job has the entry point {entry_point!r}")
    return JOBS[name[: -len(".py")]]


def job_bundles(job: Job, *, dq_engine: str, on_emr: bool) -> Tuple[str, ...]:
    """The jar bundles ``job`` is launched with, on EMR or locally (pure).

    Locally the Iceberg runtime comes from the manifest and MSK IAM is not needed
    (the local broker is plaintext); on EMR the image ships Iceberg.
    """
    bundles: List[str] = list(job.bundles)
    bundles.extend(dict(job.engine_bundles).get(dq_engine, ()))
    if on_emr:
        return tuple(bundles)
    return (ICEBERG, *(b for b in bundles if b != MSK_IAM))


# ---- arguments --------------------------------------------------------------------------

#: Where the state machine puts each cycle's run id (its execution name, ``$$.Execution.Name``).
RUN_ID_OF_EXECUTION = "$RUN_ID"
#: Where the state machine puts the time its execution started (``$$.Execution.StartTime``,
#: ISO 8601): every ledger row of the cycle is recorded after it, so the jobs read the
#: cycle's rows from the day partitions since then instead of the whole ledger.
START_OF_EXECUTION = "$CYCLE_STARTED_AT"


def emr_arguments(
    *, env: str, run_id: str, table_bucket_arn: str, region: str, cycle_started_at: Optional[str] = None
) -> Tuple[str, ...]:
    """The arguments every job run on EMR gets (:func:`spark_jobs.cli.parse_job_args`).

    ``run_id`` may be :data:`RUN_ID_OF_EXECUTION` and ``cycle_started_at``
    :data:`START_OF_EXECUTION` (jobs of the cycle only); the values may be CDK tokens.
    """
    started = ("--cycle-started-at", cycle_started_at) if cycle_started_at else ()
    return (
        "--env", env,
        "--run-id", run_id,
        *started,
        "--target", "emr",
        "--table-bucket-arn", table_bucket_arn,
        "--region", region,
    )  # fmt: skip


def bronze_arguments(bootstrap_servers: str, checkpoint_uri: str) -> Tuple[str, ...]:
    """Bronze's own arguments: the Kafka bootstrap servers and its checkpoint location."""
    return ("--bootstrap", bootstrap_servers, "--checkpoint", checkpoint_uri)


# ---- the cycle ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One job state of the cycle: state name, job, its extra arguments, what it is."""

    state: str
    job: Job
    args: Tuple[str, ...] = ()
    kind: str = "job"

    @property
    def module(self) -> str:
        """The job's name (its ``spark_jobs/<name>.py``)."""
        return self.job.name


#: The cycle, in order: the one declaration of the pipeline's order.
CYCLE: Tuple[Step, ...] = (
    Step("CreateTables", CREATE_TABLES),
    Step("BronzeGate", DQ_GATE, ("--layer", "bronze"), "DQ gate"),
    Step("Silver", SILVER_BATCH),
    Step("SilverGate", DQ_GATE, ("--layer", "silver"), "DQ gate"),
    Step("Gold", GOLD_BATCH),
    Step("GoldGate", DQ_GATE, ("--layer", "gold"), "DQ gate"),
)

#: ``pipeline.bronze_mode`` values: always-on stream vs. one bounded run per cycle.
BRONZE_MODES: Tuple[str, ...] = ("streaming", "per_cycle")
BRONZE_INGEST_STATE = "BronzeIngest"


def cycle_steps(bronze_mode: str, bronze_args: Sequence[str] = ()) -> Tuple[Step, ...]:
    """The job states of one cycle; "per_cycle" puts BronzeIngest first, nothing else changes."""
    if bronze_mode not in BRONZE_MODES:
        raise ConfigError(f"pipeline.bronze_mode must be one of {BRONZE_MODES}, got {bronze_mode!r}")
    if bronze_mode == "streaming":
        return CYCLE
    return (Step(BRONZE_INGEST_STATE, BRONZE_STREAM, (*bronze_args, "--available-now")), *CYCLE)


def cycle_jobs(steps: Optional[Sequence[Step]] = None) -> Tuple[Job, ...]:
    """The distinct jobs of the cycle (default: the streaming one), in first-use order."""
    seen: Dict[str, Job] = {}
    for step in CYCLE if steps is None else steps:
        seen.setdefault(step.job.name, step.job)
    return tuple(seen.values())
