"""The judge's proxies behave like the learner's objects, with only data crossing.

These run the kernel side in a thread of this process (``local_session``): the same
requests and data as in grading, without a notebook. The full path (fork per task,
limits, a real kernel) is in tests/test_assign_grade.py.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from dlcourse.assign.judge import LearnerError, Proxy, judge_locally, local_session
from dlcourse.checks.tools import CheckFailed, call


class Counter:
    """A learner's class: state between calls, a method, an attribute."""

    def __init__(self, start: int) -> None:
        self.count = start

    def add(self, x: np.ndarray) -> np.ndarray:
        self.count += 1
        return x + self.count


class MyError(Exception):
    pass


def scale_in_place(x, factor=2.0):
    x *= factor
    return x


def fails(x):
    raise MyError(f"bad input of shape {x.shape}")


def wrong_type(x):
    return np.asarray(x)[10]


def apply(f, x):
    try:
        return f(x)
    except ValueError:
        return "caught"


def draw(rng, n):
    return rng.normal(size=n)


def test_calls_objects_and_state_between_calls():
    with local_session({"Counter": Counter}) as session:
        cls = session.lookup("Counter")
        assert isinstance(cls, Proxy)
        counter = cls(10)
        assert np.array_equal(counter.add(np.zeros(2)), [11.0, 11.0])
        assert counter.count == 11
        counter.count = 0
        assert counter.add(np.zeros(1))[0] == 1.0
        assert counter.add is not None and session.lookup("Counter") is cls
        assert list(inspect.signature(cls).parameters) == ["start"]


def test_changes_in_place_come_back_and_call_reports_them():
    with local_session({"scale": scale_in_place}) as session:
        scale = session.lookup("scale")
        x = np.ones(3)
        scale(x, factor=3.0)
        assert np.array_equal(x, [3.0, 3.0, 3.0])
        with pytest.raises(CheckFailed, match="changed its argument 1 in place"):
            call(scale, np.ones(3))


def test_learner_exceptions_keep_their_type_name_message_and_line():
    def bad_axis(x):
        return x.sum(axis=3)

    names = {"fails": fails, "wrong_type": wrong_type, "bad_axis": bad_axis}
    with local_session(names) as session:
        with pytest.raises(LearnerError, match=r"bad input of shape \(2,\)") as info:
            session.lookup("fails")(np.zeros(2))
        assert info.value.remote_type == "MyError"
        line = fails.__code__.co_firstlineno + 1
        assert info.value.remote_where == (
            f'line {line} of fails: `raise MyError(f"bad input of shape {{x.shape}}")`'
        )
        with pytest.raises(IndexError):
            session.lookup("wrong_type")(np.zeros(2))
        with pytest.raises(ValueError, match="axis 3 is out of bounds") as info:
            session.lookup("bad_axis")(np.zeros(2))  # numpy's AxisError is a ValueError
        assert isinstance(info.value, LearnerError) and info.value.remote_type == "AxisError"
        with pytest.raises(NameError):
            session.lookup("not_defined")


def test_checker_functions_are_called_back_and_their_errors_come_back_unchanged():
    class Boom(Exception):
        pass

    def explode(v):
        raise Boom("from the checker")

    def refuse(v):
        raise ValueError("no")

    with local_session({"apply": apply}) as session:
        remote_apply = session.lookup("apply")
        assert remote_apply(lambda v: float(np.sum(v**2)), np.ones(3)) == 3.0
        with pytest.raises(Boom, match="from the checker"):
            remote_apply(explode, np.ones(3))
        assert remote_apply(refuse, np.ones(3)) == "caught"  # learner code caught it


def test_learner_code_cannot_walk_from_a_checker_function_into_the_grader():
    def escape(f):
        found = []
        for name in ("__globals__", "_hidden", "np", "open"):
            try:
                found.append(getattr(f, name))
            except AttributeError:
                pass
        try:
            f.sneaky = 1
        except AttributeError:
            pass
        return len(found)

    class Holder:
        np = np  # a module on a public attribute
        open = open  # and a builtin

        def __call__(self, v):
            return v

    holder = Holder()
    with local_session({"escape": escape}) as session:
        assert session.lookup("escape")(lambda v: v) == 0
        assert session.lookup("escape")(holder) == 0
    assert not hasattr(holder, "sneaky")

    def naive_sigmoid(x):
        return 1 / (1 + np.exp(-x))

    with local_session({"sigmoid": naive_sigmoid}) as session:
        sigmoid = session.lookup("sigmoid")
        with pytest.raises(FloatingPointError, match="overflow encountered in exp"):
            with np.errstate(over="raise"):
                sigmoid(np.array([-800.0]))
        with np.errstate(over="ignore"):
            assert sigmoid(np.array([-800.0]))[0] == 0.0


def test_generators_cross_with_their_state():
    rng = np.random.default_rng(0)
    expected = np.random.default_rng(0).normal(size=3)
    after = np.random.default_rng(0)
    after.normal(size=3)
    with local_session({"draw": draw}) as session:
        assert np.array_equal(session.lookup("draw")(rng, 3), expected)
    assert rng.normal() == after.normal()  # the learner's draws advanced our generator


def test_huge_return_scores_the_task_zero_with_a_message():
    def square(x):
        return np.broadcast_to(np.float64(1.0), (10**9,))

    import tests_fixture_checks  # noqa: F401 - registers 99.1

    result = judge_locally("99.1", square)
    assert not result.passed
    assert result.message.startswith("your code returned a value the grader refuses")


@pytest.fixture(autouse=True)
def _fixture_checkers(monkeypatch):
    """The fixture assignment's checkers, importable as ``tests_fixture_checks``."""
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(__file__).parent / "fixtures" / "assignment" / "solutions" / "fixture_checks.py"
    spec = importlib.util.spec_from_file_location("tests_fixture_checks", path)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "tests_fixture_checks", module)
    spec.loader.exec_module(module)


def test_answer_table_passes_the_self_check_but_not_a_secret_seed(monkeypatch):
    from pathlib import Path

    import nbformat

    from dlcourse.checks import check, tools

    path = Path(__file__).parent / "fixtures/assignment/submissions/attack_answer_table.ipynb"
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("dlcourse", {}).get("task") == "99.1")
    namespace: dict = {"np": np}
    exec(cell.source, namespace)
    assert check("99.1", namespace["square"], verbose=False).passed
    monkeypatch.setattr(tools, "_case_seed", 12345)
    assert not judge_locally("99.1", namespace["square"]).passed


def test_a_slow_by_design_task_gets_its_checkers_own_limit_in_grading():
    from dlcourse.assign.judge import Judge, TaskSpec
    from dlcourse.checks import _registry, checker

    checker("99.8", uses=("f",), seconds=600)(lambda f: None)
    try:
        judge = Judge([TaskSpec("99.8"), TaskSpec("99.1")], task_seconds=60)
        assert judge.seconds_for("99.8") == 600  # e.g. training within a time budget
        assert judge.seconds_for("99.1") == 60  # no limit of its own: --task-timeout
        quick = Judge([], task_seconds=3)
        assert quick.seconds_for("99.1") == 3
        quick.server.close()
        judge.server.close()
    finally:
        _registry.pop("99.8")
