"""The modules of physdiff.reconstruction import each other without a cycle (issue 20).

Function-level (lazy) imports count: a cycle through them still ties the modules together.
"""

import ast
from pathlib import Path

import physdiff.reconstruction as pkg

PACKAGE = Path(pkg.__file__).parent


def _local_imports(path: Path) -> set[str]:
    """Sibling modules ``path`` imports (``from .x import``, ``from . import x``), anywhere."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                out.add(node.module.split(".")[0])
            else:
                out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and \
                node.module.startswith("physdiff.reconstruction."):
            out.add(node.module.split(".")[2])
    return out


def _graph() -> dict[str, set[str]]:
    mods = {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    return {m: _local_imports(PACKAGE / f"{m}.py") & mods for m in mods}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                return stack[stack.index(n):] + [n]
            if n not in state and (found := visit(n)):
                return found
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state and (found := visit(m)):
            return found
    return None


def test_no_import_cycle_in_reconstruction():
    cycle = _cycle(_graph())
    assert cycle is None, " -> ".join(cycle)


def test_posterior_scale_lives_below_its_users():
    graph = _graph()
    assert graph["scaling"] == set()
    assert "scaling" in graph["diffusion"] and "scaling" in graph["training_set"]
    assert "training_set" not in graph["diffusion"]
