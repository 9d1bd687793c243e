#!/usr/bin/env bash
# Re-resolve requirements.lock from backend/pyproject.toml and requirements-dev.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp)
.venv/bin/python - "$tmp" <<'PY'
import sys, tomllib
deps = tomllib.load(open("backend/pyproject.toml", "rb"))["project"]["dependencies"]
with open(sys.argv[1], "w") as out:
    out.write("\n".join(d for d in deps if not d.startswith("water-engine")) + "\n")
PY
cat requirements-dev.txt >> "$tmp"
.venv/bin/uv pip compile "$tmp" -o requirements.lock --no-header -q --universal --python-version 3.11
rm -f "$tmp"
echo "requirements.lock updated"
