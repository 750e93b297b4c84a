"""The weight-init explorer works in a real browser (marker ``browser``).

Reuses the JupyterLab server and Chromium fixtures of ``tests/test_browser.py`` (a
temporary copy of ``notebooks/``, hermetic settings, Debian's ``chromium`` driven by
Playwright, never ``playwright install``). A one-cell notebook that shows lesson 09's
explorer is written into the server's copy, so the test waits for the widget, not for
the lesson's training runs (nbval executes the lesson itself). In the browser the test
moves three controls, the initializer, the activation and the depth, and checks after
each move that the picture changed and that the printed statistics changed as they
should: with std 0.01 the activation std collapses with depth; with He + ReLU it holds;
a shallower network lists fewer layers. Screenshots go to ``test-artifacts/``.

Without chromium or Playwright the test is skipped with the reason, unless
``DLCOURSE_REQUIRE_BROWSER=1``, which turns the skip into a failure.
"""

from __future__ import annotations

import re

import nbformat
import pytest
from test_browser import (  # noqa: F401 - chromium and lab_server are fixtures
    ARTIFACTS,
    CHANGE_S,
    CHROMIUM_ARGS,
    IMAGE_DIGEST_JS,
    SERVER_START_S,
    LabServer,
    chromium,
    lab_server,
    run_all_cells,
)

pytestmark = pytest.mark.browser

NOTEBOOK = "init_explorer_in_the_browser.ipynb"
SOURCE = (
    "from dlcourse.init_explorer import init_explorer\n"
    'init_explorer(init="xavier", activation="tanh", depth=10, width=100, batch=500)'
)
EXPLORER_S = 120  # start the kernel, import dlcourse and draw the first picture
ROW = re.compile(r"^\s*(\d+)\s+(\S+)\s+(\S+)\s*$", re.MULTILINE)


def layer_stds(text: str) -> list[tuple[int, float, float]]:
    """(layer, activation std, gradient std) rows of the explorer's printed table."""
    return [(int(a), float(b), float(c)) for a, b, c in ROW.findall(text)]


def write_notebook(lab: LabServer) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(SOURCE)]
    notebook.metadata["kernelspec"] = {
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
        "name": "python3",
    }
    nbformat.write(notebook, lab.root / NOTEBOOK)


def test_init_explorer_redraws_when_controls_move(
    chromium: str,  # noqa: F811 - the fixture imported above
    lab_server: LabServer,  # noqa: F811
) -> None:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    write_notebook(lab_server)
    seen: dict[str, tuple[dict, list]] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, headless=True, args=CHROMIUM_ARGS
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        try:
            page.goto(lab_server.page_url(NOTEBOOK), wait_until="domcontentloaded")
            page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=SERVER_START_S * 1000)
            lab_server.wait_for_idle_kernel(NOTEBOOK)
            run_all_cells(page)

            explorer = page.locator(".dlcourse-init-explorer").first
            explorer.wait_for(timeout=EXPLORER_S * 1000)
            image = explorer.locator("img.dlcourse-init-picture")
            stats = explorer.locator(".dlcourse-init-stats")
            page.wait_for_function(
                "(img) => img.complete && img.naturalWidth > 0",
                arg=image.element_handle(),
                timeout=CHANGE_S * 1000,
            )

            def snapshot(name: str) -> None:
                seen[name] = (image.evaluate(IMAGE_DIGEST_JS), layer_stds(stats.inner_text()))
                explorer.screenshot(path=str(ARTIFACTS / f"browser_init_explorer_{name}.png"))

            def wait_for_redraw(before: str) -> None:
                page.wait_for_function(
                    "([img, src]) => img.src !== src && img.complete && img.naturalWidth > 0",
                    arg=[image.element_handle(), seen[before][0]["src"]],
                    timeout=CHANGE_S * 1000,
                )

            explorer.scroll_into_view_if_needed()
            snapshot("xavier_tanh")

            explorer.locator(".dlcourse-init select").select_option(label="std 0.01")
            wait_for_redraw("xavier_tanh")
            snapshot("std001_tanh")

            explorer.locator(".dlcourse-activation select").select_option(label="relu")
            wait_for_redraw("std001_tanh")
            snapshot("std001_relu")

            explorer.locator(".dlcourse-init select").select_option(label="he")
            wait_for_redraw("std001_relu")
            snapshot("he_relu")

            readout = explorer.locator(".dlcourse-depth .widget-readout")
            readout.click()
            page.keyboard.press("Control+A")
            page.keyboard.type("4")
            page.keyboard.press("Enter")
            wait_for_redraw("he_relu")
            snapshot("he_relu_depth4")
            page.screenshot(path=str(ARTIFACTS / "browser_init_explorer_page.png"))
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "browser_init_explorer_failure.png"))
            raise
        finally:
            browser.close()

    digests = [picture["sha256"] for picture, _ in seen.values()]
    assert len(set(digests)) == len(digests), "a control moved but the picture did not change"
    assert all(picture["size"] > 5000 for picture, _ in seen.values())

    rows = {name: table for name, (_, table) in seen.items()}
    assert [layer for layer, _, _ in rows["xavier_tanh"]] == list(range(1, 11))
    for name in ("std001_tanh", "std001_relu"):
        first, last = rows[name][0][1], rows[name][-1][1]
        assert last < 1e-6 * first, f"{name}: activation std should collapse with depth: {rows}"
        assert rows[name][0][2] < 1e-6 * rows[name][-1][2], f"{name}: gradients should vanish"
    he = [act for _, act, _ in rows["he_relu"]]
    assert all(0.5 < s / he[0] < 2 for s in he), f"He + ReLU should hold the std: {he}"
    assert [layer for layer, _, _ in rows["he_relu_depth4"]] == [1, 2, 3, 4]
