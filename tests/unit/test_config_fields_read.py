"""Every configuration field is read by shipped code (house style 20; issue 20, defect 3).

A setting nothing reads promises behaviour that does not exist (``late_event_bound_hours``
was one). "Read" means an attribute access ``<something>.<field>`` in a shipped module
other than wikistream/config.py itself (where validation alone does not make a setting
do anything). Shipped code: every package the platform deploys or runs locally; tests
and bench are not.
"""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path
from typing import Any, Iterable, List, Set

from wikistream.config import PipelineConfig, PlatformConfig

REPO = Path(__file__).resolve().parents[2]
SHIPPED = ("wikistream", "producer", "spark_jobs", "stacks", "lambdas", "local_runtime", "app.py")
CONFIG_MODULE = REPO / "wikistream" / "config.py"


def shipped_sources(root: Path = REPO) -> List[Path]:
    files: List[Path] = []
    for name in SHIPPED:
        path = root / name
        files.extend([path] if path.is_file() else sorted(path.rglob("*.py")))
    return [f for f in files if f.resolve() != CONFIG_MODULE]


def attributes_read(files: Iterable[Path]) -> Set[str]:
    names: Set[str] = set()
    for file in files:
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute):
                names.add(node.attr)
    return names


def config_fields(cls: Any, prefix: str = "") -> List[str]:
    """Dotted names of every leaf field of a config dataclass (nested dataclasses expanded)."""
    out: List[str] = []
    instance = cls(env="local") if cls is PlatformConfig else cls()
    for f in dataclasses.fields(cls):
        value = getattr(instance, f.name)
        if dataclasses.is_dataclass(value):
            out.extend(config_fields(type(value), f"{prefix}{f.name}."))
        else:
            out.append(f"{prefix}{f.name}")
    return out


def unread_fields(cls: Any, read: Set[str]) -> List[str]:
    return [name for name in config_fields(cls) if name.rsplit(".", 1)[-1] not in read]


def test_every_config_field_is_read_by_shipped_code() -> None:
    read = attributes_read(shipped_sources())
    assert unread_fields(PlatformConfig, read) == []


def test_an_unused_field_is_caught() -> None:
    # Given: a pipeline config with one more knob that no shipped code reads.
    @dataclasses.dataclass(frozen=True)
    class WithUnusedKnob(PipelineConfig):
        reticulate_splines_every_hours: int = 3

    read = attributes_read(shipped_sources())
    # Then: the check names it (and only it).
    assert unread_fields(WithUnusedKnob, read) == ["reticulate_splines_every_hours"]
