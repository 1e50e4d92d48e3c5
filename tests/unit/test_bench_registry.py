"""Every `make bench` entry names a function that exists (a typo only shows up at bench time)."""

from __future__ import annotations

import importlib
import re

import pytest

from bench.run import BENCHES

_CALL = re.compile(r"__import__\('([\w.]+)', fromlist=\['(\w+)'\]\)\.(\w+)\(")


@pytest.mark.parametrize("bench", BENCHES, ids=[b.name for b in BENCHES])
def test_bench_calls_resolve_to_functions(bench: object) -> None:
    for expression in (bench.call, bench.quick_call):  # type: ignore[attr-defined]
        match = _CALL.match(expression)
        assert match, f"unexpected call shape: {expression}"
        module, listed, called = match.groups()
        assert listed == called, expression
        assert callable(getattr(importlib.import_module(module), called, None)), expression
