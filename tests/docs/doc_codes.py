"""The problem codes (`Problem.rule`) the code base can emit, read from its syntax tree.

Every `Problem(...)` and every call of a function that forwards a `rule`
parameter into one is found; its rule argument must be a string literal, a
module constant, or the caller's own `rule` parameter (then the callers are
the ones scanned). Anything else is reported as unresolvable, so a new way of
building problems makes the docs tests fail instead of slipping past them.
"""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "compiler"
# Problem's fields: file, line, col, severity, message, path, rule.
PROBLEM_RULE_INDEX, PROBLEM_FIELDS = 6, 7


@dataclasses.dataclass
class Scan:
    codes: dict[str, list[str]]  # code -> "module.py:line" of each place that emits it
    unresolved: list[str]  # places whose rule argument could not be read
    missing: list[str]  # places that build a problem without any rule
    calls: int  # problem-building calls seen


def _module_name(path: Path, package: Path) -> str:
    rel = path.relative_to(package.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve_import(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    base = module.split(".") if is_package else module.split(".")[:-1]
    if node.level:
        base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
        return ".".join(base + ([node.module] if node.module else []))
    return node.module or ""


def scan(package: Path = PACKAGE) -> Scan:
    trees = {}
    for path in sorted(package.rglob("*.py")):
        trees[_module_name(path, package)] = (path, ast.parse(path.read_text(encoding="utf-8"), str(path)))

    constants: dict[str, dict[str, str]] = {}
    imports: dict[str, dict[str, tuple[str, str]]] = {}
    # (positional index of `rule` or None when keyword-only, number of positional parameters)
    forwarders: dict[str, dict[str, tuple[int | None, int]]] = {}  # module -> function name -> ...
    methods: dict[str, tuple[int | None, int]] = {}  # method name -> ..., self excluded
    for module, (path, tree) in trees.items():
        consts = constants.setdefault(module, {})
        for node in tree.body:
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        consts[target.id] = node.value.value
            elif isinstance(node, ast.ImportFrom):
                source = _resolve_import(module, path.name == "__init__.py", node)
                for alias in node.names:
                    imports.setdefault(module, {})[alias.asname or alias.name] = (source, alias.name)
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                positional = [a.arg for a in node.args.posonlyargs + node.args.args]
                keyword = [a.arg for a in node.args.kwonlyargs]
                if "rule" not in positional and "rule" not in keyword:
                    continue
                index = positional.index("rule") if "rule" in positional else None
                is_method = bool(positional) and positional[0] == "self"
                if is_method:
                    methods[node.name] = (None if index is None else index - 1, len(positional) - 1)
                else:
                    forwarders.setdefault(module, {})[node.name] = (index, len(positional))

    def constant(module: str, name: str) -> str | None:
        if name in constants.get(module, {}):
            return constants[module][name]
        source = imports.get(module, {}).get(name)
        if source and source[0] in constants:
            return constant(source[0], source[1])
        return None

    def rule_index(module: str, func: ast.expr) -> tuple[bool, tuple[int | None, int]]:
        """(builds a problem, (positional index of its rule, positional parameters)) for a call of `func`."""
        if isinstance(func, ast.Name):
            name = func.id
            if name in forwarders.get(module, {}):
                return True, forwarders[module][name]
            source = imports.get(module, {}).get(name)
            if source and source[1] == "Problem" and source[0].endswith("problems"):
                return True, (PROBLEM_RULE_INDEX, PROBLEM_FIELDS)
            if source and source[1] in forwarders.get(source[0], {}):
                return True, forwarders[source[0]][source[1]]
            if name == "Problem" and module.endswith("problems"):
                return True, (PROBLEM_RULE_INDEX, PROBLEM_FIELDS)
        elif isinstance(func, ast.Attribute) and func.attr in methods:
            return True, methods[func.attr]
        return False, (None, 0)

    found = Scan({}, [], [], 0)
    for module, (path, tree) in trees.items():
        # enclosing function of every call, to recognise a forwarded `rule` parameter
        parents: dict[ast.AST, ast.AST] = {}
        for parent in ast.walk(tree):
            for child in ast.iter_child_nodes(parent):
                parents[child] = parent
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            builds, (index, positional) = rule_index(module, node.func)
            if not builds:
                continue
            found.calls += 1
            where = f"{path.relative_to(package.parent)}:{node.lineno}"
            arg = next((k.value for k in node.keywords if k.arg == "rule"), None)
            starred = [i for i, a in enumerate(node.args) if isinstance(a, ast.Starred)]
            if arg is None and index is not None:
                if not starred or starred[0] > index:
                    arg = node.args[index] if len(node.args) > index else None
                elif index == positional - 1 and starred[-1] < len(node.args) - 1:
                    arg = node.args[-1]  # f(a, *pair, "code"): the rule is the last parameter
                else:
                    found.unresolved.append(where)
                    continue
            if arg is None:
                if any(k.arg is None for k in node.keywords) or starred:
                    found.unresolved.append(where)
                else:
                    found.missing.append(where)
                continue
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                found.codes.setdefault(arg.value, []).append(where)
                continue
            if isinstance(arg, ast.Name):
                enclosing = parents.get(node)
                while enclosing is not None and not isinstance(enclosing, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    enclosing = parents.get(enclosing)
                params = set()
                if enclosing is not None:
                    a = enclosing.args
                    params = {p.arg for p in a.posonlyargs + a.args + a.kwonlyargs}
                if arg.id == "rule" and arg.id in params:
                    continue  # forwarded: the calls of the enclosing function carry the code
                value = constant(module, arg.id)
                if value is not None:
                    found.codes.setdefault(value, []).append(where)
                    continue
            found.unresolved.append(where)
    return found
