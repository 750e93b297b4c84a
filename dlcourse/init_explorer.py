"""The weight-init explorer: how initialization shapes a deep network's signals (lesson 09).

``propagate(init, activation, depth, width, batch)`` sends a batch through ``depth``
fully connected layers of ``width`` units (no bias, weights from ``init``) and a random
upstream gradient back down again. It returns every layer's activations and backward
gradients, so a lesson can see saturation, collapse to zero and vanishing gradients.

``init_explorer()`` wraps it in a widget: choose the initializer (or a free std), the
activation, the depth, the width (= fan-in of every layer) and the input batch; it draws,
for every layer, the histogram of the activations and, beside it, of the backward
gradients, and prints each layer's standard deviation. The picture is one PNG rendered
with matplotlib's Agg backend into an ``ipywidgets.Image``; a saved notebook keeps it
(and the statistics as text) for viewers without widgets, as the lesson-06 explorer does.

Time one redraw at depth 10 with ``python -m dlcourse.init_explorer``.
"""

from __future__ import annotations

import base64
import html
import io
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from dlcourse.initializers import get_initializer

__all__ = [
    "ACTIVATIONS",
    "INITS",
    "INPUTS",
    "InitExplorer",
    "SignalStats",
    "init_explorer",
    "init_weights",
    "propagate",
]

# Initializer choices: label → (dlcourse initializer name, fixed std or None).
# "normal" with std None uses the free std of the explorer's std slider.
INITS: dict[str, tuple[str, float | None]] = {
    "std 1": ("normal", 1.0),
    "std 0.01": ("normal", 0.01),
    "free std": ("normal", None),
    "xavier": ("xavier", None),
    "he": ("he", None),
    "glorot_normal": ("glorot_normal", None),
    "glorot_uniform": ("glorot_uniform", None),
}
ACTIVATIONS = ("sigmoid", "tanh", "relu")
INPUTS = ("normal", "uniform")  # N(0, 1) or U(0, 1) (pixel-like) input values
MAX_DEPTH = 20

# seaborn's "colorblind" palette, written out to keep the import light.
_ACT_COLOUR = "#0173b2"  # blue: activations
_GRAD_COLOUR = "#de8f05"  # orange: gradients
_BINS = 60


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1 + np.tanh(0.5 * z))  # the same function, without overflow warnings


