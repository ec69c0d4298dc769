"""The house holds its shape: import contracts, no hidden imports, one owner per table, small modules.

These read the code as text and syntax trees (and run import-linter on the package); they fail on
the first circle, upward import, hidden import, private name crossing a module, table written or
read outside its owner, long module or silenced formatter.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted([*(ROOT / "gis").rglob("*.py"), *(ROOT / "api").rglob("*.py")])
LIBRARY = [p for p in SOURCES if "migrations" not in p.parts]
MAX_LINES = 600

# Each table's owner: the one module whose SQL writes and reads it. Migrations own the DDL.
OWNERS = {
    "gap_runs": ["gis/gaps/runs.py"],
    "gap_results": ["gis/gaps/runs.py"],
    "site_proposals": ["gis/gaps/runs.py"],
    "pipeline_runs": ["gis/pipelines/runs.py"],
    "pipeline_findings": ["gis/pipelines/runs.py"],
    "programme_projects": ["gis/programme/store.py"],
    "programme_stage_dates": ["gis/programme/store.py"],
    "programme_events": ["gis/programme/store.py"],
    "programme_submissions": ["gis/programme/store.py"],
    "users": ["gis/store/users.py"],
    "imports": ["gis/ingest/history.py"],
    "audit_log": ["gis/store/audit.py"],
    "gisplan_meta": ["gis/store/schema.py"],
    "layer_changes": ["gis/store/layers.py"],
    "jobs": ["gis/store/jobs.py"],
    "evidence": ["gis/evidence/store.py"],
    "evidence_files": ["gis/evidence/store.py"],
    "inspection_findings": ["gis/evidence/findings_store.py"],
    "programme_permits": ["gis/programme/permits.py"],
    "funds_entries": ["gis/funds/store.py"],
    "consultations": ["gis/residents/store.py"],
    "consultation_results": ["gis/residents/store.py"],
    "consultation_outcomes": ["gis/residents/store.py"],
    "notices": ["gis/residents/store.py"],
    "feedback": ["gis/residents/store.py"],
    "feedback_steps": ["gis/residents/store.py"],
    "assessment_manual_scores": ["gis/assessment/store.py"],
    "assessment_publications": ["gis/assessment/store.py"],
}
# The layer tables are read and written through gis.store.layers; besides it, the import's bulk merge
# (COPY into a temporary table, then one INSERT ... ON CONFLICT), the pipeline checks (spatial joins
# in SQL, where the GiST index does the work) and the programme's sync of a compound's stage (in the
# same transaction as the programme's event) name them in SQL.
LAYER_TABLES = ("compounds", "facilities", "pipelines", "roads", "buildings", "water")
LAYER_SQL = [
    "gis/store/layers.py",
    "gis/ingest/writer.py",
    "gis/pipelines/checks.py",
    "gis/pipelines/inside.py",
    "gis/programme/store.py",
    "gis/gaps/runs.py",  # a run's rows join the compounds and facilities (their names, the geometry)
]
SQL_VERB = r"(?:FROM|JOIN|INTO|UPDATE|TABLE|COPY)\s+\"?{}\b"


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def module_of(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def own(name: str | None) -> bool:
    return bool(name) and (name == "gis" or name.startswith(("gis.", "api.")) or name == "api")  # type: ignore[union-attr]


def test_import_contracts() -> None:
    """import-linter: the floors (pyproject [tool.importlinter]), no circle, gis never imports HTTP."""
    exe = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(exe), "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


def test_no_hidden_imports_of_own_modules() -> None:
    """No import of the project's own modules inside a function or under TYPE_CHECKING.

    The top floor, the CLI, is the exception: each command function imports just the domain it runs
    and its annotations name library types under TYPE_CHECKING, so ``gisplan --help`` starts fast.
    The package root loads the facade's names on first use (PEP 562 ``__getattr__``) for the same
    reason; nothing else may import dynamically.
    """
    hidden: list[str] = []
    for path in LIBRARY:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        in_cli = rel(path).startswith("gis/cli/")
        for node in ast.walk(tree):
            dynamic = isinstance(node, ast.Call) and ast.unparse(node.func).endswith("import_module")
            if dynamic and rel(path) != "gis/__init__.py":
                hidden.append(f"{rel(path)}:{getattr(node, 'lineno', 0)} imports dynamically")
            if in_cli:
                continue
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.ImportFrom) and own(inner.module):
                        hidden.append(f"{rel(path)}:{inner.lineno} in {node.name}()")
                    if isinstance(inner, ast.Import) and any(own(a.name) for a in inner.names):
                        hidden.append(f"{rel(path)}:{inner.lineno} in {node.name}()")
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.ImportFrom) and own(inner.module):
                        hidden.append(f"{rel(path)}:{inner.lineno} under TYPE_CHECKING")
    assert not hidden, "\n".join(hidden)


def test_no_private_name_crosses_a_module() -> None:
    crossing: list[str] = []
    for path in [*SOURCES, *(ROOT / "tests").rglob("*.py")]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and own(node.module):
                for alias in node.names:
                    if alias.name.startswith("_") and not alias.name.startswith("__"):
                        crossing.append(f"{rel(path)}:{node.lineno} imports {node.module}.{alias.name}")
    assert not crossing, "\n".join(crossing)


def test_modules_are_small_and_formatted_by_the_formatter() -> None:
    long = [
        f"{rel(p)}: {n} lines" for p in SOURCES if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    ]
    assert not long, "\n".join(long)
    skipped = [
        rel(p)
        for folder in ("gis", "api", "tests", "bench", "scripts")
        for p in (ROOT / folder).rglob("*.py")
        if "fmt: skip" in p.read_text(encoding="utf-8") and p.name != Path(__file__).name
    ]
    assert not skipped, skipped


def test_a_test_module_never_imports_another() -> None:
    """Shared test code lives in tests/helpers/ (or a conftest's fixtures), never in a test module."""
    wrong: list[str] = []
    for path in (ROOT / "tests").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = [node.module] if isinstance(node, ast.ImportFrom) else []
            names += [a.name for a in node.names] if isinstance(node, ast.Import) else []
            for name in names:
                if name and name.startswith("tests.") and not name.startswith("tests.helpers"):
                    wrong.append(f"{rel(path)}:{node.lineno} imports {name}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("table", sorted(OWNERS))
def test_each_table_has_one_owner(table: str) -> None:
    pattern = re.compile(SQL_VERB.format(re.escape(table)), re.IGNORECASE)
    found = sorted(rel(p) for p in LIBRARY if pattern.search(p.read_text(encoding="utf-8")))
    assert found == OWNERS[table] or (not found and table in ("site_proposals",)), found


def test_layer_tables_are_named_in_sql_only_where_said() -> None:
    names = "|".join(LAYER_TABLES)
    pattern = re.compile(SQL_VERB.format(f"(?:{names})"), re.IGNORECASE)
    found = sorted({rel(p) for p in LIBRARY if pattern.search(p.read_text(encoding="utf-8"))})
    assert set(found) <= set(LAYER_SQL), sorted(set(found) - set(LAYER_SQL))


def test_the_app_runs_no_sql() -> None:
    verbs = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE)\b[^\n]*\b(FROM|INTO|SET)\b")
    found = [rel(p) for p in SOURCES if rel(p).startswith("api/") and verbs.search(p.read_text(encoding="utf-8"))]
    assert not found, found
