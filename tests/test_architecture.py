"""The one-way data flow (DESIGN.md §2), lint, and 'the library never prints or exits'."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent))
    assert found, f"{name} is not installed next to {sys.executable}"
    return found


def test_import_layers_keep_the_flow_one_way():
    result = subprocess.run([_tool("lint-imports"), "--no-cache"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_ruff_is_clean():
    result = subprocess.run([_tool("ruff"), "check", "planner", "tests", "bench", "app_streamlit.py", "app_pages", "data", "notebooks"],
                            cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_library_never_prints_or_exits():
    offenders = []
    for path in (REPO / "planner").rglob("*.py"):
        if path.parent.name == "cli":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                name = ast.unparse(node.func)
                if name in ("print", "sys.exit", "exit", "quit", "os._exit"):
                    offenders.append(f"{path.relative_to(REPO)}:{node.lineno} {name}()")
    assert offenders == []


# The app's functions that fit, size or price: each must be cached, or every widget change redoes it.
APP_CACHED = ("run_source", "runs_table", "labels_of_runs", "run_steps", "sizing_fits", "run_fits",
              "price_catalog", "recommendation", "run_usl_chart", "serverless_recommendation", "serverless_cost_spec",
              "gpu_memory_series", "mme_popularity", "mme_recommendation", "comparison")


def _cache_decorators(function: ast.FunctionDef) -> list[str]:
    names = [ast.unparse(d.func if isinstance(d, ast.Call) else d) for d in function.decorator_list]
    return [n for n in names if n.startswith("st.cache_")]


def test_app_functions_are_cached_once():
    offenders, cached = [], set()
    for path in sorted((REPO / "app_pages").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef):
                found = _cache_decorators(node)
                if len(found) > 1:
                    offenders.append(f"{path.name}:{node.lineno} {node.name}: {', '.join(found)}")
                if found and path.name == "shared.py":
                    cached.add(node.name)
    assert offenders == [], "stacked st.cache_* decorators"
    assert sorted(set(APP_CACHED) - cached) == [], "expensive app functions without a cache"


def test_inf_and_nan_become_null_in_one_place():
    """Every to_dict() and --json output leave non-finite numbers to planner.jsonable.finite."""
    offenders = []
    for path in (REPO / "planner").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef) and node.name in ("to_dict", "emit_json") \
                    and "isfinite" in ast.unparse(node):
                offenders.append(f"{path.relative_to(REPO)}:{node.lineno} {node.name}")
    assert offenders == []


def test_the_contract_says_decisions_are_pure_and_scenarios_sit_under_the_front_ends():
    import tomllib

    contracts = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]["contracts"]
    layers = next(c["layers"] for c in contracts if c["type"] == "layers")
    assert layers[:3] == ["planner.cli", "planner.scenarios", "(planner.report) | (planner.charts) | (planner.export)"]
    assert [i for i, layer in enumerate(layers) if "planner.recommend" in layer][0] > 2
    pure = [c for c in contracts if c["type"] == "forbidden" and c["source_modules"] == ["planner.recommend"]]
    assert len(pure) == 1 and {"planner.store", "planner.fit_cache", "planner.ingest", "planner.collection",
                               "planner.scenarios"} <= set(pure[0]["forbidden_modules"])
