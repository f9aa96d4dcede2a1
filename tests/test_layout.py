"""The tree is the architecture: imports run one way between the stages, no module imports in a circle, and
every module docstring's "command that exercises it" names things that exist (test files, modules, front
door commands, make targets, run ids the run-id scheme can produce)."""

import ast
import importlib
import importlib.util
import re
from pathlib import Path

import pytest

from launch.__main__ import COMMANDS, HANDOFFS
from launch.plan import compile_recipe
from launch.recipe import REPO_ROOT, list_recipes, load_recipe

PACKAGES = ("data_prep", "rewards", "launch", "evaluation", "reporting", "distill", "mini")
FRONT_DOOR = "launch.__main__"  # `python -m launch`: routes to every stage's command (its COMMANDS table)
# The run side's drivers and launchers: what evaluation and reporting must never reach into (they may read
# run records, the recipe, provenance and the doctor's rules).
RUN_DRIVERS = {
    "launch.__main__", "launch.cli", "launch.smoke", "launch.attempt",
    "launch.slurm", "launch.ray_jobs", "launch.preflight", "mini", "mini.__main__", "mini.run", "mini.probe",
}  # fmt: skip


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            parts = path.relative_to(REPO_ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


MODULES = _modules()


def _imports(path: Path) -> set[str]:
    """First-party modules a file imports, anywhere in it (a lazy import inside a function counts)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in names if name in MODULES}


def _routes() -> set[str]:
    """The front door's table as imports: every "module:function" it loads when a command runs."""
    targets = [target for target, _ in COMMANDS.values()] + list(HANDOFFS.values())
    routes = {target.split(":")[0] for target in targets}
    unknown = routes - set(MODULES)
    assert not unknown, f"launch/__main__.py routes to modules that do not exist: {unknown}"
    return routes - {FRONT_DOOR}


GRAPH = {name: _imports(path) for name, path in MODULES.items()}
GRAPH[FRONT_DOOR] |= _routes()


def test_the_front_door_routes_by_tables_of_module_function_strings_only():
    for target in [target for target, _ in COMMANDS.values()] + list(HANDOFFS.values()):
        module, function = target.split(":")
        assert callable(getattr(importlib.import_module(module), function)), target
    source = MODULES[FRONT_DOOR].read_text()
    # Every string the front door loads comes from its tables: no other import_module argument.
    assert source.count("importlib.import_module(") == 2


def test_nothing_imports_the_front_door():
    assert not {module for module, targets in GRAPH.items() if FRONT_DOOR in targets}


def test_only_the_miniature_itself_imports_the_miniature():
    wrong = {
        (module, target)
        for module, targets in GRAPH.items()
        if module.split(".")[0] != "mini" and module != FRONT_DOOR
        for target in targets
        if target.split(".")[0] == "mini"
    }
    assert not wrong


def test_the_run_side_never_imports_a_later_stage():
    wrong = {
        (module, target)
        for module, targets in GRAPH.items()
        if module.startswith("launch") and module != FRONT_DOOR
        for target in targets
        if target.split(".")[0] in ("evaluation", "reporting", "distill", "mini")
    }
    assert not wrong


def test_evaluation_and_reporting_read_run_records_but_never_drive_runs():
    wrong = {
        (module, target)
        for module, targets in GRAPH.items()
        if module.split(".")[0] in ("evaluation", "reporting")
        for target in targets
        if target in RUN_DRIVERS
    }
    assert not wrong


def test_data_and_rewards_import_no_later_stage():
    wrong = {
        (module, target)
        for module, targets in GRAPH.items()
        if module.split(".")[0] in ("data_prep", "rewards")
        for target in targets
        if target.split(".")[0] in ("launch", "evaluation", "reporting", "distill", "mini")
    }
    assert not wrong


def test_evaluation_and_reporting_import_neither_distillation_nor_the_miniature():
    wrong = {
        (module, target)
        for module, targets in GRAPH.items()
        if module.split(".")[0] in ("evaluation", "reporting")
        for target in targets
        if target.split(".")[0] in ("distill", "mini")
    }
    assert not wrong


def test_the_cpu_backend_is_only_the_device_layer():
    """launch/cpu_backend/ holds the CPU platform, rollout server, sampling and tiny test model; the
    miniature's base model and runs live in mini/."""
    assert not [name for name in MODULES if name.startswith("launch.cpu_backend") and "mini" in name]


def test_no_module_imports_itself_through_others():
    def reaches(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for target in GRAPH[todo.pop()]:
                if target not in seen:
                    seen.add(target)
                    todo.append(target)
        return seen

    # A package's __init__ is imported with each of its modules: an arrow into a package is not a cycle.
    circles = [name for name in GRAPH if name in reaches(name) and name not in PACKAGES]
    assert not circles


# ---- docstring commands ----

DOCS = {name: ast.get_docstring(ast.parse(path.read_text())) or "" for name, path in MODULES.items()}
MAKE_TARGETS = set(re.findall(r"^([a-z0-9-]+):", (REPO_ROOT / "Makefile").read_text(), re.M))
PLACEHOLDER = re.compile(r"[<A-Z\[{.]")


def _resolves(dotted: str) -> bool:
    """A module, or a name defined in one (`launch.validate.check_split`)."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        module = ".".join(parts[:cut])
        if module in MODULES or importlib.util.find_spec(parts[0]) and _spec(module):
            obj = importlib.import_module(module)
            try:
                for attr in parts[cut:]:
                    obj = getattr(obj, attr)
            except AttributeError:
                return False
            return True
    return False


def _spec(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


@pytest.mark.parametrize("module", sorted(MODULES))
def test_the_docstrings_commands_name_what_exists(module):
    doc = DOCS[module]
    problems = []
    for test_path in re.findall(r"\btests/[\w/]+\.py\b", doc):
        if not (REPO_ROOT / test_path).is_file():
            problems.append(f"no test file {test_path}")
    for test_dir in re.findall(r"\btests/[\w/]+/(?=[\s`)]|$)", doc):
        if not (REPO_ROOT / test_dir).is_dir():
            problems.append(f"no test dir {test_dir}")
    for target in re.findall(r"python3? -m ([\w.]+)", doc):
        if target != "pytest" and not _spec(target):
            problems.append(f"python -m {target}: no such module")
    for command in re.findall(r"python -m launch ([\w-]+)", doc):
        if command not in COMMANDS:
            problems.append(f"python -m launch {command}: not a command of launch/__main__.py")
    for target in re.findall(r"`make ([a-z0-9-]+)", doc) + re.findall(r"^\s*make ([a-z0-9-]+)", doc, re.M):
        if target not in MAKE_TARGETS:
            problems.append(f"make {target}: no such target")
    for dotted in re.findall(
        r"(?<![\w/.-])((?:launch|evaluation|reporting|data_prep|rewards|mini)(?:\.\w+)+)", doc
    ):
        if not _resolves(dotted.rstrip(".")):
            problems.append(f"{dotted}: no such module or name")
    for path in re.findall(
        r"(?<![\w/])((?:launch|evaluation|reporting|data_prep|rewards|mini)/[\w/]+\.py)\b", doc
    ):
        if not (REPO_ROOT / path).is_file():
            problems.append(f"no file {path}")
    for recipe, run_id in re.findall(
        r"(?:results|checkpoints)/([\w-]+)/(?:runs/)?([\w-]+__[\w.-]*__s\d+)", doc
    ):
        if PLACEHOLDER.search(recipe + run_id):
            continue
        if recipe not in list_recipes():
            problems.append(f"no recipe {recipe}")
        elif run_id not in {plan.run_id for plan in compile_recipe(load_recipe(recipe))}:
            problems.append(f"{recipe} has no run {run_id}")
    assert not problems, f"{MODULES[module]}: " + "; ".join(problems)
