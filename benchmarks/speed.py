"""How fast is a dlcourse training step? Side-by-side timings on this machine.

    python benchmarks/speed.py mlp|naive|cnn|deep|memory
        [--rounds 3] [--repeats 20] [--warmup 3] [--batch 100] [--torch-python PATH]

One training step is forward, backward and an SGD update on one batch of random
MNIST-shaped data (float32 unless said otherwise). Every contender runs in its own
fresh subprocess; the rounds interleave the contenders (A, B, A, B, ...) so that a
busy machine slows them alike. Each subprocess times ``--repeats`` steps after
``--warmup`` untimed ones; the table shows the median step time over all rounds and
the min–max. The last line is machine-readable:

- ``mlp``: 784-100-10 MLP (ReLU) vs the same network in PyTorch on the CPU:
  ``mlp ratio=R`` (dlcourse time / PyTorch time), or ``mlp ratio=skipped (...)``.
- ``naive``: the source's first CNN as the source wrote it (one 5×5 filter; per image
  and per output pixel a ``tensordot`` appended to an array; 576 → 10 softmax; float64
  like the source) vs ``single_filter_convnet``: ``naive speedup=S``.
- ``cnn``: SimpleConvNet (conv 30×5×5, ReLU, 2×2 max pool, affine 100, ReLU,
  affine 10) vs PyTorch: ``cnn ratio=R``.
- ``deep``: ``deep_convnet`` (two pairs of 3×3 convs, each pair pooled) vs PyTorch:
  ``deep ratio=R``.
- ``memory``: peak resident memory of SimpleConvNet training steps at batch 100 and
  1000, over the RSS just before the first step: lines
  ``memory batch=B peak_mib=X contender=NAME``.

PyTorch runs with ``--torch-python`` (default: this interpreter, if it can import
torch) and ``torch.set_num_threads`` equal to numpy's thread count; both libraries
use their defaults unless OPENBLAS_NUM_THREADS/OMP_NUM_THREADS say otherwise. This
file must stay importable without dlcourse (the PyTorch interpreter may not have it).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve()
ROOT = HERE.parent.parent
LEARNING_RATE = 0.01
CLASSES = 10

# benchmark -> (contender, contender); the first is the one a ratio puts on top.
BENCHMARKS: dict[str, tuple[str, str]] = {
    "mlp": ("dlcourse-mlp", "torch-mlp"),
    "naive": ("naive-loops", "dlcourse-single-filter"),
    "cnn": ("dlcourse-cnn", "torch-cnn"),
    "deep": ("dlcourse-deep", "torch-deep"),
}
MEMORY_BATCHES = (100, 1000)
MEMORY_CONTENDERS = ("dlcourse-cnn", "torch-cnn")


# ----------------------------------------------------------------- data


def random_batch(batch: int, flat: bool, dtype=np.float32) -> tuple[np.ndarray, np.ndarray]:
    """Random digits-shaped inputs in [0, 1) and integer labels (fixed seed)."""
    rng = np.random.default_rng(0)
    shape = (batch, 784) if flat else (batch, 1, 28, 28)
    return rng.random(shape).astype(dtype), rng.integers(0, CLASSES, batch)


# ------------------------------------------------------------- dlcourse


def dlcourse_step(model_name: str, batch: int) -> Callable[[], None]:
    """A function doing one dlcourse training step (forward, backward, SGD update)."""
    from dlcourse import convnets, models
    from dlcourse.optimizers import SGD

    factories = {
        "mlp": lambda: models.mlp(sizes=(784, 100, 10), activation="relu", rng=0),
        "single-filter": lambda: convnets.single_filter_convnet(rng=0),
        "cnn": lambda: convnets.simple_convnet(rng=0),
        "deep": lambda: convnets.deep_convnet(rng=0),
    }
    model = factories[model_name]()
    optimizer = SGD(lr=LEARNING_RATE)
    x, labels = random_batch(batch, flat=model_name == "mlp")

    def step() -> None:
        _, grads = model.loss_and_gradient(x, labels)
        optimizer.update(model.params, grads)

    return step


# ---------------------------------------------------------------- PyTorch


def torch_step(model_name: str, batch: int) -> Callable[[], None]:
    """The same step in PyTorch on the CPU, float32, as many threads as numpy."""
    import torch
    from torch import nn

    torch.set_num_threads(numpy_threads())
    torch.manual_seed(0)
    builders = {
        "mlp": lambda: nn.Sequential(nn.Linear(784, 100), nn.ReLU(), nn.Linear(100, 10)),
        "cnn": lambda: nn.Sequential(
            nn.Conv2d(1, 30, 5),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(30 * 12 * 12, 100),
            nn.ReLU(),
            nn.Linear(100, 10),
        ),
        "deep": lambda: nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(16, 16, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(32, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(32 * 7 * 7, 100),
            nn.ReLU(),
            nn.Linear(100, 10),
        ),
    }
    model = builders[model_name]()
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)
    loss_fn = nn.CrossEntropyLoss()
    x, labels = random_batch(batch, flat=model_name == "mlp")
    x_t, labels_t = torch.from_numpy(x), torch.from_numpy(labels)

    def step() -> None:
        optimizer.zero_grad()
        loss_fn(model(x_t), labels_t).backward()
        optimizer.step()

    return step


# ----------------------------------------------------- the source's loops


def naive_step(batch: int) -> Callable[[], None]:
    """The source's one-filter CNN step, written our way but with its algorithm.

    Per image: for each of the 24×24 output pixels a ``tensordot`` of the 5×5 patch
    with the filter, appended to a growing array; one bias per feature-map pixel;
    ReLU; rows stacked with ``vstack``. Then softmax over 576 → 10, the gradients
    (the filter gradient again per image, per filter offset, with ``tensordot``) and
    a gradient-descent update. float64, as the source's arrays were.
    """
    rng = np.random.default_rng(0)
    size, fsize = 28, 5
    msize = size - fsize + 1  # 24: the feature map's side
    filt = rng.standard_normal((fsize, fsize))
    bias_c = rng.standard_normal((1, msize**2))
    w_out = rng.standard_normal((msize**2, CLASSES))
    bias_out = rng.standard_normal((1, CLASSES))
    x, labels = random_batch(batch, flat=True, dtype=np.float64)
    targets = np.eye(CLASSES)[labels]

    def step() -> None:
        nonlocal filt, bias_c, w_out, bias_out
        maps, pre_relu = np.empty((0, msize**2)), np.empty((0, msize**2))
        for m in range(batch):
            image = x[m].reshape(size, size)
            values = []
            for i in range(msize):
                for j in range(msize):
                    values = np.append(
                        values, np.tensordot(filt, image[i : i + fsize, j : j + fsize])
                    )
            biased = values + bias_c
            pre_relu = np.vstack((pre_relu, biased))
            maps = np.vstack((maps, np.where(biased < 0, 0, biased)))
        scores = maps @ w_out + bias_out
        exp = np.exp(scores - scores.max(axis=1, keepdims=True))
        y = exp / exp.sum(axis=1, keepdims=True)
        d_w_out = maps.T @ (y - targets)
        d_bias_out = np.sum(y - targets, axis=0, keepdims=True)
        delta = np.where(pre_relu <= 0, 0, 1) * ((y - targets) @ w_out.T)
        d_filt_rows = np.empty((0, fsize**2))
        for m in range(batch):
            image = x[m].reshape(size, size)
            image_delta = delta[m].reshape(msize, msize)
            values = []
            for i in range(fsize):
                for j in range(fsize):
                    values = np.append(
                        values, np.tensordot(image_delta, image[i : i + msize, j : j + msize])
                    )
            d_filt_rows = np.vstack((d_filt_rows, values))
        d_filt = np.average(d_filt_rows, axis=0).reshape(fsize, fsize)
        d_bias_c = np.average(delta, axis=0).reshape(1, msize**2)
        w_out = w_out - LEARNING_RATE * d_w_out
        bias_out = bias_out - LEARNING_RATE * d_bias_out
        filt = filt - LEARNING_RATE * d_filt
        bias_c = bias_c - LEARNING_RATE * d_bias_c

    return step


def make_step(contender: str, batch: int) -> Callable[[], None]:
    library, _, model_name = contender.partition("-")
    if library == "naive":
        return naive_step(batch)
    if library == "torch":
        return torch_step(model_name, batch)
    return dlcourse_step(model_name, batch)


# ---------------------------------------------------------------- memory


def _status_kib(field: str) -> int | None:
    """A field of /proc/self/status in KiB (VmRSS, VmHWM), or None where unavailable."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux ≥ 4.0); False where that is not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _maxrss_kib() -> int:
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak  # bytes on macOS


