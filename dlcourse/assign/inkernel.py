"""The grader's code that runs inside a submission's kernel, after the notebook.

:func:`report` re-imports the checkers fresh (so a notebook that replaced or
re-registered one gains nothing), calls :func:`dlcourse.checks.run_task` for each
task on the objects the notebook defined, runs the instructor's hidden tests, and
publishes the results as display data under :data:`MIME`, tagged with a token the
notebook never saw. Nothing the notebook printed is read.
"""

from __future__ import annotations

import importlib
import json
import sys
import traceback

MIME = "application/vnd.dlcourse.grade+json"


def _fresh_checks():
    """Reload the checker framework, its helper modules and every module that registered
    a checker, so that nothing the notebook patched or re-registered survives."""
    import dlcourse.checks
    import dlcourse.checks.tools

    registering = {entry.func.__module__ for entry in dlcourse.checks._registry.values()}
    package = {name for name in sys.modules if name.startswith("dlcourse.checks.")}
    modules = sorted((registering | package) - {"__main__", "dlcourse.checks.tools"})
    importlib.reload(dlcourse.checks.tools)
    checks = importlib.reload(dlcourse.checks)
    for name in modules:
        module = sys.modules.get(name)
        if module is not None and getattr(module, "__file__", None):
            importlib.reload(module)
    return checks


def _hidden_failure(task: str, err: BaseException) -> str:
    frames = [
        f for f in traceback.extract_tb(err.__traceback__) if f.filename.startswith("<hidden")
    ]
    line = f" (line {frames[-1].lineno} of the hidden tests)" if frames else ""
    detail = f": {err}" if str(err) else ""
    return f"a hidden test failed{line}: {type(err).__name__}{detail}"


def grade(tasks: list[dict], namespace: dict) -> list[dict]:
    """[{task, passed, message}] for ``tasks`` = [{task, hidden}] on the kernel's ``namespace``."""
    try:
        checks = _fresh_checks()
    except Exception as err:
        message = f"the checkers could not be loaded: {type(err).__name__}: {err}"
        return [{"task": t["task"], "passed": False, "message": message} for t in tasks]
    results = []
    for spec in tasks:
        try:
            result = checks.run_task(spec["task"], namespace)
            passed, message = result.passed, result.message
        except Exception as err:  # e.g. no checker registered for the task
            passed, message = False, f"could not run the checker: {type(err).__name__}: {err}"
        results.append({"task": spec["task"], "passed": passed, "message": message})
    for spec, result in zip(tasks, results, strict=True):
        if result["passed"] and spec.get("hidden"):
            try:
                exec(compile(spec["hidden"], f"<hidden tests {spec['task']}>", "exec"), namespace)
            except Exception as err:
                result.update(passed=False, message=_hidden_failure(spec["task"], err))
    return results


def report(token: str, tasks_json: str, namespace: dict) -> None:
    """Grade and publish the results as display data (see the module docstring)."""
    from IPython.display import publish_display_data

    results = grade(json.loads(tasks_json), namespace)
    publish_display_data({MIME: {"token": token, "results": results}})
