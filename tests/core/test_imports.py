"""core's modules import one another in one direction: no circle, even through imports inside functions,
and reading runs stays light."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

CORE = Path(__file__).resolve().parents[2] / "core"
DASHBOARD = CORE.parent / "dashboard"


def module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, name: str, modules: set[str]) -> set[str]:
    """core modules that the file `path` (module `name`) imports, at module level or inside a function.

    An import inside a function runs on the first call, and closes a circle as surely as one at the
    top: both count. `from core.data import SOURCES` counts as core.data, `from core import x` as
    core.x when x is a module, and importing core.data.sources from outside core.data also runs
    core/data/__init__.py. Imports under `if TYPE_CHECKING:` are for annotations and do not count.
    """
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            children: list[ast.AST] = list(node.orelse)
        else:
            children = list(ast.iter_child_nodes(node))
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        for child in children:
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    for module in list(found):
        parts = module.split(".")
        found.update(".".join(parts[:i]) for i in range(2, len(parts)) if not name.startswith(".".join(parts[:i])))
    return {module for module in found if module in modules and module != name}


def import_graph(root: Path = CORE) -> dict[str, set[str]]:
    paths = {module_name(path, root): path for path in root.rglob("*.py")}
    return {name: imports_of(path, name, set(paths)) for name, path in paths.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_graph_is_read_from_the_sources():
    graph = import_graph()
    assert {"core.config", "core.runs", "core.experiment"} <= graph["core.experiment"] | {"core.experiment"}
    assert "core.config" in graph["core.runs"] and "core.atomic" in graph["core.runs"]


def test_core_modules_import_each_other_without_a_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_dashboard_modules_import_each_other_without_a_cycle():
    cycle = find_cycle(import_graph(DASHBOARD))
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_find_cycle_sees_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_old_circle_would_be_seen(tmp_path):
    # runs -> experiment -> data -> data.mnist_10k -> runs, as core had it before core.atomic and core.config
    for name, text in {
        "__init__": "",
        "runs": "from core.experiment import RunConfig\n",
        "experiment": "from core.data import Dataset\n",
        "data/__init__": "from core.data.mnist_10k import load\n",
        "data/mnist_10k": "from core.runs import atomic_write_bytes\n",
    }.items():
        (tmp_path / "core" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "core" / f"{name}.py").write_text(text)
    assert find_cycle(import_graph(tmp_path / "core")) == [
        "core.data",
        "core.data.mnist_10k",
        "core.runs",
        "core.experiment",
        "core.data",
    ]


def write_package(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / "core" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "core" / f"{name}.py").write_text(text)
    return root / "core"


def test_an_import_inside_a_function_closes_a_circle_too(tmp_path):
    # config -> data at call time, data -> config at import: the circle check_config once hid
    core = write_package(
        tmp_path,
        {
            "__init__": "",
            "config": "def check(config):\n    from core.data import SOURCES\n    return SOURCES\n",
            "data": "from core.config import check\nSOURCES = {}\n",
        },
    )
    assert find_cycle(import_graph(core)) == ["core.config", "core.data", "core.config"]


def test_imports_for_annotations_only_do_not_count(tmp_path):
    core = write_package(
        tmp_path,
        {
            "__init__": "",
            "config": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n    from core.data import Source\n"
                "def check(config):\n    if TYPE_CHECKING:\n        from core.data import Source\n"
            ),
            "data": "from core.config import check\n",
        },
    )
    assert import_graph(core)["core.config"] == set()
    assert find_cycle(import_graph(core)) is None


def test_reading_runs_loads_neither_the_data_sources_nor_the_trainer_wiring():
    code = "import core.runs, sys; print([m for m in sys.modules if m.startswith(('core.experiment', 'core.data'))])"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=CORE.parent)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for nxt in graph[todo.pop()] - seen:
            seen.add(nxt)
            todo.append(nxt)
    return seen


def test_readers_of_a_finished_run_never_reach_the_trainer_wiring():
    # core.trained opens runs; core.experiment trains them. Storage keeps to files: the model is built above it.
    graph = import_graph()
    readers = ["core.trained", "core.report", "core.export", "core.run_cache", "core.evaluation.run_evaluation"]
    for reader in readers + ["core.evaluation.classify", "core.evaluation.background"]:
        assert "core.experiment" not in reachable(graph, reader), reader
    assert not reachable(graph, "core.runs") & {"core.trained", "core.gate", "core.data", "core.experiment"}
    assert "core.gate" not in reachable(graph, "core.config")
