"""Look at report.html the way a person would: in a real browser (headless Chromium).

Why the plain `chromium --headless` command line and not Selenium or Playwright: it needs
nothing but the Debian `chromium` package that .ci/run installs — no Python package, no
driver whose version must match the browser, no download (Playwright fetches its own
browser and Selenium Manager looks for drivers online; this machine is offline). Two runs:

1. `--screenshot` of the unmodified page: the PNG must show a rendered page, not a blank.
2. `--dump-dom` of a copy of the page with a probe script appended: after the load event the
   script measures every table and image (layout box, computed style, image decode size,
   and a hit test at its centre after scrolling it into view, which catches elements hidden
   behind others) and writes the figures as JSON into the DOM, which `--dump-dom` prints.
   `--virtual-time-budget` makes Chromium run the page until it is idle before dumping.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from loralab.report import write_report

pytestmark = pytest.mark.browser

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
VIEWPORT = (1280, 900)  # a laptop screen

PROBE = """
<script>
window.addEventListener("load", () => {
  const box = (el) => {
    const r = el.getBoundingClientRect(), cs = getComputedStyle(el);
    // checkVisibility: the platform's own test (display, visibility, opacity, collapsed <details>).
    const shown = el.checkVisibility({checkOpacity: true, checkVisibilityCSS: true});
    el.scrollIntoView({block: "center", inline: "nearest"});
    const c = el.getBoundingClientRect();
    const hit = document.elementFromPoint(c.left + Math.min(c.width / 2, 40), c.top + c.height / 2);
    return {width: r.width, height: r.height, right: r.right, display: cs.display, visibility: cs.visibility,
            opacity: Number(cs.opacity), shown, hit: !!hit && (hit === el || el.contains(hit))};
  };
  const out = {
    title: document.title, innerWidth: window.innerWidth,
    scrollWidth: document.documentElement.scrollWidth,
    text: document.body.innerText,
    tables: [...document.querySelectorAll("table")].map((t) => ({id: t.id, rows: t.rows.length, ...box(t)})),
    images: [...document.querySelectorAll("img")].map((i) => ({alt: i.alt, complete: i.complete,
      naturalWidth: i.naturalWidth, naturalHeight: i.naturalHeight, ...box(i)})),
  };
  const pre = document.createElement("pre");
  pre.id = "probe";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>
"""


def _chromium(profile: Path, *args: str) -> subprocess.CompletedProcess:
    # The network is closed here: background networking, component updates and sync only
    # produce timeouts and noise, so they are off; a fresh profile keeps runs independent.
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--disable-dev-shm-usage", "--hide-scrollbars", f"--user-data-dir={profile}",
           f"--window-size={VIEWPORT[0]},{VIEWPORT[1]}", *args]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, f"chromium failed ({res.returncode}): {res.stderr[-2000:]}"
    return res


def _probe(page: Path, tmp: Path) -> dict:
    probe = tmp / "probe.html"
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    res = _chromium(tmp / "profile-dom", "--virtual-time-budget=15000", "--dump-dom", probe.as_uri())
    m = re.search(r'<pre id="probe">(.*?)</pre>', res.stdout, re.S)
    assert m, f"the probe did not run; DOM tail: {res.stdout[-500:]}"
    return json.loads(html.unescape(m.group(1)))


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Path:
    if CHROMIUM is None:
        pytest.skip("no headless Chromium installed (apt-get install chromium)")
    from test_report import write_fake_study  # sibling module: the hand-built two-run study

    study = write_fake_study(tmp_path_factory.mktemp("browser") / "quickstart")
    return write_report(study)[1]


def test_tables_and_images_are_visible(page, tmp_path):
    dom = _probe(page, tmp_path)
    assert dom["title"] == "Study report: quickstart"
    tables = {t["id"]: t for t in dom["tables"]}
    visible = ["summary-table", "significance-table", "config-diff", "training-table", "checkpoints-r8",
               "checkpoints-r16", "problems-table", "environment-table"]
    for tid in visible:
        t = tables[tid]
        assert t["rows"] >= 2 and t["width"] > 100 and t["height"] > 20, (tid, t)
        assert t["display"] == "table" and t["visibility"] == "visible" and t["shown"], (tid, t)
        assert t["hit"], f"{tid} is covered by another element"
    # The settings all runs share are collapsed in a <details> until the reader opens it.
    shared = tables["config-shared"]
    assert shared["rows"] > 30 and not shared["shown"] and not shared["hit"]
    assert len(dom["images"]) == 3
    for img in dom["images"]:
        assert img["complete"] and img["naturalWidth"] > 300 and img["naturalHeight"] > 200, img
        assert img["width"] > 300 and img["shown"] and img["hit"], img
        assert img["right"] <= dom["innerWidth"], f"image overflows the viewport: {img}"
    # Nothing forces sideways scrolling of the whole page on a laptop screen (wide tables scroll in their box).
    assert dom["scrollWidth"] <= dom["innerWidth"]
    for words in ("Best checkpoint per run", "not distinguishable from noise at 0.05", "r16 solves more"):
        assert words in dom["text"]


def test_screenshot_is_a_rendered_page(page, tmp_path):
    shot = tmp_path / "report.png"
    _chromium(tmp_path / "profile-shot", f"--screenshot={shot}", page.as_uri())
    import numpy as np
    from PIL import Image  # Pillow comes with matplotlib

    im = Image.open(shot).convert("RGB")
    assert im.size == VIEWPORT
    rgb = np.asarray(im, dtype=np.int32)  # (H, W, 3)
    ink = float((rgb.sum(axis=2) < 600).mean())  # share of pixels clearly darker than white
    assert 0.01 < ink < 0.6, f"screenshot looks blank or broken: {ink:.3f} of pixels are ink"
    assert len(np.unique(rgb.reshape(-1, 3), axis=0)) > 50  # text, shading and links in several colours
