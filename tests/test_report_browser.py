"""report.html in a real headless browser: Debian's Chromium renders the comparison report and
the test reads the rendered page back through the DevTools protocol (``--remote-debugging-pipe``:
JSON messages on file descriptors 3 and 4, standard library only, nothing downloaded).

The report is built by ``compare`` from SYNTHETIC run folders (``tests/report_synthetic.py``,
two seeds per design so the headline has intervals; nothing here is a simulation result).
Checked in the rendered page: the report opens on the "At a glance" headline, inside the first
screen (1280 × 900), a ``table.headline`` with mean ± interval cells and a verdict on every row;
the key figure (voltage–capacity curves) follows the table inside "At a glance", with at least
half of it on the first screen; every figure is a decoded image (naturalWidth > 0); the full
metric list is folded in a closed ``<details>``; a screenshot of the first screen is not blank.
A control run shows the checks catch a broken image and a blank page.

Skipped when no Chromium is installed, except with ``CI=true`` (``.ci/run`` installs it through
``scripts/chromium-ci.sh``), where a missing Chromium fails. Serial: no DOLFINx and no MPI; one
browser process drives the whole module.
"""

from __future__ import annotations

import base64
import fcntl
import io
import json
import os
import re
import select
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from report_synthetic import toy_run

from fem_electrode.campaign import compare
from fem_electrode.config import validate

pytestmark = pytest.mark.serial

#: The first screen a reader sees (CSS pixels).
SCREEN = (1280, 900)
#: Every browser step ends well within this (s); a hung browser fails the test instead of CI.
TIMEOUT = 30.0

TINY = {"case": {"name": "tiny"}, "geometry": {"seed": 3}}
#: Synthetic discharge capacity (mAh/g) per design and seed: separated intervals (a winner);
#: the polarizations (V) overlap (not distinguishable).
CAPACITY = {"infiltrated": {3: 95.0, 4: 95.5}, "cosintered": {3: 80.0, 4: 80.5}}
GAP = {"infiltrated": {3: 0.030, 4: 0.045}, "cosintered": {3: 0.040, 4: 0.033}}
VERDICTS = {"infiltrated", "co-sintered", "tie", "not distinguishable", "not converged"}
#: A cell of the headline with seeds: "mean ± half-width" (numbers as comparison.fmt writes them).
NUMBER = r"[-+]?(?:\d[\d,]*\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
INTERVAL = re.compile(rf"^{NUMBER} ± {NUMBER}$")


def chromium_binary() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


