"""Where an answer comes from: the learner's own code, or the ``dlcourse`` package's.

A task that asks the learner to write ``softmax`` is not answered by
``dlcourse.functions.softmax``, nor by a *thin wrapper* of it. Two ways to tell:

- :func:`package_answers` reads the submitted **source** (the grader uses it: a
  submission cannot fake its own text). It follows the module-level bindings of every
  cell in order — ``import dlcourse.functions as F``, ``from dlcourse.layers import
  Affine as MyAffine``, ``softmax = F.softmax``, star imports — and flags a name whose
  last binding is a package object or a thin wrapper of one.
- :func:`object_origin` looks at a live object (the self-checks use it): its
  ``__module__``, and for a function defined in the notebook its source, resolved in
  its own globals.

A **thin wrapper** is a function (or lambda) whose body, after the docstring, is at
most three straight-line statements (assignments, returns, expressions) that call a
``dlcourse`` object and nothing else but conversions (``np.asarray``, ``float`` …);
or a class that subclasses a ``dlcourse`` class and adds nothing but a docstring or
``pass``; or ``functools.partial`` of a package object. Anything with a loop, a
branch or its own arithmetic on top is the learner's own code, even if it *uses* the
package — which a task may allow.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import re
import textwrap
from collections.abc import Callable, Iterable
from typing import Any

PACKAGE = "dlcourse"
NOT_ANSWERS = ("dlcourse.checks",)  # the self-check helpers are not answers to anything
CONVERSIONS = {"asarray", "array", "float", "int", "float64", "astype", "copy", "ascontiguousarray"}
_MAGIC = re.compile(r"^\s*[%!]")


def _is_package(dotted: str | None) -> bool:
    if not dotted:
        return False
    inside = dotted == PACKAGE or dotted.startswith(PACKAGE + ".")
    return inside and not dotted.startswith(NOT_ANSWERS)


def _dotted(node: ast.AST, resolve: Callable[[str], str | None]) -> str | None:
    """The dotted package path ``node`` refers to ("dlcourse.functions.softmax") or None."""
    if isinstance(node, ast.Name):
        return resolve(node.id)
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value, resolve)
        return f"{base}.{node.attr}" if base else None
    if isinstance(node, ast.Call) and _call_name(node) == "partial" and node.args:
        return _dotted(node.args[0], resolve)
    return None


def _call_name(node: ast.Call) -> str:
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _thin_body(
    body: list[ast.stmt], params: set[str], resolve: Callable[[str], str | None]
) -> str | None:
    """The package object a function body only wraps, or None (see the module docstring)."""
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring
    if not body or len(body) > 3:
        return None
    if not all(isinstance(s, (ast.Assign, ast.AnnAssign, ast.Return, ast.Expr)) for s in body):
        return None

    def inner(name: str) -> str | None:
        return None if name in params else resolve(name)

    wrapped = None
    for node in ast.walk(ast.Module(body=body, type_ignores=[])):
        if isinstance(node, (ast.Lambda, ast.ListComp, ast.GeneratorExp, ast.DictComp)):
            return None
        if isinstance(node, ast.Call):
            target = _dotted(node.func, inner)
            if _is_package(target):
                wrapped = wrapped or target
            elif _call_name(node) not in CONVERSIONS:
                return None
    return wrapped


def _lambda_target(node: ast.Lambda, resolve: Callable[[str], str | None]) -> str | None:
    params = {a.arg for a in ast.walk(node.args) if isinstance(a, ast.arg)}
    return _thin_body([ast.Return(value=node.body)], params, resolve)


def _function_target(
    node: ast.FunctionDef | ast.AsyncFunctionDef, resolve: Callable[[str], str | None]
) -> str | None:
    params = {a.arg for a in ast.walk(node.args) if isinstance(a, ast.arg)}
    return _thin_body(node.body, params, resolve)


def _class_target(node: ast.ClassDef, resolve: Callable[[str], str | None]) -> str | None:
    bases = [_dotted(b, resolve) for b in node.bases]
    package = next((b for b in bases if _is_package(b)), None)
    if package is None:
        return None
    body = [
        s
        for s in node.body
        if not isinstance(s, ast.Pass)
        and not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))
    ]
    return package if not body else None


def _exports(module: str, name: str) -> bool:
    """Whether ``from module import *`` binds ``name`` (the package's own modules only)."""
    import importlib

    try:
        imported = importlib.import_module(module)
    except Exception:
        return True  # cannot tell: assume it does
    public = getattr(imported, "__all__", None)
    return name in public if public is not None else hasattr(imported, name)


class _Bindings:
    """Module-level names and the package object each is bound to (None: something else)."""

    def __init__(self) -> None:
        self.names: dict[str, str | None] = {}
        self.how: dict[str, str] = {}
        self.stars: list[str] = []

    def resolve(self, name: str) -> str | None:
        if name in self.names:
            return self.names[name]
        for module in reversed(self.stars):  # a star import may have brought it
            if not hasattr(builtins, name) and _exports(module, name):
                return f"{module}.{name}"
        return None

    def bind(self, name: str, target: str | None, how: str) -> None:
        self.names[name] = target
        self.how[name] = how

    def statement(self, node: ast.stmt, cell: int) -> None:
        where = f"cell {cell}, line {node.lineno}"
        if isinstance(node, ast.Import):
            for alias in node.names:
                dotted = alias.name if alias.name.split(".")[0] == PACKAGE else None
                if alias.asname:
                    self.bind(alias.asname, dotted, f"import {alias.name} as {alias.asname}")
                else:
                    top = alias.name.split(".")[0]
                    self.bind(top, top if dotted else None, f"import {alias.name}")
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            inside = node.level == 0 and module.split(".")[0] == PACKAGE
            for alias in node.names:
                if alias.name == "*":
                    if inside:
                        self.stars.append(module)
                    continue
                name = alias.asname or alias.name
                as_text = f" as {alias.asname}" if alias.asname else ""
                self.bind(
                    name,
                    f"{module}.{alias.name}" if inside else None,
                    f"from {module} import {alias.name}{as_text} ({where})",
                )
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            target = _function_target(node, self.resolve)
            self.bind(node.name, target, f"def {node.name}(...) only calls {target} ({where})")
        elif isinstance(node, ast.ClassDef):
            target = _class_target(node, self.resolve)
            self.bind(node.name, target, f"class {node.name}({target}) adds nothing ({where})")
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for assigned in targets:
                self._assign(assigned, node.value, where)
        elif isinstance(node, (ast.If, ast.For, ast.While, ast.With, ast.Try)):
            for block in ("body", "orelse", "finalbody"):
                for inner in getattr(node, block, []):
                    self.statement(inner, cell)
            for handler in getattr(node, "handlers", []):
                for inner in handler.body:
                    self.statement(inner, cell)

    def _assign(self, target: ast.expr, value: ast.expr | None, where: str) -> None:
        if isinstance(target, ast.Name):
            if isinstance(value, ast.Lambda):
                dotted = _lambda_target(value, self.resolve)
            else:
                dotted = _dotted(value, self.resolve) if value is not None else None
            text = ast.unparse(value) if value is not None else "?"
            self.bind(target.id, dotted, f"{target.id} = {text} ({where})")
        elif isinstance(target, (ast.Tuple, ast.List)):
            values = value.elts if isinstance(value, (ast.Tuple, ast.List)) else None
            for i, element in enumerate(target.elts):
                pair = values[i] if values and len(values) == len(target.elts) else None
                self._assign(element, pair, where)


def parse_cell(source: str) -> ast.Module | None:
    """A code cell's AST with IPython magics (``%``/``!`` lines) blanked; None if it fails."""
    lines = ["" if _MAGIC.match(line) else line for line in source.splitlines()]
    try:
        return ast.parse("\n".join(lines))
    except (SyntaxError, ValueError):
        return None


def package_answers(cells: Iterable[str], names: Iterable[str]) -> dict[str, str]:
    """{name: how it comes from the package} for those ``names`` the source binds to it.

    ``cells`` are the code cells' sources in execution order (numbered from 1 in the
    explanations, as JupyterLab counts all cells only when the caller passes them all).
    """
    bindings = _Bindings()
    for number, source in enumerate(cells, start=1):
        tree = parse_cell(source)
        if tree is None:
            continue
        for node in tree.body:
            bindings.statement(node, number)
    found = {}
    for name in names:
        target = bindings.resolve(name)
        if target is not None and _is_package(target):
            how = bindings.how.get(name, f"from {target.rsplit('.', 1)[0]} import *")
            found[name] = f"{name} is {target} from the dlcourse package ({how})"
    return found


# ----------------------------------------------------------------------------- live objects


def _module_of(obj: Any) -> str:
    module = getattr(obj, "__module__", None)
    return module if isinstance(module, str) else ""


def object_origin(obj: Any) -> str | None:
    """The package object ``obj`` is or thinly wraps ("dlcourse.layers.Affine"), else None."""
    import functools

    if isinstance(obj, functools.partial):
        return object_origin(obj.func)
    module = _module_of(obj)
    if _is_package(module):
        return f"{module}.{getattr(obj, '__qualname__', getattr(obj, '__name__', '?'))}"
    if inspect.isclass(obj):
        own = set(vars(obj)) - {
            "__module__",
            "__doc__",
            "__qualname__",
            "__dict__",
            "__weakref__",
            "__firstlineno__",
            "__static_attributes__",
        }
        package = next((b for b in obj.__bases__ if _is_package(_module_of(b))), None)
        if package is not None and not own:
            return f"{_module_of(package)}.{package.__qualname__}"
        return None
    if inspect.isfunction(obj):
        try:
            source = textwrap.dedent(inspect.getsource(obj))
            tree = ast.parse(source)
        except (OSError, TypeError, SyntaxError):
            return None
        node = tree.body[0] if tree.body else None
        scope = obj.__globals__

        def resolve(name: str) -> str | None:
            value = scope.get(name)
            if value is None:
                return None
            if inspect.ismodule(value):
                return value.__name__
            module = _module_of(value)
            return f"{module}.{getattr(value, '__qualname__', name)}" if module else None

        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return _function_target(node, resolve)
        if isinstance(node, (ast.Assign, ast.Expr)):  # name = lambda ...: ...
            lam = next((n for n in ast.walk(node) if isinstance(n, ast.Lambda)), None)
            return _lambda_target(lam, resolve) if lam else None
    return None


# ----------------------------------------------------------------------------- the grader

_GRADER_PARTS = ("dlcourse.assign", "dlcourse.checks.tools", "dlcourse.checks._")
_SUSPECT_NAMES = {"sys.modules", "importlib", "builtins", "_case_seed", "__builtins__"}


def touches_grader(cells: Iterable[str]) -> list[str]:
    """What in the source reaches for the grading machinery (for the instructor to look at).

    The judge does not depend on any of it; a submission that tries is flagged, not
    scored down: ``importlib`` and ``sys.modules`` have honest uses too.
    """
    found: list[str] = []
    for source in cells:
        tree = parse_cell(source)
        if tree is None:
            continue
        for node in ast.walk(tree):
            text = ""
            if isinstance(node, ast.ImportFrom) and node.module:
                text = node.module
                if text == "dlcourse.checks" and all(a.name == "check" for a in node.names):
                    continue
            elif isinstance(node, ast.Import):
                text = " ".join(alias.name for alias in node.names)
            elif isinstance(node, ast.Attribute):
                text = ast.unparse(node)
            elif isinstance(node, ast.Name) and node.id in _SUSPECT_NAMES:
                text = node.id
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = node.value if node.value.startswith("dlcourse.") else ""
            hits = [p for p in (*_GRADER_PARTS, *_SUSPECT_NAMES) if p in text]
            hits += ["dlcourse.checks"] if text.startswith("dlcourse.checks") else []
            for hit in hits:
                if hit not in found:
                    found.append(hit)
    return found
