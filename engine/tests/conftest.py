"""Hypothesis: explore new examples locally; in CI (CI=true) use fixed examples, so a gate never flakes."""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