class Browser:
    """One headless Chromium, driven through the DevTools protocol on a pipe (fds 3 and 4)."""

    def __init__(self, binary: str, profile: Path):
        # The browser reads commands from fd 3 and writes replies to fd 4. The pipe ends are moved
        # to fds >= 10 first, so that bash's redirections cannot overwrite one with another
        # (bash: dash takes one-digit fds only).
        ends = os.pipe() + os.pipe()
        to_browser_r, self._to_browser, self._from_browser, from_browser_w = (
            fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in ends)
        for fd in ends:
            os.close(fd)
        launch = f'exec "$@" 3<&{to_browser_r} 4>&{from_browser_w} {to_browser_r}<&- {from_browser_w}>&-'
        args = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
                "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio", "--remote-debugging-pipe",
                f"--user-data-dir={profile}", f"--window-size={SCREEN[0]},{SCREEN[1]}", "about:blank"]
        self.log = profile.parent / "chromium.log"
        with open(self.log, "wb") as log:
            # its own process group: a browser that does not exit is killed with all its helpers
            self.proc = subprocess.Popen(["bash", "-c", launch, "bash", *args],
                                         pass_fds=(to_browser_r, from_browser_w), start_new_session=True,
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []
        self.session = ""
        try:
            target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
            self.session = self.call("Target.attachToTarget",
                                     {"targetId": target, "flatten": True})["sessionId"]
            self.call("Page.enable")
            self.call("Runtime.enable")
            self.call("Emulation.setDeviceMetricsOverride",
                      {"width": SCREEN[0], "height": SCREEN[1], "deviceScaleFactor": 1, "mobile": False})
        except BaseException:
            self.close()
            raise

    def _read(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_browser], [], [], left)[0]:
                raise TimeoutError(f"Chromium did not answer in time; its log:\n{self.log_tail()}")
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise RuntimeError(f"Chromium closed the DevTools pipe (exit {self.proc.poll()}); its log:\n"
                                   f"{self.log_tail()}")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, params: dict | None = None) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if self.session:
            message["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + TIMEOUT
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, event: str) -> dict:
        deadline = time.monotonic() + TIMEOUT
        for i, seen in enumerate(self.events):
            if seen.get("method") == event:
                return self.events.pop(i)
        while True:
            reply = self._read(deadline)
            if reply.get("method") == event:
                return reply
            self.events.append(reply)

    def open(self, url: str) -> None:
        """Navigate and wait until the page and every image in it have loaded."""
        self.events.clear()
        result = self.call("Page.navigate", {"url": url})
        if result.get("errorText"):
            raise RuntimeError(f"{url}: {result['errorText']}")
        self.wait_for("Page.loadEventFired")

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True})
        if "exceptionDetails" in result:
            raise RuntimeError(f"JavaScript failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self) -> np.ndarray:
        """The first screen (SCREEN, CSS pixels) as an RGB array."""
        from PIL import Image

        data = self.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": False})["data"]
        return np.asarray(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB"))

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-2000:] if self.log.is_file() else "(no log)"

    def close(self) -> None:
        """Close the pipe (Chromium exits); after 10 s kill its process group (ours, by its id)."""
        try:
            os.close(self._to_browser)
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        finally:
            os.close(self._from_browser)


#: Read back from the rendered page: the section order, the headline table, the images and the
#: folded metric list, as the browser laid them out.
PAGE = """(() => {
  const text = (el) => el.textContent.trim();
  const headings = [...document.querySelectorAll("h1, h2")].map(h => ({
    tag: h.tagName, text: text(h), inDetails: h.closest("details") !== null}));
  const glance = [...document.querySelectorAll("h2")].find(h => text(h) === "At a glance");
  // the "At a glance" section: the elements after its heading up to the next <h2>
  const section = [];
  for (let el = glance ? glance.nextElementSibling : null; el && el.tagName !== "H2";
       el = el.nextElementSibling)
    section.push(el);
  const table = section.find(e => e.tagName === "TABLE") || null;
  const rect = (e) => { const r = e.getBoundingClientRect(); return {top: r.top, bottom: r.bottom,
                                                                    width: r.width, height: r.height}; };
  const firstFigure = document.querySelector("figure");
  const glanceFigures = section.filter(e => e.tagName === "FIGURE");
  const details = [...document.querySelectorAll("details")].map(d => ({
    open: d.open, summary: text(d.querySelector("summary")), text: d.textContent,
    tables: d.querySelectorAll("table").length,
    // a closed <details> keeps its content laid out but hidden (content-visibility), hence checkVisibility
    shownTables: [...d.querySelectorAll("table")].filter(t => t.checkVisibility()).length,
    summaryShown: d.querySelector("summary").checkVisibility()}));
  return {
    headings, details,
    glance: glance ? rect(glance) : null,
    table: table ? {rect: rect(table), className: table.className,
                    header: [...table.querySelectorAll("thead th")].map(text),
                    rows: [...table.querySelectorAll("tbody tr")].map(r => [...r.cells].map(text))} : null,
    firstFigureTop: firstFigure ? rect(firstFigure).top : null,
    firstFigure: firstFigure ? {rect: rect(firstFigure), alt: firstFigure.querySelector("img").alt,
                                inGlance: glanceFigures.includes(firstFigure)} : null,
    glanceFigures: glanceFigures.length,
    figuresAfterGlance: glance ? [...document.querySelectorAll("figure")].filter(
      f => glance.compareDocumentPosition(f) & Node.DOCUMENT_POSITION_FOLLOWING).length : 0,
    images: [...document.images].map(img => ({
      alt: img.alt, complete: img.complete, naturalWidth: img.naturalWidth, naturalHeight: img.naturalHeight,
      width: img.getBoundingClientRect().width, inDetails: img.closest("details") !== null})),
  };
})()"""

#: Per image: decoded (true) or not; waits for any image still decoding after the load event.
IMAGES_DECODED = "Promise.all([...document.images].map(img => img.decode().then(() => true, () => false)))"


def blankness(pixels: np.ndarray) -> tuple[float, float]:
    """(standard deviation of the grey levels, fraction of pixels that are not background)."""
    grey = pixels.astype(float).mean(axis=2)
    background = np.median(grey)
    return float(grey.std()), float(np.mean(np.abs(grey - background) > 16))


def synthetic_runner(case, run_dir):
    design, seed = case.geometry.kind, case.geometry.seed
    toy_run(run_dir, design, capacity=CAPACITY[design][seed], gap=GAP[design][seed], nvp_vm_p95=2e9,
            accommodation=0.5)


@pytest.fixture(scope="module")
def browser():
    binary = chromium_binary()
    if binary is None:
        msg = "no Chromium found: install Debian's (scripts/chromium-ci.sh or apt-get install chromium)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(msg + " — CI=true, so this is an error", pytrace=False)
        pytest.skip(msg)
    folder = Path(tempfile.mkdtemp(prefix="fem_electrode_chromium_"))
    try:
        b = Browser(binary, folder / "profile")
        try:
            yield b
        finally:
            b.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("browser") / "cmp"
    paths = compare.compare(validate(TINY), out, runner=synthetic_runner, jobs=1, screenshots=False, seeds=2)
    return paths["html"]


def broken_images(page: dict) -> list[str]:
    return [img["alt"][:60] for img in page["images"]
            if not img["complete"] or img["naturalWidth"] <= 0 or img["naturalHeight"] <= 0]


def test_report_renders_headline_figures_and_folded_metrics(browser, report):
    browser.open(report.as_uri())
    decoded = browser.evaluate(IMAGES_DECODED)  # also waits for any image still decoding
    page = browser.evaluate(PAGE)

    # the title, then "At a glance" as the first section; every other section after it
    outside = [h for h in page["headings"] if not h["inDetails"]]
    assert outside[0]["tag"] == "H1"
    assert outside[1] == {"tag": "H2", "text": "At a glance", "inDetails": False}, outside[:3]

    # the headline table: mean ± interval for both designs and a verdict on every row
    table = page["table"]
    assert table is not None, "no table under 'At a glance'"
    assert table["className"] == "headline"  # the CSS of table.headline applies
    assert table["header"] == ["protocol", "metric", "unit", "infiltrated", "co-sintered", "better"]
    assert len(table["rows"]) >= 3
    for row in table["rows"]:
        assert len(row) == 6, row
        assert INTERVAL.match(row[3]) and INTERVAL.match(row[4]), row
        assert row[5] in VERDICTS, row
    by_metric = {row[1]: row for row in table["rows"]}
    capacity = next(row for name, row in by_metric.items() if "capacity" in name.lower())
    assert capacity[5] == "infiltrated"  # the synthetic intervals separate
    assert capacity[3].startswith(f"{sum(CAPACITY['infiltrated'].values()) / 2:.4g} ±")
    assert "not distinguishable" in {row[5] for row in table["rows"]}  # the polarizations overlap

    # the headline is the first screen: all of it visible without scrolling
    width, height = SCREEN
    assert 0 <= page["glance"]["top"] and table["rect"]["bottom"] <= height, (page["glance"], table["rect"])
    assert 0 < table["rect"]["width"] <= width

    # the key figure follows the headline table inside "At a glance", on the first screen: this
    # one-protocol report has three headline rows, so the table ends near 490 px and the
    # voltage-capacity figure (about 490 px tall at 1100 px page width) starts near 510 px; at least
    # half of it must show without scrolling (its middle near 760 px leaves ~140 px for other
    # fonts and Chromium versions), not merely its top edge
    first = page["firstFigure"]
    assert first is not None and first["inGlance"] and page["glanceFigures"] >= 1, first
    assert first["alt"].startswith("Cell voltage against capacity"), first["alt"]
    assert table["rect"]["bottom"] < first["rect"]["top"] == page["firstFigureTop"]
    assert first["rect"]["top"] + 0.5 * first["rect"]["height"] <= height, (first["rect"], table["rect"])

    # more figures follow, and every image in the page is decoded and laid out
    assert page["figuresAfterGlance"] >= 3
    assert broken_images(page) == [] and all(decoded)
    assert len(page["images"]) == report.read_text().count("data:image/png;base64,")
    assert all(img["width"] > 0 for img in page["images"] if not img["inDetails"])

    # the full metric list: one closed <details>, its tables not rendered until opened
    assert len(page["details"]) == 1
    folded = page["details"][0]
    assert folded["summary"] == "All metrics" and not folded["open"]
    assert "every metric of both electrodes" in folded["text"]
    assert folded["tables"] >= 1 and folded["shownTables"] == 0 and folded["summaryShown"]

    # the first screen is not blank
    pixels = browser.screenshot()
    assert pixels.shape[:2] == (height, width)
    spread, ink = blankness(pixels)
    assert spread > 10 and ink > 0.01, (spread, ink)


def test_the_checks_catch_a_broken_image_and_a_blank_page(browser, report, tmp_path):
    """Control: the same report with one figure's PNG data corrupted, and an empty page."""
    html = report.read_text()
    start = html.index("data:image/png;base64,") + len("data:image/png;base64,")
    broken = tmp_path / "broken.html"
    broken.write_text(html[:start] + "AAAA" + html[start + 4:])  # the PNG signature destroyed
    browser.open(broken.as_uri())
    assert browser.evaluate(IMAGES_DECODED).count(False) == 1
    assert len(broken_images(browser.evaluate(PAGE))) == 1

    blank = tmp_path / "blank.html"
    blank.write_text("<!DOCTYPE html><html><body></body></html>")
    browser.open(blank.as_uri())
    spread, ink = blankness(browser.screenshot())
    assert spread < 1 and ink == 0
