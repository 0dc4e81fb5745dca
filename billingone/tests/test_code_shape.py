"""The codebase keeps its shape: small modules, small functions, no work-in-progress wording.

Migrations, tests, benchmarks and demo data are exempt (they are data, or they read as lists).
"""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = ("billingone", "clients", "invoices", "opportunities")
MAX_MODULE_LINES = 450
MAX_FUNCTION_LINES = 80
EXEMPT_PARTS = {"migrations", "tests"}
EXEMPT_FUNCTIONS_IN = {"demo.py"}  # demo data reads as one long list of rows


def _modules():
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if not EXEMPT_PARTS & set(path.relative_to(ROOT).parts):
                yield path


def _functions(tree):
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node


def test_no_module_is_over_the_limit():
    long = {
        str(p.relative_to(ROOT)): n for p in _modules() if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}


def test_no_function_is_over_the_limit():
    long = {}
    for path in _modules():
        if path.name in EXEMPT_FUNCTIONS_IN:
            continue
        for fn in _functions(ast.parse(path.read_text())):
            if (n := fn.end_lineno - fn.lineno + 1) > MAX_FUNCTION_LINES:
                long[f"{path.relative_to(ROOT)}:{fn.lineno} {fn.name}"] = n
    assert long == {}


@pytest.mark.parametrize("pattern", [r"\bissue \d+\b", r"\b(queue|detection) half\b|\bhalf \(issue"])
def test_no_code_speaks_of_how_it_was_built(pattern):
    found = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in _modules()
        for n, line in enumerate(path.read_text().splitlines(), start=1)
        if re.search(pattern, line, re.IGNORECASE)
    ]
    assert found == []