def peak_memory_mib(step: Callable[[], None], steps: int = 3) -> tuple[float, str]:
    """Peak RSS during ``steps`` steps minus the RSS just before the first, and the method."""
    reset = _reset_peak()
    before = _status_kib("VmRSS")
    if before is not None and reset:
        for _ in range(steps):
            step()
        return (_status_kib("VmHWM") - before) / 1024, "VmHWM-VmRSS"
    # Fallback: the process's lifetime peak, which may include setup before the steps.
    baseline = before if before is not None else _maxrss_kib()
    for _ in range(steps):
        step()
    return (_maxrss_kib() - baseline) / 1024, "ru_maxrss (upper bound)"


# ---------------------------------------------------------------- worker


def run_worker(args: argparse.Namespace) -> int:
    """In a fresh process: build one contender, time it (or measure memory), print JSON."""
    step = make_step(args.worker, args.batch)
    if args.measure == "memory":
        mib, method = peak_memory_mib(step)
        print(json.dumps({"peak_mib": mib, "method": method}))
        return 0
    for _ in range(args.warmup):
        step()
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    print(json.dumps({"times": times}))
    return 0


def numpy_threads() -> int:
    """Threads numpy's BLAS may use: the usual environment variables, else the CPUs."""
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        value = os.environ.get(name, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    return os.cpu_count() or 1


# ---------------------------------------------------------------- parent


def torch_python(requested: str | None) -> str | None:
    """The interpreter for PyTorch contenders: --torch-python, else this one if it has torch."""
    candidate = requested or sys.executable
    probe = subprocess.run(
        [candidate, "-c", "import torch"], capture_output=True, text=True, check=False
    )
    if probe.returncode == 0:
        return candidate
    if requested:
        raise SystemExit(f"--torch-python {requested} cannot import torch:\n{probe.stderr}")
    return None


def run_contender(
    contender: str, args: argparse.Namespace, python: str, batch: int, measure: str = "time"
) -> dict:
    """Run one contender in a fresh subprocess and return its JSON result."""
    command = [python, str(HERE), "--worker", contender, "--batch", str(batch)]
    command += ["--repeats", str(args.repeats), "--warmup", str(args.warmup)]
    command += ["--measure", measure]
    paths = [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{contender} failed (exit {done.returncode}):\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def describe(times: Sequence[float]) -> str:
    ms = [t * 1e3 for t in times]
    return f"median {statistics.median(ms):10.2f} ms   min–max {min(ms):.2f}–{max(ms):.2f} ms"


def run_timing(args: argparse.Namespace) -> int:
    first, second = BENCHMARKS[args.benchmark]
    contenders = [first, second]
    python_for = dict.fromkeys(contenders, sys.executable)
    torch_needed = [c for c in contenders if c.startswith("torch-")]
    if torch_needed:
        torch_exe = torch_python(args.torch_python)
        if torch_exe is None:
            contenders = [c for c in contenders if c not in torch_needed]
        else:
            python_for.update(dict.fromkeys(torch_needed, torch_exe))
    print(
        f"{args.benchmark}: batch {args.batch}, {args.rounds} round(s) × {args.repeats} step(s) "
        f"after {args.warmup} warm-up step(s), numpy threads {numpy_threads()}"
    )
    times: dict[str, list[float]] = {c: [] for c in contenders}
    for _ in range(args.rounds):
        for contender in contenders:
            result = run_contender(contender, args, python_for[contender], args.batch)
            times[contender] += result["times"]
    for contender in contenders:
        print(f"  {contender:24s} {describe(times[contender])}")
    if second not in times:
        print(f"{args.benchmark} ratio=skipped (PyTorch not installed)")
        return 0
    ratio = statistics.median(times[first]) / statistics.median(times[second])
    if args.benchmark == "naive":
        print(f"naive speedup={ratio:.1f}")
    else:
        print(f"{args.benchmark} ratio={ratio:.2f}")
    return 0


def run_memory(args: argparse.Namespace) -> int:
    contenders = list(MEMORY_CONTENDERS)
    python_for = dict.fromkeys(contenders, sys.executable)
    torch_exe = torch_python(args.torch_python)
    if torch_exe is None:
        contenders.remove("torch-cnn")
        print("memory: torch-cnn skipped (PyTorch not installed)")
    else:
        python_for["torch-cnn"] = torch_exe
    print("memory: SimpleConvNet training steps, peak RSS over the RSS before the first step")
    for batch in MEMORY_BATCHES:
        for contender in contenders:
            result = run_contender(contender, args, python_for[contender], batch, "memory")
            print(
                f"memory batch={batch} peak_mib={result['peak_mib']:.1f} contender={contender}"
                f" method={result['method']}"
            )
    return 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("benchmark", nargs="?", choices=[*BENCHMARKS, "memory"])
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--repeats", type=int, default=20, help="timed steps per process")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps per process first")
    parser.add_argument("--batch", type=int, default=100, help="batch size (default 100)")
    parser.add_argument("--torch-python", help="interpreter with torch for the PyTorch side")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument(
        "--measure", default="time", choices=["time", "memory"], help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.worker is None and args.benchmark is None:
        parser.error("choose a benchmark: " + ", ".join([*BENCHMARKS, "memory"]))
    for name in ("rounds", "repeats", "batch"):
        if getattr(args, name) < 1:
            parser.error(f"expected --{name} to be at least 1 but got {getattr(args, name)}")
    if args.warmup < 0:
        parser.error(f"expected --warmup to be at least 0 but got {args.warmup}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        return run_worker(args)
    if args.benchmark == "memory":
        return run_memory(args)
    return run_timing(args)


if __name__ == "__main__":
    sys.exit(main())