def _forward(name: str, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(h, dh/dz) of activation ``name`` at pre-activations z (any shape)."""
    if name == "sigmoid":
        h = _sigmoid(z)
        return h, h * (1 - h)
    if name == "tanh":
        h = np.tanh(z)
        return h, 1 - h * h
    h = np.maximum(z, 0)
    return h, (z > 0).astype(z.dtype)


def _matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b for (N, D) @ (D, M). np.einsum computes it on one core: these products are
    small, and on a busy machine BLAS's threads can make them several times slower."""
    out: np.ndarray = np.einsum("nd,dm->nm", a, b)
    return out


def _check(init: str, activation: str, depth: int, width: int, batch: int, std: float) -> None:
    if init not in INITS:
        raise ValueError(f"unknown init {init!r}; choose one of: {', '.join(INITS)}")
    if activation not in ACTIVATIONS:
        raise ValueError(
            f"unknown activation {activation!r}; choose one of: {', '.join(ACTIVATIONS)}"
        )
    if not 1 <= depth <= MAX_DEPTH:
        raise ValueError(f"depth must be between 1 and {MAX_DEPTH} layers, got {depth}")
    if width < 1 or batch < 1:
        raise ValueError(f"width and batch must be at least 1, got width={width}, batch={batch}")
    if not std > 0:
        raise ValueError(f"std must be positive, got {std}")


def init_weights(init: str, width: int, std: float, rng: np.random.Generator) -> np.ndarray:
    """One (width, width) weight matrix drawn with the initializer labelled ``init``.

    init: a key of :data:`INITS`; std is used only by "free std". fan_in = fan_out = width.
    """
    name, fixed = INITS[init]
    if name == "normal":
        return get_initializer("normal")(width, width, std=fixed or std, rng=rng, dtype=np.float64)
    return get_initializer(name)(width, width, rng=rng, dtype=np.float64)


@dataclass
class SignalStats:
    """What :func:`propagate` measured, one entry per layer (layer 1 is the first).

    activations[l]: (batch, width), the output h of layer l + 1;
    gradients[l]: (batch, width), dL/dh of that output for a random N(0, 1) gradient
    arriving at the top layer.
    """

    activations: list[np.ndarray]
    gradients: list[np.ndarray]

    @property
    def act_std(self) -> np.ndarray:
        """(depth,) standard deviation of each layer's activations."""
        return np.array([h.std() for h in self.activations])

    @property
    def grad_std(self) -> np.ndarray:
        """(depth,) standard deviation of each layer's backward gradient."""
        return np.array([g.std() for g in self.gradients])

    def table(self) -> str:
        """One line per layer: its activation std and gradient std (for printing)."""
        lines = ["layer  activation std  gradient std"]
        for i, (a, g) in enumerate(zip(self.act_std, self.grad_std, strict=True), start=1):
            lines.append(f"{i:>5}  {a:>14.3e}  {g:>12.3e}")
        return "\n".join(lines)


def propagate(
    init: str = "he",
    activation: str = "relu",
    depth: int = 10,
    width: int = 100,
    batch: int = 500,
    std: float = 0.01,
    inputs: str = "normal",
    seed: int = 0,
) -> SignalStats:
    """Forward a batch through ``depth`` layers h ← act(h W), then a gradient back down.

    The input x: (batch, width) is N(0, 1) (``inputs="normal"``) or U(0, 1) ("uniform");
    every W: (width, width) comes from ``init`` (a key of :data:`INITS`; ``std`` is the
    std of "free std"). Backward, dL/dh of the top layer is N(0, 1) and each layer passes
    dL/dh_prev = (dL/dh · act'(z)) Wᵀ down. Everything is float64 and seeded by ``seed``.
    """
    _check(init, activation, depth, width, batch, std)
    if inputs not in INPUTS:
        raise ValueError(f"unknown inputs {inputs!r}; choose one of: {', '.join(INPUTS)}")
    rng = np.random.default_rng(seed)
    h = rng.standard_normal((batch, width)) if inputs == "normal" else rng.random((batch, width))
    weights, activations, slopes = [], [], []
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(depth):
            W = init_weights(init, width, std, rng)
            h, slope = _forward(activation, _matmul(h, W))
            weights.append(W)
            activations.append(h)
            slopes.append(slope)
        dh = rng.standard_normal((batch, width))
        gradients = [dh]
        for W, slope in zip(weights[:0:-1], slopes[:0:-1], strict=True):
            dh = _matmul(dh * slope, W.T)
            gradients.append(dh)
    return SignalStats(activations, gradients[::-1])


# -------------------------------------------------------------------- rendering


def _ridges(ax: Any, arrays: list[np.ndarray], stds: np.ndarray, colour: str, what: str) -> None:
    """One histogram per layer on a shared x-axis, stacked upwards (layer 1 at the bottom).

    Each histogram is scaled to its own peak, so a narrow (collapsed) distribution shows
    as a spike and a saturated one as two bumps at the ends. The y tick labels give each
    layer's std.
    """
    finite = [a[np.isfinite(a)] for a in arrays]
    spread = max((float(np.percentile(np.abs(a), 99.5)) for a in finite if a.size), default=1.0)
    limit = spread if spread > 0 else 1.0
    lo = 0.0 if all(a.size and a.min() >= 0 for a in finite) else -limit
    edges = np.linspace(lo, limit, _BINS + 1)
    for layer, values in enumerate(finite, start=1):
        counts, _ = np.histogram(np.clip(values, lo, limit), bins=edges)
        height = counts / max(counts.max(), 1) * 0.9
        ax.stairs(layer + height, edges, baseline=layer, fill=True, color=colour, alpha=0.8)
    ax.set_xlim(lo, limit)
    ax.set_ylim(0.8, len(arrays) + 1)
    ax.set_yticks(
        np.arange(1, len(arrays) + 1) + 0.3,
        [f"{layer}: std {_fmt(s)}" for layer, s in enumerate(stds, start=1)],
        fontsize=9,
    )
    ax.set_ylabel("layer (1 = first) and its std")
    ax.set_xlabel(f"{what} value (each histogram scaled to its peak)")


def _fmt(value: float) -> str:
    return f"{value:.2g}" if np.isfinite(value) else "inf/nan"


def render(stats: SignalStats, title: str, dpi: int = 80) -> bytes:
    """PNG (1024 px wide at dpi 80) of the per-layer activation and gradient histograms."""
    depth = len(stats.activations)
    height = 2.0 + 0.4 * depth
    fig = Figure(figsize=(12.8, height), dpi=dpi)
    fig.subplots_adjust(
        left=0.11, right=0.99, wspace=0.3, top=1 - 0.75 / height, bottom=0.55 / height
    )
    ax_act, ax_grad = fig.subplots(1, 2)
    for ax, arrays, stds, colour, name, what in (
        (ax_act, stats.activations, stats.act_std, _ACT_COLOUR, "activations", "activation h"),
        (
            ax_grad,
            stats.gradients,
            stats.grad_std,
            _GRAD_COLOUR,
            "gradients",
            "backward gradient dL/dh",
        ),
    ):
        _ridges(ax, arrays, stds, colour, what)
        ax.set_title(
            f"{name}: std {_fmt(stds[0])} at layer 1, {_fmt(stds[-1])} at layer {depth}",
            fontsize=11,
        )
    fig.suptitle(title, fontsize=12)
    buffer = io.BytesIO()
    FigureCanvasAgg(fig)
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


# --------------------------------------------------------------------- explorer


class InitExplorer(widgets.VBox):
    """A widget: choose an initializer, activation, depth, width and input batch; see the
    per-layer distributions of activations and backward gradients, with their stds.

    Controls: ``init`` (Dropdown of :data:`INITS`), ``std`` (FloatLogSlider, the std of
    "free std"), ``activation``, ``depth``, ``width`` (fan-in = fan-out of every layer),
    ``batch`` (samples) and ``inputs`` (N(0, 1) or U(0, 1) values). The picture is
    ``image`` (a PNG), the per-layer stds are in ``stats`` (HTML) and ``current`` holds
    the :class:`SignalStats` of the picture.
    """

    def __init__(
        self,
        init: str = "xavier",
        activation: str = "tanh",
        depth: int = 10,
        width: int = 100,
        batch: int = 500,
        std: float = 0.01,
        inputs: str = "normal",
        seed: int = 0,
        dpi: int = 80,
    ) -> None:
        _check(init, activation, depth, width, batch, std)
        self.seed, self.dpi = seed, dpi
        self.init = widgets.Dropdown(options=list(INITS), value=init, description="init")
        self.std = widgets.FloatLogSlider(
            value=std,
            base=10,
            min=-3,
            max=1,
            step=0.1,
            description="free std",
            continuous_update=False,
            readout_format=".3g",
        )
        self.activation = widgets.Dropdown(
            options=list(ACTIVATIONS), value=activation, description="activation"
        )
        self.depth = widgets.IntSlider(
            value=depth, min=1, max=MAX_DEPTH, description="depth", continuous_update=False
        )
        self.width = widgets.IntSlider(
            value=width,
            min=10,
            max=1000,
            step=10,
            description="width (fan-in)",
            continuous_update=False,
            style={"description_width": "initial"},
        )
        self.batch = widgets.IntSlider(
            value=batch,
            min=10,
            max=2000,
            step=10,
            description="batch",
            continuous_update=False,
        )
        self.inputs = widgets.Dropdown(
            options=[("x ~ N(0, 1)", "normal"), ("x ~ U(0, 1)", "uniform")],
            value=inputs,
            description="inputs",
        )
        self.image = widgets.Image(format="png")
        self.stats = widgets.HTML()
        self.current: SignalStats | None = None
        controls = {
            "init": self.init,
            "std": self.std,
            "activation": self.activation,
            "depth": self.depth,
            "width": self.width,
            "batch": self.batch,
            "inputs": self.inputs,
        }
        for name, control in controls.items():
            control.add_class(f"dlcourse-{name}")
            control.observe(self._on_change, names="value")
        self.image.add_class("dlcourse-init-picture")
        self.stats.add_class("dlcourse-init-stats")
        super().__init__(
            [
                widgets.HBox([self.init, self.std, self.activation, self.inputs]),
                widgets.HBox([self.depth, self.width, self.batch]),
                self.image,
                self.stats,
            ]
        )
        self.add_class("dlcourse-init-explorer")
        self.redraw()

    def _repr_mimebundle_(self, **kwargs: Any) -> dict:
        """The live widget, plus the current picture (PNG) and statistics (text).

        JupyterLab shows the widget; a saved notebook opened where widgets cannot run
        shows the picture and the table.
        """
        bundle: dict = super()._repr_mimebundle_(**kwargs)
        bundle["image/png"] = base64.b64encode(self.image.value).decode("ascii")
        bundle["text/plain"] = self.describe()
        return bundle

    def _on_change(self, change: Mapping[str, Any]) -> None:
        self.redraw()

    def settings(self) -> dict[str, Any]:
        """The controls' current values, as keyword arguments of :func:`propagate`."""
        return {
            "init": self.init.value,
            "activation": self.activation.value,
            "depth": self.depth.value,
            "width": self.width.value,
            "batch": self.batch.value,
            "std": self.std.value,
            "inputs": self.inputs.value,
            "seed": self.seed,
        }

    def title(self) -> str:
        s = self.settings()
        init = f"normal, std {s['std']:.3g}" if s["init"] == "free std" else s["init"]
        return (
            f"init {init}, {s['activation']}, {s['depth']} layers of {s['width']} units, "
            f"batch of {s['batch']}"
        )

    def describe(self) -> str:
        """The picture's text alternative: the settings and every layer's stds."""
        assert self.current is not None
        return f"{self.title()}.\n{self.current.table()}"

    def redraw(self) -> None:
        """Recompute the statistics for the current controls and redraw the picture."""
        self.std.disabled = self.init.value != "free std"
        self.current = propagate(**self.settings())
        self.image.value = render(self.current, self.title(), self.dpi)
        self.stats.value = f"<pre>{html.escape(self.describe())}</pre>"

    def time_redraw(
        self, repeats: int = 7, clock: Callable[[], float] = time.perf_counter
    ) -> float:
        """Median seconds of :meth:`redraw` over ``repeats`` calls, measured by ``clock``.

        The default is wall-clock time; ``clock=time.process_time`` counts the CPU time of
        this process only, which is what a redraw costs on an otherwise idle machine.
        """
        times = []
        for _ in range(repeats):
            start = clock()
            self.redraw()
            times.append(clock() - start)
        return statistics.median(times)


def init_explorer(**kwargs: Any) -> InitExplorer:
    """Build the lesson-09 weight-init explorer; show it by making it a cell's last line.

    Keyword arguments set the starting controls (``init``, ``activation``, ``depth``,
    ``width``, ``batch``, ``std``, ``inputs``, ``seed``), e.g.
    ``init_explorer(init="std 0.01", activation="tanh")``.
    """
    return InitExplorer(**kwargs)


if __name__ == "__main__":
    explorer = InitExplorer(depth=10)
    wall = explorer.time_redraw()
    cpu = explorer.time_redraw(clock=time.process_time)
    print(
        f"median redraw at depth 10 (width 100, batch 500): {wall:.3f} s wall clock, "
        f"{cpu:.3f} s CPU"
    )
