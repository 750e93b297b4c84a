"""The feature-map explorer works in a real browser (lesson 06 §8, marker ``browser``).

JupyterLab runs on a free 127.0.0.1 port, with a token, on a temporary copy of
``notebooks/`` and with every Jupyter/IPython/matplotlib setting in a temporary folder,
so nothing is written into the repository or the home folder. Headless Chromium
(Debian's ``chromium``, driven by Playwright; never ``playwright install``) opens lesson
06, runs all cells, waits for the explorer, picks another digit and checks that the
feature-map picture changed; then, at 1024 px wide with JupyterLab's file browser open,
checks that the dropdowns show their whole text and the slider is fully in view.
Screenshots go to ``test-artifacts/``.

Without chromium or Playwright the test is skipped with the reason, unless
``DLCOURSE_REQUIRE_BROWSER=1`` (set by ``.ci/run``), which turns the skip into a failure.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tasks import hermetic_env

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = "06_cnn_forward.ipynb"
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SERVER_START_S = 45  # JupyterLab's first start on a busy 2-core machine
EXPLORER_S = 90  # run all cells up to the explorer (quick mode) and render it
CHANGE_S = 30  # the kernel may still be running later cells when we move the control

# JupyterLab user settings: no news pop-up, no update check, start the notebook's kernel
# without asking, and every cell in the DOM (windowed rendering would leave off-screen
# widgets unrendered).
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {
        "windowingMode": "none",
        "autoStartDefaultKernel": True,
    },
}


def require_browser(reason: str) -> None:
    """Skip with ``reason``, or fail when DLCOURSE_REQUIRE_BROWSER=1 asks for the browser test."""
    if os.environ.get("DLCOURSE_REQUIRE_BROWSER", "").strip() in {"1", "true", "yes"}:
        pytest.fail(f"DLCOURSE_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        require_browser(
            "chromium is not installed (Debian/Ubuntu: apt-get install chromium); "
            "the browser test drives the system's chromium, never a downloaded one"
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        require_browser("Playwright for Python is missing (pip install -e '.[browser]')")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LabServer:
    url: str
    token: str
    root: Path
    log: Path

    def page_url(self, notebook: str) -> str:
        return f"{self.url}/lab/tree/{notebook}?reset&token={self.token}"

    def wait_for_idle_kernel(self, notebook: str, timeout: float = SERVER_START_S) -> None:
        """Wait until the server reports an idle kernel for ``notebook`` (REST API)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            url = f"{self.url}/api/sessions?token={self.token}"
            with urllib.request.urlopen(url, timeout=5) as reply:
                sessions = json.load(reply)
            for session in sessions:
                kernel = session.get("kernel") or {}
                if session.get("path") == notebook and kernel.get("execution_state") == "idle":
                    return
            time.sleep(0.5)
        raise TimeoutError(
            f"no idle kernel for {notebook} after {timeout} s:\n{self.log.read_text()}"
        )


def run_all_cells(page, attempts: int = 3) -> None:
    """Run → Run All Cells, again if the first code cell did not start (kernel still connecting)."""
    first_prompt = page.locator(".jp-CodeCell .jp-InputPrompt").first
    for _ in range(attempts):
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        try:
            page.wait_for_function(
                "(el) => /\\[(\\*|\\d+)\\]/.test(el.textContent)",
                arg=first_prompt.element_handle(),
                timeout=10_000,
            )
            return
        except Exception:  # playwright's TimeoutError: try the menu once more
            continue
    raise AssertionError(f"Run All Cells did not start the notebook after {attempts} attempts")


def _write_settings(settings_dir: Path) -> None:
    for name, values in LAB_SETTINGS.items():
        path = settings_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


def _wait_until_ready(url: str, token: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2) as reply:
                if reply.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise RuntimeError(f"jupyter lab did not answer within {SERVER_START_S} s:\n{log.read_text()}")


