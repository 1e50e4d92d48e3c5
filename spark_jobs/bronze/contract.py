"""The event contract (:data:`wikistream.events.CONTRACT`) as Spark Column expressions.

The failing rule id of every record equals what :func:`wikistream.events.parse_and_check`
returns for the same raw text (checked record by record in tests against generated
faults), so the producer and bronze never disagree on what is valid.

How wrong JSON types are found without a Python UDF (which would cost most of the
throughput):

* Fast path, one JSON parse. The typed parse (:func:`.schema.typed_event_schema`)
  leaves ``_corrupt_record`` null only when the text is a well-formed object and every
  ``long``/``boolean`` field has the right JSON type. Then "present" is "not null".
* Slow path, only for rows whose ``_corrupt_record`` is set: a second parse with every
  leaf as ``string`` (:func:`.schema.presence_schema`) tells present-but-wrong-type
  (text non-null, typed null) from absent, and a parse as ``map<string,string>`` tells malformed
  text or a non-object from an object with a bad field.
* Spark's ``string`` type accepts any JSON token (it keeps the token's text), so for the
  contract's string fields a value *looks* non-string when its text reads as a JSON
  number, ``true``/``false``, an object or an array. Only then (titles like ``1984``,
  comments like ``[[link]]``) a probe parse decides whether the token really was a
  number/boolean/object/array (:func:`.schema.probe_schema`).

Spark's parser is put into strict mode (no single quotes) to match Python's ``json``.
Spark's parser also stops at the end of the first top-level value, where Python rejects
any text after it (two messages glued together, ``{...}{...}`` or ``{...},{...}``, or a
stray ``}``). Spark's JSON functions all stop there, so no single wrapping can tell: the
text is counted as array elements twice (:func:`single_value`), wrapped as ``[text]``
(one element only if nothing but ``]`` or whitespace follows the first value) and as
``[text,0]`` (two elements only if the array did not close right after that value). Both
hold exactly when the text is one JSON value and whitespace. The fast path counts with
``json_array_length`` (it only counts tokens); the rule evaluation counts with a strict
``from_json``, which also reads ``NaN`` as Python does.

Python 3.9-compatible.
"""

from __future__ import annotations

import operator
from functools import reduce
from typing import TYPE_CHECKING, Callable, Dict, List, Optional, Tuple

from pyspark.sql import functions as F

from spark_jobs.bronze.schema import (
    CORRUPT_COLUMN,
    PROBE_TYPES,
    presence_schema,
    probe_schema,
    string_rules,
    typed_event_schema,
)
from wikistream.events import (
    CONTRACT,
    RULE_MALFORMED_JSON,
    RULE_NOT_AN_OBJECT,
    RULE_OVERSIZED,
    FieldRule,
)

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import Column, DataFrame

#: Options of every JSON parse: as strict as Python's ``json.loads``.
JSON_OPTIONS: Dict[str, str] = {
    "mode": "PERMISSIVE",
    "columnNameOfCorruptRecord": CORRUPT_COLUMN,
    "allowSingleQuotes": "false",
    "allowUnquotedFieldNames": "false",
    "allowNumericLeadingZeros": "false",
    "allowBackslashEscapingAnyCharacter": "false",
    "allowUnquotedControlChars": "false",
}

_NUMBER = r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$"
_SCALAR_JSON = (
    r'^\s*(-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?|true|false|null|NaN|-?Infinity|"([^"\\]|\\.)*")\s*$'
)

EVENT_COLUMN = "_event"
RULE_COLUMN = "failed_rule"
_PRESENT = "_present"
_BAD = "_bad"
_UNREADABLE = "_unreadable"
_NOT_OBJECT = "_not_object"
_TRAILING = "_trailing"
FAST_COLUMN = "_fast"


def _field(struct: str, path: Tuple[str, ...]) -> Column:
    col = F.col(struct)
    for key in path:
        col = col.getField(key)
    return col


def _probe_column(kind: str) -> str:
    return f"_probe_{kind}"


def string_value(rule: FieldRule) -> Column:
    """The text of a string field (typed parse, or the presence parse on the slow path)."""
    return F.when(F.col(_BAD), _field(_PRESENT, rule.path)).otherwise(_field(EVENT_COLUMN, rule.path))


