"""System tools some tests use (promtool, chromium...). Missing ones skip, except in CI where they fail."""

from __future__ import annotations

import os
import shutil

import pytest


def require_tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path:
        return path
    message = f"{name} is not installed (apt-get install {package}); .ci/run installs it"
    if os.environ.get("WATER_REQUIRE_SYSTEM_TOOLS"):
        pytest.fail(message)
    pytest.skip(message)
