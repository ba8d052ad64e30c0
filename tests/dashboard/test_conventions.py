"""The dashboard kept like core (issue 22): read with `ast`, no app run.

- every function's parameters (but self and cls) and its return are annotated;
- a session-state key is spelled in one file only (dashboard/keys.py declares those shared);
- page paths ('views/....py') are spelled in dashboard/pages.py alone.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

DASHBOARD = Path(__file__).resolve().parents[2] / "dashboard"
# a session key: dotted lower-case words ("latent.k", "train.saved", "latent.sort.name." as a prefix)
SESSION_KEY = re.compile(r"^[a-z_]+(\.[a-z_0-9]+)+\.?$")
NOT_KEYS = {"hover.js", "manifest.json"}  # file names that look like keys
PAGE_PATH = re.compile(r"^views/\w+\.py$")


def sources() -> dict[str, ast.Module]:
    files = sorted(DASHBOARD.rglob("*.py"))
    assert files, DASHBOARD
    return {str(path.relative_to(DASHBOARD.parent)): ast.parse(path.read_text(), str(path)) for path in files}


def strings(tree: ast.Module) -> list[str]:
    return [node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)]


def test_every_parameter_and_return_is_annotated() -> None:
    missing = []
    for name, tree in sources().items():
        for node in ast.walk(tree):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            args = node.args
            every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
            for arg in every:
                if arg is not None and arg.annotation is None and arg.arg not in ("self", "cls"):
                    missing.append(f"{name}:{node.lineno} {node.name}({arg.arg})")
            if node.returns is None:
                missing.append(f"{name}:{node.lineno} {node.name}() -> ?")
    assert not missing, "Unannotated:\n" + "\n".join(missing)


def test_no_session_key_is_spelled_in_two_files() -> None:
    where: dict[str, set[str]] = defaultdict(set)
    for name, tree in sources().items():
        for value in strings(tree):
            if SESSION_KEY.match(value) and value not in NOT_KEYS:
                where[value].add(name)
    shared = {key: sorted(files) for key, files in where.items() if len(files) > 1}
    assert not shared, f"Declare these in dashboard/keys.py and import them: {shared}"


def test_page_paths_live_in_the_page_registry() -> None:
    elsewhere = {
        name: paths
        for name, tree in sources().items()
        if name != "dashboard/pages.py" and (paths := [s for s in strings(tree) if PAGE_PATH.match(s)])
    }
    assert not elsewhere, f"Name the page from dashboard.pages instead: {elsewhere}"


def test_the_checks_see_what_they_look_for() -> None:
    """The patterns above still match the keys and paths the dashboard uses (so the tests are not vacuous)."""
    from dashboard import pages
    from dashboard.keys import LATENT, TRAIN

    assert SESSION_KEY.match(LATENT.k) and SESSION_KEY.match(LATENT.name) and SESSION_KEY.match(TRAIN.saved)
    assert all(PAGE_PATH.match(page.path) for page in pages.PAGES)


def test_pages_run_without_streamlit_magic():
    """Magic ast.parse-s each page, which on Python 3.11 can fail while numba compiles in another thread."""
    from streamlit import config

    settings = (Path(__file__).resolve().parents[2] / ".streamlit" / "config.toml").read_text()
    assert re.search(r"^\[runner\]\n(#.*\n)*magicEnabled = false$", settings, re.M)
    assert config.get_option("runner.magicEnabled") is False  # AppTest and `streamlit run` read that file