def is_present(rule: FieldRule) -> Column:
    """Present and not JSON ``null``."""
    if rule.type == "string":
        return string_value(rule).isNotNull()
    return F.when(F.col(_BAD), _field(_PRESENT, rule.path).isNotNull()).otherwise(
        _field(EVENT_COLUMN, rule.path).isNotNull()
    )


def looks_non_string(kind: str, text: Column) -> Column:
    """The text of a string-typed value reads like a JSON token of ``kind``.

    Cheap tests first (``AND`` short-circuits): this runs for every string field of
    every row. Each test reads the first or last bytes in place: a byte-wise range
    comparison picks text starting with ``-`` to ``9`` (``.`` and ``/`` sit in that range
    and then fail the regular expression, which runs only for those). ``ascii()`` would
    copy the whole text first: for 20 fields and long comments that copy made the check
    cost 4.4 s per million rows, against 1.8 s this way.
    """
    if kind == "number":
        return (text >= F.lit("-")) & (text < F.lit(":")) & text.rlike(_NUMBER)
    if kind == "boolean":
        return text.isin("true", "false")
    if kind == "object":
        return text.startswith("{") & text.endswith("}")
    if kind == "array":
        return text.startswith("[") & text.endswith("]")
    raise ValueError(f"unknown probe kind {kind!r}")


def has_wrong_type(rule: FieldRule) -> Column:
    """Present with a JSON type other than the contract's (call only where present)."""
    if rule.type == "string":
        text = string_value(rule)
        checks = [
            looks_non_string(kind, text) & _field(_probe_column(kind), rule.path).isNotNull()
            for kind in PROBE_TYPES
        ]
        out = checks[0]
        for check in checks[1:]:
            out = out | check
        return out
    # Typed parse failed (null) where the all-string parse found a value.
    return F.col(_BAD) & _field(EVENT_COLUMN, rule.path).isNull()


def rule_check(rule: FieldRule) -> Column:
    """The rule id ``rule`` fails with, or null: required, then type, then allowed."""
    present = is_present(rule)
    check = F.when(~present, F.lit(rule.rule_id) if rule.required else F.lit(None).cast("string"))
    check = check.when(has_wrong_type(rule), F.lit(f"type:{rule.name}"))
    if rule.allowed:
        check = check.when(~string_value(rule).isin(*rule.allowed), F.lit(f"allowed:{rule.name}"))
    return check


def structural_columns(value: Column) -> Dict[str, Column]:
    """The parses the structural check needs, each evaluated only where it can matter.

    Kept apart from :func:`structural_check` so that the projection evaluating the rules
    holds no ``from_json`` (which cannot be compiled into whole-stage code and would
    drag the ~40 rule expressions into slow per-expression evaluation).
    """
    bad = F.col(_BAD)
    # A map of strings never fails on a field's type, so it is null only for malformed
    # text or a non-object (json_object_keys would accept single quotes; Python does not).
    unreadable = F.col(EVENT_COLUMN).isNull() | (
        bad & F.from_json(value, "map<string,string>", JSON_OPTIONS).isNull()
    )
    is_array = F.trim(value).startswith("[") & F.from_json(value, "array<string>", JSON_OPTIONS).isNotNull()
    not_object = is_array | value.rlike(_SCALAR_JSON)
    return {
        _UNREADABLE: F.coalesce(unreadable, F.lit(True)),
        _NOT_OBJECT: F.when(unreadable, not_object),
        _TRAILING: F.when(~unreadable, ~single_value(value, _strict_count)),
    }


def single_value(value: Column, count: Callable[[Column], Column]) -> Column:
    """The text is one JSON value, with nothing but whitespace around it.

    ``count`` gives the number of elements of a JSON array text (null if unreadable).
    ``[text]`` has one element when the first value is followed by nothing, or by ``]``
    (the parser stops at the array's end); ``[text,0]`` has two only when the array did
    not end right after the first value, which rules the ``]`` case out.
    """
    alone = count(F.concat(F.lit("["), value, F.lit("]"))) == 1
    before_sentinel = count(F.concat(F.lit("["), value, F.lit(",0]"))) == 2
    return F.coalesce(alone & before_sentinel, F.lit(False))


def _strict_count(array_text: Column) -> Column:
    """Elements of a JSON array text, parsed as strictly as the typed parse (-1 if unreadable)."""
    return F.size(F.from_json(array_text, "array<string>", JSON_OPTIONS))


