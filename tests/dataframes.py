"""Whole-DataFrame equality for transform tests (STYLE.md #19), in the style of chispa's
``assert_df_equality``: the schema first (column names and order, types, nullability),
then every row — not chosen columns as tuples.

Written here rather than installed: it is twenty lines, and a failure message that
names the differing columns or rows is all we need from it.
"""

from __future__ import annotations

from typing import Any, Optional


def _rounded(value: Any, digits: Optional[int]) -> Any:
    if digits is not None and isinstance(value, float):
        return round(value, digits)
    return value


def rows_of(df: Any, *, digits: Optional[int] = None, ignore_row_order: bool = True) -> list[tuple[Any, ...]]:
    """``df``'s rows as tuples (doubles rounded to ``digits``), sorted unless order matters."""
    rows = [tuple(_rounded(v, digits) for v in row) for row in df.collect()]
    return sorted(rows, key=repr) if ignore_row_order else rows


def assert_df_equality(
    actual: Any, expected: Any, *, digits: Optional[int] = None, ignore_row_order: bool = True
) -> None:
    """``actual`` equals ``expected``: same schema (with nullability), same rows."""
    got = [(f.name, f.dataType.simpleString(), f.nullable) for f in actual.schema.fields]
    want = [(f.name, f.dataType.simpleString(), f.nullable) for f in expected.schema.fields]
    assert got == want, (
        "schemas differ (name, type, nullable):\n"
        + "\n".join(f"  {g} != {w}" for g, w in zip(got, want) if g != w)
        + ("" if len(got) == len(want) else f"\n  columns {len(got)} != {len(want)}")
    )
    assert actual.schema == expected.schema, "nested fields differ"
    got_rows = rows_of(actual, digits=digits, ignore_row_order=ignore_row_order)
    want_rows = rows_of(expected, digits=digits, ignore_row_order=ignore_row_order)
    missing = [r for r in want_rows if r not in got_rows]
    extra = [r for r in got_rows if r not in want_rows]
    assert got_rows == want_rows, f"rows differ:\n  missing {missing}\n  unexpected {extra}"
