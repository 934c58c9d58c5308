"""Shared helpers. These tests run against the *installed* mailfault package
(python/ci.sh copies them out of the source tree first)."""

from __future__ import annotations

import os
from pathlib import Path

pytest_plugins = ["pytester"]


def _scenarios_dir() -> Path:
    env = os.environ.get("MAILFAULT_TEST_SCENARIOS")
    here = Path(__file__).resolve().parent
    for candidate in ([Path(env)] if env else []) + [here.parent / "scenarios", here.parents[1] / "scenarios"]:
        if (candidate / "greylist.yaml").is_file():
            return candidate
    raise RuntimeError(
        "the repository's scenarios/ directory was not found; set MAILFAULT_TEST_SCENARIOS to it"
    )


SCENARIOS = _scenarios_dir()
