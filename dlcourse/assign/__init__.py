"""Instructor tools: generate exercises, grade submissions, release a student bundle.

Run them from the course folder; docs/instructors.md explains each one:

    python -m dlcourse.assign build            # solutions/*.ipynb -> exercises/*.ipynb
    python -m dlcourse.assign build --check    # fail if exercises/ is out of date
    python -m dlcourse.assign grade SUBMISSIONS/ --out scores.csv
    python -m dlcourse.assign release OUT/     # lessons + exercises, no solutions

Modules: notebooks (reading tasks and fences), build (the generator), runner
(executing a notebook with limits), limits (the kernel launch wrapper), judge (the
checkers and hidden tests, run in the grader's process on proxies), kernelside (the
kernel's part: performs calls, reports data, one process per task), wire (the data
that may cross between them), grade (scores), release (the bundle).
"""

from dlcourse.assign.notebooks import Assignment, AssignmentError, Task, read_assignment

__all__ = ["Assignment", "AssignmentError", "Task", "read_assignment"]