def structural_check(value: Column, size: Column, max_bytes: int) -> Column:
    """oversized_payload / malformed_json / not_an_object, or null (in that order)."""
    return (
        F.when(value.isNull(), F.lit(RULE_MALFORMED_JSON))
        .when(size > F.lit(max_bytes), F.lit(RULE_OVERSIZED))
        .when(
            F.col(_UNREADABLE),
            F.when(F.col(_NOT_OBJECT), F.lit(RULE_NOT_AN_OBJECT)).otherwise(F.lit(RULE_MALFORMED_JSON)),
        )
        .when(F.col(_TRAILING), F.lit(RULE_MALFORMED_JSON))
    )


def fast_path_valid(rules: Tuple[FieldRule, ...], max_bytes: int, value: Column, size: Column) -> Column:
    """True for the common row that passes every rule, decided from the typed parse alone.

    Sound, not complete: ``True`` implies :func:`wikistream.events.parse_and_check` finds
    no rule; a row for which it is ``False`` (a few percent) gets the full, ordered rule
    evaluation. Typed parse without ``_corrupt_record`` (every long/boolean field has its
    type), nothing after the object (:func:`single_value`), required fields non-null,
    allowed values, and no string field whose text starts like a number (then matches
    the number pattern), is a boolean literal or is bracketed. Only cheap tests: this
    runs for every row.
    """
    event = F.col(EVENT_COLUMN)
    ok = value.isNotNull() & (size <= F.lit(max_bytes)) & event.isNotNull()
    ok = ok & event.getField(CORRUPT_COLUMN).isNull()
    # Nothing after the object. json_array_length is the cheaper count (no values are
    # built); it rejects NaN where Python accepts it, which only sends such rows to the
    # full rules, never lets a bad one through.
    ok = ok & single_value(value, F.json_array_length)
    for rule in rules:
        text = _field(EVENT_COLUMN, rule.path)
        if rule.required:
            ok = ok & text.isNotNull()
        if rule.allowed:
            ok = ok & text.isin(*rule.allowed)
    # One lambda over the string fields instead of ~20 inlined copies: the inlined form
    # made the generated method too big for the JVM to compile (> 8000 bytes of bytecode
    # run interpreted), which cost more than the whole parse.
    texts = [_field(EVENT_COLUMN, rule.path) for rule in string_rules(rules)]
    if texts:
        ok = ok & ~F.exists(F.array(*texts), _looks_like_token)
    return F.coalesce(ok, F.lit(False))


def _looks_like_token(text: Column) -> Column:
    """The text of a string field reads like a JSON number, boolean, object or array."""
    return F.coalesce(
        reduce(operator.or_, (looks_non_string(kind, text) for kind in PROBE_TYPES)), F.lit(False)
    )


def with_contract(
    df: DataFrame,
    max_bytes: int,
    value_col: str = "value_str",
    size_col: str = "value_size",
    rules: Tuple[FieldRule, ...] = CONTRACT,
) -> DataFrame:
    """Add ``_event`` (the typed event struct) and ``failed_rule`` (null when valid).

    Expects ``value_col`` (the raw text) and ``size_col`` (its UTF-8 byte length).
    Oversized records are not parsed at all (their rule is decided by size alone).

    Cost shape: one typed parse and the cheap :func:`fast_path_valid` for every row;
    everything else (the all-string parse, the structural parses, the probes and the ~40
    ordered rule expressions) sits behind ``CASE WHEN NOT _fast`` and is evaluated only
    for the few rows that are not plainly valid. Each step is its own projection so the
    optimizer never inlines a ``from_json`` into the many expressions that read it.
    """
    steps, dropped = contract_steps(max_bytes, value_col, size_col, rules)
    for step in steps:
        df = df.withColumns(step)
    return df.drop(*dropped)


#: Built column expressions per (gateway, arguments): see :func:`contract_steps`.
_STEPS_CACHE: Dict[
    Tuple[int, int, str, str, Tuple[FieldRule, ...]], Tuple[List[Dict[str, Column]], Tuple[str, ...]]
] = {}


