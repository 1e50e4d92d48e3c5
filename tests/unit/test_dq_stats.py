"""Completeness proved from file statistics: the pure decision (no Spark)."""

from __future__ import annotations

from spark_jobs.dq.stats import FileStats, proves_complete, total_records


def _file(rows: int, nulls: int | None, lower: str | None) -> FileStats:
    return FileStats(rows, {"raw_payload": nulls}, {"raw_payload": lower})


def test_clean_files_prove_a_string_column_complete() -> None:
    files = [_file(10, 0, '{"meta":{"id":"a'), _file(5, 0, "a")]
    assert proves_complete(files, "raw_payload", string=True)
    assert total_records(files) == 15


def test_any_doubt_leaves_the_check_to_the_scan() -> None:
    clean = _file(10, 0, "{")
    # Given one clean file, each of these second files must defeat the proof:
    doubtful = {
        "has nulls": _file(3, 1, "{"),
        "null count unknown": _file(3, None, "{"),
        "no lower bound (metrics mode none/counts)": _file(3, 0, None),
        "empty string is the minimum": _file(3, 0, ""),
        "minimum starts with a space (may be blank)": _file(3, 0, "   "),
        "minimum starts below the space (control char)": _file(3, 0, "\t{"),
    }
    for why, other in doubtful.items():
        assert not proves_complete([clean, other], "raw_payload", string=True), why
    # A column the statistics do not mention proves nothing either.
    assert not proves_complete([clean], "event_id", string=True)


def test_non_string_columns_need_only_null_counts() -> None:
    assert proves_complete([_file(4, 0, None)], "raw_payload", string=False)
    assert not proves_complete([_file(4, 2, None)], "raw_payload", string=False)


def test_no_files_and_empty_files() -> None:
    # An empty window is judged by the scan, not "proved"; empty files do not count.
    assert not proves_complete([], "raw_payload", string=True)
    assert proves_complete([_file(0, None, None), _file(2, 0, "x")], "raw_payload", string=True)
