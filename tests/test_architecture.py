"""The layering rules of DESIGN.md, checked on the source: ``studies/ -> harness/ -> stvlm/``,
``stvlm`` never imports Ray or Optuna, and no import cycles inside ``stvlm`` or ``harness`` (an
import inside a function counts; one under ``if TYPE_CHECKING:`` does not)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def module_files() -> dict[str, Path]:
    """Dotted module name -> file, for every module of stvlm and harness."""
    out = {}
    for package in ("stvlm", "harness"):
        for file in (REPO / package).rglob("*.py"):
            parts = file.relative_to(REPO).with_suffix("").parts
            out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = file
    return out


def imported(file: Path, name: str, known: set[str]) -> set[str]:
    """Modules ``file`` imports at run time (``from pkg import sub`` counts as ``pkg.sub``)."""
    found: set[str] = set()
    package = name if file.name == "__init__.py" else name.rpartition(".")[0]

    class Visitor(ast.NodeVisitor):
        def visit_If(self, node: ast.If) -> None:
            test = node.test
            if getattr(test, "id", None) == "TYPE_CHECKING" or getattr(test, "attr", None) == "TYPE_CHECKING":
                for child in node.orelse:
                    self.visit(child)
                return
            self.generic_visit(node)

        def visit_Import(self, node: ast.Import) -> None:
            found.update(alias.name for alias in node.names)

        def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            module = ".".join([*base, node.module] if node.module else base) if node.level else node.module
            subs = [f"{module}.{a.name}" for a in node.names if f"{module}.{a.name}" in known]
            found.update(subs)
            if len(subs) < len(node.names):
                found.add(module)

    Visitor().visit(ast.parse(file.read_text()))
    return found


def graph() -> dict[str, set[str]]:
    files = module_files()
    return {name: imported(file, name, set(files)) for name, file in files.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges[v] & set(edges):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles() -> None:
    assert cycles(graph()) == []


def test_stvlm_never_imports_ray_optuna_or_harness() -> None:
    bad = {name: sorted(m for m in deps if m.split(".")[0] in ("ray", "optuna", "harness"))
           for name, deps in graph().items() if name.startswith("stvlm")}
    assert {k: v for k, v in bad.items() if v} == {}


def test_configs_are_the_bottom_layer() -> None:
    """``stvlm.configs`` imports no other part of the library (errors aside), and nothing in
    ``stvlm`` reads a config only under ``TYPE_CHECKING`` to dodge an upward import."""
    edges = graph()
    upward = {name: sorted(m for m in deps if m.startswith("stvlm") and not m.startswith("stvlm.configs")
                           and m != "stvlm.errors")
              for name, deps in edges.items() if name.startswith("stvlm.configs")}
    assert {k: v for k, v in upward.items() if v} == {}
    hidden = [str(f.relative_to(REPO)) for f in (REPO / "stvlm").rglob("*.py") if "TYPE_CHECKING" in f.read_text()
              and "stvlm.configs" in f.read_text().split("TYPE_CHECKING:", 1)[-1].split("\n\n", 1)[0]]
    assert hidden == []


def test_no_library_file_over_400_lines() -> None:
    long = {str(f.relative_to(REPO)): n for package in ("stvlm", "harness")
            for f in (REPO / package).rglob("*.py") if (n := len(f.read_text().splitlines())) > 400}
    assert long == {}


def test_ray_is_imported_only_inside_the_runtime_group() -> None:
    outside = {name: sorted(m for m in deps if m.split(".")[0] == "ray")
               for name, deps in graph().items()
               if name.startswith("harness") and not name.startswith("harness.runtime")}
    assert {k: v for k, v in outside.items() if v} == {}


def test_scripts_reach_ray_through_the_harness_only() -> None:
    """The study scripts and benchmarks start and stop Ray with harness.runtime.cluster, not with
    ray.init of their own (which had drifted from what a study starts)."""
    direct = sorted(str(f.relative_to(REPO)) for folder in ("benchmarks", "studies")
                    for f in (REPO / folder).glob("*.py")
                    if re.search(r"^\s*(import ray\b|from ray\b)", f.read_text(), re.M))
    assert direct == []


def test_harness_is_grouped_by_concern() -> None:
    """No module sits loose in harness/: each belongs to one concern's package."""
    loose = sorted(p.name for p in (REPO / "harness").glob("*.py") if p.name != "__init__.py")
    assert loose == []
    assert sorted(p.name for p in (REPO / "harness").iterdir() if p.is_dir() and not p.name.startswith("__")) == [
        "cli", "report", "results", "runtime", "study"]


def test_no_library_function_over_60_lines() -> None:
    long = {}
    for package in ("stvlm", "harness"):
        for f in (REPO / package).rglob("*.py"):
            for node in ast.walk(ast.parse(f.read_text())):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 60:
                    long[f"{f.relative_to(REPO)}:{node.name}"] = node.end_lineno - node.lineno + 1
    assert long == {}
