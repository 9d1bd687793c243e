"""The engine is pure (DESIGN.md §3): standard library only, no I/O, no clock, randomness only
from an explicit seed, and none of the libm functions whose results differ between CPython and
Pyodide. Checked statically by walking every module of `water_engine` with `ast`."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "water_engine"
MODULES = sorted(PACKAGE.rglob("*.py"))

# Standard-library modules that do I/O, read the clock or the environment, or draw unseeded randomness.
FORBIDDEN_MODULES = {
    "asyncio", "ctypes", "http", "io", "multiprocessing", "os", "pathlib", "secrets", "shutil", "socket",
    "sqlite3", "subprocess", "tempfile", "threading", "time", "urllib", "uuid",
}  # fmt: skip
FORBIDDEN_CALLS = {"open", "input", "print", "exec", "eval", "compile", "__import__", "breakpoint"}
CLOCK_ATTRIBUTES = {"now", "today", "utcnow", "time", "monotonic", "perf_counter"}
LIBM = {
    "exp",
    "expm1",
    "log",
    "log1p",
    "log2",
    "log10",
    "pow",
    "sin",
    "cos",
    "tan",
    "atan",
    "atan2",
    "erf",
    "erfc",
    "gamma",
    "lgamma",
    "cbrt",
    "exp2",
}


def _rel(path: Path) -> str:
    return str(path.relative_to(PACKAGE.parent))


def test_modules_found() -> None:
    assert len(MODULES) > 5


@pytest.mark.parametrize("path", MODULES, ids=_rel)
def test_imports_are_stdlib_or_relative(path: Path) -> None:
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        for name in names:
            top = name.split(".")[0]
            where = f"{_rel(path)}:{node.lineno}"
            assert top in sys.stdlib_module_names or top == "__future__", f"{where}: imports non-stdlib {name!r}"
            assert top not in FORBIDDEN_MODULES, f"{where}: imports {name!r} (I/O, clock or unseeded randomness)"


@pytest.mark.parametrize("path", MODULES, ids=_rel)
def test_no_io_clock_unseeded_random_or_libm(path: Path) -> None:
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        where = f"{_rel(path)}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name):
                assert func.id not in FORBIDDEN_CALLS, f"{where}: calls {func.id}()"
                if func.id == "Random":
                    assert node.args or node.keywords, f"{where}: Random() needs an explicit seed"
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
                owner, attr = func.value.id, func.attr
                if owner == "random":
                    assert attr == "Random", f"{where}: random.{attr}() draws from the unseeded global generator"
                    assert node.args or node.keywords, f"{where}: random.Random() needs an explicit seed"
                if owner in ("datetime", "date", "_dt") and attr in CLOCK_ATTRIBUTES:
                    raise AssertionError(f"{where}: reads the clock ({owner}.{attr})")
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "math":
            assert node.attr not in LIBM, f"{where}: math.{node.attr} is not bit-identical across runtimes"
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            exponent = node.right
            if isinstance(exponent, ast.UnaryOp) and isinstance(exponent.op, ast.USub):
                exponent = exponent.operand
            ok = isinstance(exponent, ast.Constant) and isinstance(exponent.value, int)
            assert ok, f"{where}: ** with a non-integer-literal exponent (use repeated multiplication)"


@pytest.mark.parametrize("path", MODULES, ids=_rel)
def test_no_python_312_only_syntax(path: Path) -> None:
    # The engine runs on 3.11 to 3.14: no `type X = ...` aliases and no PEP 695 generics.
    # ast.parse with feature_version=(3, 11) rejects newer grammar.
    ast.parse(path.read_text(), filename=str(path), feature_version=(3, 11))


def test_engine_never_imports_backend() -> None:
    for path in MODULES:
        assert "import water\n" not in path.read_text()
        assert "from water " not in path.read_text()
        assert "from water." not in path.read_text()
