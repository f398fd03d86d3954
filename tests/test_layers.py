"""The package's import graph: every module imports, no cycles, layers hold.

The graph is read from the source with ``ast`` (every ``import`` statement,
module level or inside a function, except under ``if TYPE_CHECKING:``), so a
deferred import cannot hide a cycle or an inverted layer.
"""

import ast
import importlib
from pathlib import Path

import pytest

import hydrax

PACKAGE = Path(hydrax.__file__).parent
T = "hydrax.dynamics_model_training."

# Low to high; a module may import its own layer and the ones below it.
LAYERS: list[tuple[str, list[str]]] = [
    (
        "utilities",
        [
            "hydrax",
            "hydrax.atomic",
            "hydrax.utils",
            "hydrax.spline",
            "hydrax.risk",
            "hydrax.planning_options",
            "hydrax.dynamics_model_training",
            T + "rotations",
            T + "parallel",
            T + "checkpoint",
            T + "evaluation_plot_style",
        ],
    ),
    ("log format", ["hydrax.logs"]),
    (
        "transforms and model",
        [
            T + "layout",
            T + "log_layout",
            T + "transforms",
            T + "gru",
            T + "rollout_steps",
            T + "window_rollout",
            T + "model",
        ],
    ),
    (
        "dataset",
        [
            T + "windows",
            T + "blocks",
            T + "standardization",
            T + "dataset",
            T + "data_loader",
            T + "convert",
        ],
    ),
    ("checkpoint I/O", [T + "model_io", T + "warm_start"]),
    (
        "evaluation",
        [T + "baselines", T + "evaluation_", T + "evaluate"],
    ),
    (
        "trainer",
        [
            T + "host_memory",
            T + "train_steps",
            T + "trainer",
            T + "resume",
            T + "training_setup",
            T + "training_cli",
        ],
    ),
    ("dynamics seam", ["hydrax.dynamics"]),
    ("control", ["hydrax.control"]),
    (
        "tasks",
        ["hydrax.initial_states", "hydrax.task_base", "hydrax.tasks"],
    ),
    (
        "algorithms",
        ["hydrax.controller_types", "hydrax.alg_base", "hydrax.algs"],
    ),
    ("simulation", ["hydrax.simulation"]),
    (
        "pipelines",
        [
            "hydrax.demo",
            # prediction_horizon="auto" is the task's default controller's
            # horizon, so it sits above simulation.
            T + "auto_horizon",
            T + "train",
            T + "train_double_cart_pole",
            T + "train_cart_pole",
            T + "task_training",
            "hydrax.open_loop",
            "hydrax.simulation.learned_episodes",
            "hydrax.simulation.fine_tune",
            "hydrax.simulation.aggregate",
            "hydrax.simulation.compare_results",
            "hydrax.simulation.compare",
            "hydrax.simulation.closed_loop",
            "hydrax.simulation.deterministic",
            "hydrax.simulation.asynchronous",
            "hydrax.simulation.collect",
        ],
    ),
]


def _modules() -> dict[str, Path]:
    """Every module of the package by its dotted name."""
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


MODULES = _modules()


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported_names(name: str, path: Path) -> set[str]:
    """The modules of the package that module ``name`` imports."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[
                    : len(package.split(".")) + 1 - node.level
                ]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(), filename=str(path)))
    return {m for m in found if m in MODULES and m != name}


GRAPH = {name: _imported_names(name, path) for name, path in MODULES.items()}


# These name their package's __init__ only: a new module inside them must be
# placed in a layer explicitly.
PACKAGES_ONLY = {"hydrax", "hydrax.dynamics_model_training"}


def _layer(name: str) -> int:
    """The index in LAYERS of the longest prefix that names ``name``."""
    best, best_length = None, -1
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            matches = name == prefix or (
                prefix not in PACKAGES_ONLY
                and (
                    name.startswith(prefix + ".")
                    or (prefix.endswith("_") and name.startswith(prefix))
                )
            )
            if matches and len(prefix) > best_length:
                best, best_length = index, len(prefix)
    assert best is not None, f"{name} is in no layer of LAYERS"
    return best


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return found


@pytest.mark.parametrize("name", sorted(MODULES))
def test_every_module_imports(name):
    """Each module of the package imports on its own."""
    importlib.import_module(name)


def test_the_graph_sees_known_imports():
    """The reader finds absolute, relative and deferred imports."""
    assert T + "model_io" in GRAPH[T + "evaluation_windows"]
    assert "hydrax.logs.format" in GRAPH["hydrax.logs.reader"]
    assert (
        "hydrax.simulation.controllers" in GRAPH["hydrax.simulation.collection"]
    )
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [
        ["a", "b", "c"]
    ]


def test_no_import_cycles():
    """No two modules import each other, directly or through others."""
    assert _cycles(GRAPH) == []


def test_lower_layers_never_import_higher_ones():
    """Imports go down the layers (or stay in one), never up."""
    upward = [
        f"{name} ({LAYERS[_layer(name)][0]}) imports {target} "
        f"({LAYERS[_layer(target)][0]})"
        for name, targets in sorted(GRAPH.items())
        for target in sorted(targets)
        if _layer(target) > _layer(name)
    ]
    assert upward == []


TRAINER = [
    T + "train_steps",
    T + "trainer",
    T + "resume",
    T + "training_cli",
    T + "train",
]


EVALUATION = [T + "baselines", T + "evaluate"] + [
    name for name in MODULES if name.startswith(T + "evaluation_")
]


def _under(name: str, prefixes: list[str]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


@pytest.mark.parametrize(
    ("importers", "forbidden"),
    [
        (
            [
                "hydrax.logs",
                "hydrax.atomic",
                T + "layout",
                T + "transforms",
                T + "rollout_steps",
                T + "window_rollout",
                T + "model",
            ],
            [*TRAINER, "hydrax.simulation", "hydrax.tasks"],
        ),
        ([T + "model_io"], [*TRAINER, "hydrax.simulation", "hydrax.tasks"]),
        (["hydrax.tasks", "hydrax.task_base"], ["hydrax.simulation"]),
        (["hydrax.dynamics"], TRAINER),
        (EVALUATION, TRAINER),
    ],
)
def test_named_rules(importers, forbidden):
    """The model, planning and evaluation never import the trainer etc."""
    broken = [
        f"{name} imports {target}"
        for name, targets in sorted(GRAPH.items())
        if _under(name, importers)
        for target in sorted(targets)
        if _under(target, forbidden)
    ]
    assert broken == []


RE_EXPORTS = [T + "data_loader", "hydrax.simulation.logging"]


def test_log_names_come_from_their_owner():
    """The package reads and writes logs through `hydrax.logs`, not through
    the modules that re-export its names for users."""
    import hydrax.logs

    owned = set(hydrax.logs.__all__)
    through = []
    for name, path in sorted(MODULES.items()):
        if name in RE_EXPORTS:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module in RE_EXPORTS:
                through += [
                    f"{name} imports {alias.name} from {node.module}"
                    for alias in node.names
                    if alias.name in owned
                ]
    assert through == []


def test_every_module_stays_within_400_lines():
    """One concept a module: none grows past 400 lines."""
    long = {
        str(p.relative_to(PACKAGE.parent)): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > 400
    }
    assert not long, f"modules over 400 lines: {long}"
