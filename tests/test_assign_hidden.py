"""The hidden tests of every solutions notebook run in the judge, on proxies.

Hidden tests are instructor code that calls the learner's objects; in grading they
run in the grader's process, where those objects are proxies of the kernel's (see
dlcourse.assign.judge). Here the model answers (the task cells, after the cells that
import) are served by a thread of this process: each task's checker and its hidden
tests must pass through the proxies, as they will in grading.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from checker_testing import model_answers

from dlcourse import checks
from dlcourse.assign.judge import TaskSpec, local_session, run_hidden
from dlcourse.assign.notebooks import read_assignment
from dlcourse.checks.origin import object_origin, package_answers

SOLUTIONS = sorted((Path(__file__).parent.parent / "solutions").glob("*.ipynb"))


def _model_answers(path: Path) -> tuple[list, dict]:
    """The tasks of ``path`` and the namespace of its model answers."""
    tasks = [t for t in read_assignment(path).tasks if not t.manual]
    return tasks, model_answers(path.stem)


@pytest.mark.parametrize("path", SOLUTIONS, ids=[p.stem for p in SOLUTIONS])
def test_model_answers_pass_checkers_and_hidden_tests_in_the_judge(path):
    tasks, namespace = _model_answers(path)
    assert tasks
    source = [
        c.source if c.cell_type == "code" else "" for c in read_assignment(path).notebook.cells
    ]
    for task in tasks:
        entry = checks.registry(task.task)
        # the model answers are the learner's own code, by the source and by the object
        assert package_answers(source, entry.uses) == {}, task.task
        assert all(object_origin(namespace[name]) is None for name in entry.uses), task.task
        with local_session(namespace) as session:
            objects = tuple(session.lookup(name) for name in entry.uses)
            result = checks._run(entry, objects)
            assert result.passed, f"{task.task}: {result.message}"
            if task.hidden:
                failure = run_hidden(session, TaskSpec(task.task, task.hidden))
                assert failure == "", f"{task.task}: {failure}"
