"""A learner's exception is reported at the learner's own line (issue 11 §3)."""

from __future__ import annotations

import numpy as np
from checker_testing import failed

from dlcourse.checks.tools import describe_raise, learner_frame


def softmax_with_a_bad_axis(x):
    e = np.exp(x - np.amax(x, axis=3))  # numpy raises deep inside its own code
    return e / e.sum(axis=-1, keepdims=True)


def raised(func, *args) -> BaseException:
    try:
        func(*args)
    except Exception as err:
        return err
    raise AssertionError("expected an exception")


def test_learner_frame_skips_numpy_frames():
    err = raised(softmax_with_a_bad_axis, np.zeros((2, 3)))
    frame = learner_frame(err.__traceback__)
    assert frame is not None
    assert frame.name == "softmax_with_a_bad_axis"
    assert "np.amax(x, axis=3)" in frame.line


def test_learner_frame_is_none_without_learner_code():
    try:
        np.amax(np.zeros((2, 3)), 3)
    except Exception as caught:
        err = caught
    tb = err.__traceback__.tb_next  # drop this test's own frame: only numpy's remain
    assert learner_frame(tb) is None
    err = err.with_traceback(tb)
    assert describe_raise(err).startswith("your code raised AxisError")
    assert "line" not in describe_raise(err)


def test_code_run_from_a_notebook_cell_counts_as_the_learners():
    namespace: dict = {"np": np}
    exec(
        compile("def f(x):\n    return np.amax(x, axis=5)\n", "<ipython-input-3>", "exec"),
        namespace,
    )
    frame = learner_frame(raised(namespace["f"], np.zeros(2)).__traceback__)
    assert frame is not None and frame.name == "f" and frame.lineno == 2


def test_a_check_names_the_learners_line_not_numpys_nor_the_checkers():
    message = failed("2.1", softmax_with_a_bad_axis)
    assert "line" in message and "of softmax_with_a_bad_axis" in message
    assert "_amax" not in message and "check_softmax" not in message
