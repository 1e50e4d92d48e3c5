"""What a Python file imports, read with ``ast`` (nothing is imported): the checks of
the line between shipped and local-only code and of what packaging ships."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parents[1]

#: Shipped: to EMR (the code archive), into the producer image, to Lambda, or the CDK app.
SHIPPED = ("wikistream", "spark_jobs", "producer", "lambdas", "stacks")
#: Exists only to run, test and measure the platform on this machine.
LOCAL_ONLY = ("local_runtime", "bench", "tests")
FIRST_PARTY = (*SHIPPED, *LOCAL_ONLY)


def module_of(path: Path, root: Path = ROOT) -> str:
    """``spark_jobs/dq/checks.py`` -> ``spark_jobs.dq.checks`` (a package's ``__init__`` is the package)."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, root: Path = ROOT) -> list[tuple[int, str]]:
    """``(line, module)`` of every first-party import in ``path``, anywhere in the file
    (functions and ``TYPE_CHECKING`` blocks too); ``from a import b`` gives ``a`` and ``a.b``."""
    module = module_of(path, root)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                name = ".".join([*base, *([node.module] if node.module else [])])
            else:
                name = node.module or ""
            found.append((node.lineno, name))
            found += [(node.lineno, f"{name}.{alias.name}") for alias in node.names]
    return [(line, name) for line, name in found if name.split(".")[0] in FIRST_PARTY]


def python_files(*packages: str, root: Path = ROOT) -> list[Path]:
    """Every ``.py`` file of ``packages`` (``__pycache__`` aside)."""
    return sorted(p for pkg in packages for p in (root / pkg).rglob("*.py") if "__pycache__" not in p.parts)


def _file_of(module: str, root: Path) -> Optional[Path]:
    base = root.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None  # an attribute (``from a import name``) or not first-party


def import_closure(modules: Iterable[str], root: Path = ROOT) -> dict[str, Path]:
    """Every first-party module ``modules`` need, transitively (with their packages)."""
    needed: dict[str, Path] = {}
    todo = list(modules)
    while todo:
        name = todo.pop()
        path = _file_of(name, root)
        if path is None or name in needed:
            continue
        needed[name] = path
        parts = name.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]
        todo += [imported for _, imported in imported_modules(path, root)]
    return needed