def _stop(process: subprocess.Popen) -> None:
    """Stop the server we started (and its kernels: its own process group), nothing else."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT if os.name != "nt" else signal.CTRL_BREAK_EVENT)
    try:
        process.wait(timeout=10)
        return
    except subprocess.TimeoutExpired:
        pass
    if os.name != "nt":
        os.killpg(process.pid, signal.SIGKILL)  # the group of the server we started
    else:
        process.kill()
    process.wait(timeout=10)


@pytest.fixture(scope="module")
def lab_server(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    scratch = tmp_path_factory.mktemp("jupyterlab")
    root = scratch / "course"
    shutil.copytree(ROOT / "notebooks", root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    settings = scratch / "lab-settings"
    _write_settings(settings)
    env = hermetic_env(scratch)  # quick, offline, every config/cache dir in scratch
    env.update(
        JUPYTERLAB_SETTINGS_DIR=str(settings),
        JUPYTERLAB_WORKSPACES_DIR=str(scratch / "workspaces"),
        MPLBACKEND="module://matplotlib_inline.backend_inline",
        OPENBLAS_NUM_THREADS="1",
        OMP_NUM_THREADS="1",
    )
    port, token = free_port(), secrets.token_hex(16)
    command = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--LabApp.news_url=",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    log = scratch / "jupyterlab.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            command,
            cwd=root,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=os.name != "nt",
            creationflags=getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0),
        )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_until_ready(url, token, process, log)
        yield LabServer(url, token, root, log)
    finally:
        _stop(process)


IMAGE_DIGEST_JS = """
async (img) => {
    const reply = await fetch(img.src);
    const bytes = await reply.arrayBuffer();
    const digest = await crypto.subtle.digest("SHA-256", bytes);
    const hex = Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0"));
    return {src: img.src, size: bytes.byteLength, sha256: hex.join("")};
}
"""


# Widest option text of each dropdown (measured with its own font) against the width the
# select has, and the boxes of the three controls against the visible notebook panel.
NARROW_LAYOUT_JS = """
(explorer) => {
    const ctx = document.createElement("canvas").getContext("2d");
    const result = {boxes: {}};
    for (const name of ["digit", "layer"]) {
        const select = explorer.querySelector(`.dlcourse-${name} select`);
        const style = getComputedStyle(select);
        ctx.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
        const widest = Math.max(...[...select.options].map((o) => ctx.measureText(o.text).width));
        // the arrow sits in the right padding; text needs the left padding and the arrow
        const text = widest + parseFloat(style.paddingLeft) + parseFloat(style.paddingRight);
        result[name] = {text: Math.ceil(text), box: select.clientWidth};
    }
    for (const name of ["digit", "layer", "filter"]) {
        const r = explorer.querySelector(`.dlcourse-${name}`).getBoundingClientRect();
        result.boxes[name] = {left: r.left, right: r.right};
    }
    const panel = explorer.closest(".jp-WindowedPanel-outer, .jp-Notebook").getBoundingClientRect();
    result.panel = {left: panel.left, right: panel.right};
    return result;
}
"""


def test_feature_map_explorer_redraws_when_the_digit_changes(
    chromium: str, lab_server: LabServer
) -> None:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, headless=True, args=CHROMIUM_ARGS
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto(lab_server.page_url(NOTEBOOK), wait_until="domcontentloaded")
            page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=SERVER_START_S * 1000)
            lab_server.wait_for_idle_kernel(NOTEBOOK)
            run_all_cells(page)

            explorer = page.locator(".dlcourse-feature-map-explorer").first
            explorer.wait_for(timeout=EXPLORER_S * 1000)
            image = explorer.locator("img.dlcourse-feature-maps")
            image.wait_for(timeout=CHANGE_S * 1000)
            page.wait_for_function(
                "(img) => img.complete && img.naturalWidth > 0",
                arg=image.element_handle(),
                timeout=CHANGE_S * 1000,
            )
            before = image.evaluate(IMAGE_DIGEST_JS)
            explorer.scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / "browser_explorer_before.png"))

            digit = explorer.locator(".dlcourse-digit select")
            digit.select_option(index=3)
            page.wait_for_function(
                "([img, src]) => img.src !== src && img.complete && img.naturalWidth > 0",
                arg=[image.element_handle(), before["src"]],
                timeout=CHANGE_S * 1000,
            )
            after = image.evaluate(IMAGE_DIGEST_JS)
            explorer.screenshot(path=str(ARTIFACTS / "browser_feature_map_explorer.png"))
            page.screenshot(path=str(ARTIFACTS / "browser_explorer_after.png"))

            page.set_viewport_size({"width": 1024, "height": 900})
            if not page.locator("#filebrowser").is_visible():
                page.locator('.jp-SideBar [data-id="filebrowser"]').first.click()
            page.locator("#filebrowser").wait_for(state="visible", timeout=CHANGE_S * 1000)
            page.wait_for_timeout(500)  # let the notebook panel reflow
            explorer.scroll_into_view_if_needed()
            narrow = explorer.evaluate(NARROW_LAYOUT_JS)
            page.screenshot(path=str(ARTIFACTS / "browser_explorer_1024_file_browser.png"))
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "browser_failure.png"))
            raise
        finally:
            browser.close()

    assert after["size"] > 1000, f"the explorer's picture is suspiciously small: {after}"
    for name in ("digit", "layer"):
        select = narrow[name]
        assert select["text"] <= select["box"], (
            f"at 1024 px with the file browser open, the {name} dropdown cuts its text: {select}"
        )
    for name in ("digit", "layer", "filter"):
        box, panel = narrow["boxes"][name], narrow["panel"]
        assert panel["left"] <= box["left"] and box["right"] <= panel["right"], (
            f"at 1024 px with the file browser open, the {name} control is not fully in "
            f"view: {box} in the notebook's {panel}"
        )
    assert after["sha256"] != before["sha256"], (
        "choosing another digit did not change the feature-map picture "
        f"(both {before['size']} bytes, sha256 {before['sha256'][:12]}…)"
    )
