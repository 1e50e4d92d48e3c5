"""Where the local Deequ jar is: one helper for tests, bench and the local run.

``make setup`` resolves jvm/pom.xml's ``deequ`` bundle into ``.cache/jars/deequ/``
(``com.amazon.deequ:deequ:2.0.7-spark-3.5``, the jar alone: Spark ships what it needs).
The ``deequ`` DQ engine needs it on the driver's classpath when the session starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

from local_runtime.jars import DEFAULT_CACHE


class DeequJarMissingError(RuntimeError):
    """No Deequ jar in the local cache; the message says how to get it."""


def deequ_jars(cache: Optional[Path] = None) -> List[Path]:
    """The jar(s) of the ``deequ`` bundle; raise :class:`DeequJarMissingError` if there are none."""
    folder = (cache or DEFAULT_CACHE) / "deequ"
    jars = sorted(folder.glob("*.jar"))
    if not jars:
        raise DeequJarMissingError(
            f"no Deequ jar in {folder}: run `make setup` (it resolves jvm/pom.xml's deequ bundle, "
            "com.amazon.deequ:deequ:2.0.7-spark-3.5, from Maven Central)"
        )
    return jars