def contract_steps(
    max_bytes: int, value_col: str, size_col: str, rules: Tuple[FieldRule, ...]
) -> Tuple[List[Dict[str, Column]], Tuple[str, ...]]:
    """The projections of :func:`with_contract` (applied in order) and the helper columns to drop.

    The expressions are unresolved column references, valid for any frame with these
    column names, so they are built once per process and reused: building them costs
    ~9,000 Py4J calls (about 0.7 s), which a micro-batch would otherwise pay every time.
    """
    from pyspark import SparkContext

    key = (id(SparkContext._gateway), max_bytes, value_col, size_col, rules)
    if key not in _STEPS_CACHE:
        _STEPS_CACHE[key] = _build_contract_steps(max_bytes, value_col, size_col, rules)
    return _STEPS_CACHE[key]


def _build_contract_steps(
    max_bytes: int, value_col: str, size_col: str, rules: Tuple[FieldRule, ...]
) -> Tuple[List[Dict[str, Column]], Tuple[str, ...]]:
    value = F.col(value_col)
    size = F.col(size_col)
    slow = ~F.col(FAST_COLUMN)
    steps: List[Dict[str, Column]] = [
        {
            EVENT_COLUMN: F.when(
                size <= F.lit(max_bytes), F.from_json(value, typed_event_schema(rules), JSON_OPTIONS)
            )
        },
        {FAST_COLUMN: fast_path_valid(rules, max_bytes, value, size)},
        {_BAD: slow & F.coalesce(F.col(EVENT_COLUMN).getField(CORRUPT_COLUMN).isNotNull(), F.lit(False))},
        {_PRESENT: F.when(F.col(_BAD), F.from_json(value, presence_schema(rules), JSON_OPTIONS))},
        {name: F.when(slow, column) for name, column in structural_columns(value).items()},
    ]
    strings = string_rules(rules)
    probes: List[str] = []
    for kind in PROBE_TYPES:
        looks_any: Optional[Column] = None
        for rule in strings:
            one = looks_non_string(kind, string_value(rule))
            looks_any = one if looks_any is None else (looks_any | one)
        name = _probe_column(kind)
        probes.append(name)
        condition = slow & F.coalesce(looks_any, F.lit(False)) if looks_any is not None else F.lit(False)
        steps.append({name: F.when(condition, F.from_json(value, probe_schema(kind, rules), JSON_OPTIONS))})
    checks = [structural_check(value, size, max_bytes)] + [rule_check(r) for r in rules]
    steps.append({RULE_COLUMN: F.when(slow, F.coalesce(*checks))})
    dropped = (FAST_COLUMN, _PRESENT, _BAD, _UNREADABLE, _NOT_OBJECT, _TRAILING, *probes)
    return steps, dropped


def with_parsed_event(
    df: DataFrame,
    max_bytes: int,
    value_col: str = "value_str",
    size_col: str = "value_size",
    rules: Tuple[FieldRule, ...] = CONTRACT,
) -> DataFrame:
    """Add ``_event`` (the typed parse; null when oversized) and ``_fast`` (:func:`fast_path_valid`).

    The first half of the split contract check; persist the result before
    :func:`with_failed_rule` (see there why).
    """
    steps, _ = contract_steps(max_bytes, value_col, size_col, rules)
    event, fast = steps[0], steps[1]  # the same first two projections as with_contract
    return df.withColumns(event).withColumns(fast)


def with_failed_rule(
    parsed: DataFrame,
    max_bytes: int,
    value_col: str = "value_str",
    size_col: str = "value_size",
    rules: Tuple[FieldRule, ...] = CONTRACT,
) -> DataFrame:
    """Add ``failed_rule`` to a frame from :func:`with_parsed_event`, dropping ``_fast``.

    Rows on the fast path are valid as they are; only the others (a few percent) go
    through :func:`with_contract`, so the big rule code never runs on the common row.
    ``parsed`` must be persisted (the bronze writer caches it per micro-batch): on a lazy
    plan the optimizer pushes the ``_fast`` filter below the projection and substitutes
    the ``from_json`` into every one of the ~40 field references of the check.
    """
    fast = F.col(FAST_COLUMN)
    valid = parsed.where(fast).withColumn(RULE_COLUMN, F.lit(None).cast("string"))
    suspect = parsed.where(~fast).drop(EVENT_COLUMN, FAST_COLUMN)
    checked = with_contract(suspect, max_bytes, value_col, size_col, rules)
    return valid.drop(FAST_COLUMN).unionByName(checked)
