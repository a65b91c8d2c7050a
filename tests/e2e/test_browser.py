"""End to end in a real browser: Debian's Chromium, driven by Playwright for Python.

Playwright's own browser download is never used: the test launches /usr/bin/chromium (CI installs
it with `apt-get install -y chromium`) and is skipped when it is missing, unless
ELPIPS_REQUIRE_BROWSER=1 (as in CI), which makes that a failure. The browser is headless
with a fresh profile; every request it makes to a host other than the app is aborted and recorded,
and the test fails if there was any. Screenshots go to ``test-artifacts/`` at the repository root.
"""

import os
import re

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"

from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest
from PIL import Image

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
TIMEOUT_MS = 120_000


@pytest.fixture(scope="module")
def app_url(outbound_attempts, tmp_path_factory, free_port):
    from app.ui import build_app, launch_options

    outputs = tmp_path_factory.mktemp("browser-outputs")
    demo = build_app(outputs, "cpu")
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=free_port(), quiet=True,
                **launch_options(outputs))
    try:
        yield demo.local_url
    finally:
        demo.close()


@pytest.fixture(scope="module")
def browser_page(tmp_path_factory):
    """A page in a fresh headless Chromium profile, and the list of off-machine requests it tried."""
    if not CHROMIUM.exists():
        message = "Debian's Chromium is not installed (apt-get install -y chromium)"
        if os.environ.get("ELPIPS_REQUIRE_BROWSER") == "1":  # CI sets this: there a missing browser is a failure
            pytest.fail(message)
        pytest.skip(message)
    sync_api = pytest.importorskip("playwright.sync_api")
    blocked: list[str] = []

    def only_loopback(route):
        if urlparse(route.request.url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
        )
        context.route("**/*", only_loopback)
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        try:
            yield page, blocked
        finally:
            context.close()


@pytest.fixture(scope="module")
def upload_images(tmp_path_factory) -> tuple[Path, Path]:
    """Two 48x48 images of our own: a dark square on light grey, and its mirror image."""
    folder = tmp_path_factory.mktemp("uploads")
    pixels = np.full((48, 48, 3), 200, dtype=np.uint8)
    pixels[12:30, 6:24] = (30, 60, 160)
    first, second = folder / "square_left.png", folder / "square_right.png"
    Image.fromarray(pixels).save(first)
    Image.fromarray(pixels[:, ::-1].copy()).save(second)
    return first, second


def _set_number(page, elem_id: str, value) -> None:
    """Type into the number box of a Gradio slider (or number) and commit it."""
    box = page.locator(f"#{elem_id} input[type=number]").first
    box.fill(str(value))
    box.press("Enter")


def _flat_pngs(folder: Path, stem: str, count: int, step: int) -> list[str]:
    """`count` flat 32 px grey PNGs `stem0.png`, ... of levels 0, step, 2*step, ... in `folder`."""
    paths = []
    for k in range(count):
        path = folder / f"{stem}{k}.png"
        Image.fromarray(np.full((32, 32, 3), step * k, dtype=np.uint8)).save(path)
        paths.append(str(path))
    return paths


def _choose(page, elem_id: str, option: str) -> None:
    page.locator(f"#{elem_id} input").first.click()
    page.get_by_role("option", name=option, exact=True).click()


def _quick_l2_geodesic(page, frames: int, steps: int) -> None:
    """Set the Geodesic tab for a quick run: 32 px, L2, the dissolve start (which the run refines for its
    ``steps``; after a warp start refine "auto" runs none)."""
    _set_number(page, "geodesic-size", 32)
    _set_number(page, "geodesic-frames", frames)
    _set_number(page, "geodesic-steps", steps)
    _choose(page, "geodesic-distance", "l2")
    page.locator("#geodesic-motion input").first.click()
    page.get_by_role("option", name=re.compile(r"^none: ")).click()


def test_geodesic_and_distance_in_chromium(app_url, browser_page, upload_images):
    page, blocked = browser_page
    ARTIFACTS.mkdir(exist_ok=True)
    page.goto(app_url)

    # -------- a tiny geodesic from two uploaded images
    page.get_by_role("tab", name="Geodesic").click()
    for elem_id, path in zip(("geodesic-a", "geodesic-b"), upload_images):
        page.locator(f"#{elem_id} input[type=file]").set_input_files(str(path))
    page.wait_for_function(
        "() => ['geodesic-a', 'geodesic-b'].every(id => "
        "[...document.querySelectorAll(`#${id} img`)].some(img => img.src.includes('square_')))"
    )
    _quick_l2_geodesic(page, frames=4, steps=20)
    assert page.locator("#geodesic-cancel").is_disabled()  # nothing runs: Cancel is inactive
    page.locator("#geodesic-run").click()

    page.wait_for_function("() => document.querySelectorAll('#geodesic-gallery img').length >= 4")
    page.wait_for_function(
        "() => { const v = document.querySelector('#geodesic-video video');"
        " return v && v.readyState >= 1 && v.duration > 0; }"
    )
    duration, loops = page.evaluate(
        "() => { const v = document.querySelector('#geodesic-video video'); return [v.duration, v.loop]; }")
    assert duration > 0 and loops  # 4 frames at 8 per second last half a second: the video loops
    assert "Done: 20 steps" in page.locator("#geodesic-status").inner_text()
    assert page.locator("#distance-stop").is_disabled()
    # the results start in view, above the examples, without scrolling (a 1280x900 window)
    page.evaluate("() => window.scrollTo(0, 0)")
    boxes = page.evaluate(
        "() => Object.fromEntries(['geodesic-status', 'geodesic-live', 'geodesic-examples'].map(id => "
        "[id, document.getElementById(id).getBoundingClientRect().toJSON()]))")
    for elem_id in ("geodesic-status", "geodesic-live"):
        assert 0 <= boxes[elem_id]["top"] and boxes[elem_id]["bottom"] <= 900, (elem_id, boxes)
        assert boxes[elem_id]["bottom"] < boxes["geodesic-examples"]["top"], boxes
    page.screenshot(path=str(ARTIFACTS / "browser-geodesic.png"), full_page=True)

    # -------- a distance between the bundled examples (the tab's defaults)
    page.get_by_role("tab", name="Distance").click()
    _choose(page, "distance-metric", "lpips_vgg")
    page.locator("#distance-run").click()
    page.wait_for_function(
        "() => (document.querySelector('#distance-answer')?.innerText || '').includes('Distance:')"
    )
    answer = page.locator("#distance-answer").inner_text()
    value = float(answer.split("Distance:")[1].split()[0])
    assert value > 0
    # the difference map beside the images, redrawn over image A when the overlay is switched on
    page.wait_for_function("() => document.querySelector('#distance-map img')?.naturalWidth > 0")
    plain = page.locator("#distance-map img").get_attribute("src")
    page.locator("#distance-overlay input").check()
    page.wait_for_function(
        "(before) => { const img = document.querySelector('#distance-map img');"
        " return img && img.src !== before && img.naturalWidth > 0; }", arg=plain
    )
    page.screenshot(path=str(ARTIFACTS / "browser-distance.png"), full_page=True)
    print(f"screenshots: {ARTIFACTS / 'browser-geodesic.png'}, {ARTIFACTS / 'browser-distance.png'}")

    assert blocked == [], f"the page tried to reach other hosts: {blocked}"


def test_robustness_attack_in_chromium(app_url, browser_page):
    """The Robustness tab's defaults (the bundled examples), small: the attack runs, the attacked image and
    its magnified perturbation show, and the table lists every metric."""
    page, blocked = browser_page
    ARTIFACTS.mkdir(exist_ok=True)
    page.goto(app_url)
    page.get_by_role("tab", name="Robustness").click()
    _set_number(page, "robustness-size", 32)
    _set_number(page, "robustness-steps", 5)
    page.locator("#robustness-run").click()
    page.wait_for_function(
        "() => (document.querySelector('#robustness-status')?.innerText || '').includes('Done: 5 steps')"
    )
    table = page.locator("#robustness-table").inner_text()
    assert "lpips_vgg *" in table and "elpips_vgg" in table and "l2" in table and "PSNR" in table
    page.screenshot(path=str(ARTIFACTS / "browser-robustness.png"), full_page=True)
    assert blocked == [], f"the page tried to reach other hosts: {blocked}"


def test_errors_stay_in_the_status_area_and_the_average_keeps_six_files(app_url, browser_page, tmp_path):
    """Uploads are checked when uploaded; a broken upload's error is still readable in the tab after the toast has
    gone, naming the user's file; the Average tab's input thumbnails show whole, its Run button and live picture
    are in view; two uploaded photos replace its examples; seven files (six weight sliders) keep the first six
    and say which one was left out."""
    page, blocked = browser_page
    page.goto(app_url)
    page.get_by_role("tab", name="Geodesic").click()
    dot = tmp_path / "dot.png"
    Image.new("RGB", (1, 1)).save(dot)
    page.locator("#geodesic-b input[type=file]").set_input_files(str(dot))
    # flagged when uploaded, before Run is pressed
    page.wait_for_function(
        "() => (document.querySelector('#geodesic-status')?.innerText || '').includes('at least 16 px')")
    assert "End (B): dot.png is 1x1 pixels" in page.locator("#geodesic-status").inner_text()
    broken = tmp_path / "holiday.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not an image")
    page.locator("#geodesic-a input[type=file]").set_input_files(str(broken))
    status = page.locator("#geodesic-status")
    page.wait_for_function(
        "() => (document.querySelector('#geodesic-status')?.innerText || '').includes('could not read')")
    text = status.inner_text()
    assert "Error: Start (A): could not read holiday.png as an image" in text and "/tmp" not in text, text
    # no broken-image icon: the file that is no image is taken out of the input
    page.wait_for_function("() => document.querySelectorAll('#geodesic-a img').length === 0")
    page.locator("#geodesic-run").click()
    page.wait_for_selector(".toast-title")
    title = page.locator(".toast-title").first.inner_text()
    assert "Error" in title and "Warning" not in title, title  # the toast of an error is titled so
    page.wait_for_selector(".toast-title", state="detached")  # the toast has gone (after its 10 s)
    text = status.inner_text()
    assert status.is_visible() and "Error: Geodesic: give both a start and an end image." in text, text
    assert page.locator("#geodesic-status .error").count() == 0

    page.get_by_role("tab", name="Average").click()
    # the input thumbnails show whole: inside the gallery's box, scaled to fit rather than cropped
    page.wait_for_function("() => document.querySelectorAll('#average-preview img').length === 2")
    thumbnails = page.evaluate(
        "() => { const g = document.getElementById('average-preview').getBoundingClientRect();"
        " return [...document.querySelectorAll('#average-preview img')].map(img => {"
        " const r = img.getBoundingClientRect(); let clip = g;"
        " for (let e = img.parentElement; e && e.id !== 'average-preview'; e = e.parentElement)"
        "   if (getComputedStyle(e).overflow !== 'visible') { clip = e.getBoundingClientRect(); break; }"
        " return {fit: getComputedStyle(img).objectFit, inside: r.top >= clip.top - 1 && r.bottom <= clip.bottom + 1"
        " && r.left >= clip.left - 1 && r.right <= clip.right + 1 && r.bottom <= g.bottom + 1}; }); }")
    assert thumbnails and all(t["fit"] == "contain" and t["inside"] for t in thumbnails), thumbnails
    # the live picture and the status beside the Run button are in view at 1280x900, without scrolling
    assert page.evaluate("() => document.getElementById('average-live').getBoundingClientRect().bottom") <= 900
    assert page.evaluate("() => document.getElementById('average-run').getBoundingClientRect().bottom") <= 900
    # two uploaded photos replace the two example textures: exactly those two are averaged
    page.locator("#average-files input[type=file]").set_input_files(_flat_pngs(tmp_path, "photo", 2, 90))
    page.wait_for_function(
        "() => { const plan = document.querySelector('#average-plan')?.innerText || '';"
        " return plan.includes('photo1.png') && plan.includes('these 2 images'); }")
    plan = page.locator("#average-plan").inner_text()
    assert "these 2 images" in plan and "photo0.png" in plan and "texture" not in plan, plan
    page.wait_for_function("() => document.querySelector('#average-files').innerText.split('.png').length - 1 === 2")
    page.wait_for_function("() => document.querySelectorAll('#average-preview img').length === 2")
    page.goto(app_url)  # afresh: the examples again
    page.get_by_role("tab", name="Average").click()
    page.locator("#average-files input[type=file]").set_input_files(_flat_pngs(tmp_path, "shade", 7, 30))
    page.wait_for_function(
        "() => (document.querySelector('#average-status')?.innerText || '').includes('at most 6 images')")
    # the upload replaces the three example images; of the seven, the first six are kept
    status = page.locator("#average-status").inner_text()
    assert "replace the example images" in status and "left out shade6.png." in status, status
    page.wait_for_function("() => document.querySelector('#average-files').innerText.split('.png').length - 1 === 6")
    page.screenshot(path=str(ARTIFACTS / "browser-errors.png"), full_page=True)
    assert blocked == [], f"the page tried to reach other hosts: {blocked}"


#: Records every change of a button's `disabled` state, from now on, in ``window.__states[elem_id]``.
WATCH_BUTTON = """(id) => { const button = document.querySelector(`#${id}`);
  window.__states = window.__states || {}; const states = window.__states[id] = [];
  new MutationObserver(() => states.push(button.disabled))
    .observe(button, {attributes: true, attributeFilter: ['disabled']}); }"""


def _press_and_watch(page, run: str, stop: str, during=None) -> None:
    """Press `run` and wait for the run's events: `stop` turned active (and `run` inactive) while it goes on, then
    `stop` inactive and `run` active again once it has ended. `during(page)` acts while it runs (a Cancel)."""
    for elem_id in (run, stop):
        page.evaluate(WATCH_BUTTON, elem_id)
    page.locator(f"#{run}").click()
    page.wait_for_function(f"() => window.__states['{stop}'].includes(false)")  # active while running
    if during is not None:
        during(page)
    page.wait_for_function(f"() => {{ const s = window.__states['{stop}'];"
                           " return s.indexOf(false) >= 0 && s.lastIndexOf(true) > s.indexOf(false); }")
    page.wait_for_function(f"() => {{ const s = window.__states['{run}'];"
                           " return s.indexOf(true) >= 0 && s.lastIndexOf(false) > s.indexOf(true); }")
    # the last word is the end of the run: Stop inactive, Run active
    assert page.locator(f"#{stop}").is_disabled() and page.locator(f"#{run}").is_enabled()


def test_stop_and_cancel_are_active_while_a_run_goes_on_and_only_then(app_url, browser_page, tmp_path):
    """Issue 24 item 12: Stop and Cancel were active with nothing running, and after a run Cancel sometimes stayed
    active (two listeners on the click raced). Each press goes through the same events: Cancel active and Run
    inactive while the run goes on, then back, for a run cancelled half way, a distance, and runs refused at once
    (the quickest, where the race showed)."""
    page, blocked = browser_page
    page.goto(app_url)
    page.get_by_role("tab", name="Geodesic").click()
    assert page.locator("#geodesic-cancel").is_disabled() and page.locator("#geodesic-run").is_enabled()
    _quick_l2_geodesic(page, frames=3, steps=5000)

    def cancel_after_a_step(page):
        page.wait_for_function(
            "() => /Step \\d+\\/5000/.test(document.querySelector('#geodesic-status')?.innerText || '')")
        page.locator("#geodesic-cancel").click()
        page.wait_for_function(
            "() => (document.querySelector('#geodesic-status')?.innerText || '').includes('Cancelled at step')")

    _press_and_watch(page, "geodesic-run", "geodesic-cancel", during=cancel_after_a_step)

    page.get_by_role("tab", name="Average").click()
    page.locator("#average-files input[type=file]").set_input_files(_flat_pngs(tmp_path, "lonely", 1, 50))
    page.wait_for_function(
        "() => (document.querySelector('#average-plan')?.innerText || '').includes('upload 2 to')")
    for _ in range(3):  # refused at once: the run's end comes right after its start
        _press_and_watch(page, "average-run", "average-cancel")
        assert "upload at least 2 images" in page.locator("#average-status").inner_text()

    page.get_by_role("tab", name="Distance").click()
    _choose(page, "distance-metric", "alex")
    _press_and_watch(page, "distance-run", "distance-stop")
    assert "Distance:" in page.locator("#distance-answer").inner_text()
    assert blocked == [], f"the page tried to reach other hosts: {blocked}"


def _saved_inputs(page, status_id: str) -> dict[str, Path]:
    """The inputs a finished run saved (what it measured), by the name of the upload, from its status and folder."""
    import json

    status = page.locator(f"#{status_id}").inner_text()
    folder = Path(re.search(r"Results are saved in (\S+?)\.?\s", status).group(1).strip("`"))
    names = json.loads((folder / "settings.json").read_text())["inputs"]
    return {name: folder / f"input_{k}.png" for k, name in enumerate(names)}


def _assert_measured_as_loaded(saved: dict[str, Path], originals: list[Path]) -> None:
    """Each run input, saved as an 8-bit PNG, is what `elpips.load_image` reads from the uploaded file (to 8 bits)."""
    import elpips

    assert sorted(saved) == sorted(path.name for path in originals), saved
    for original in originals:
        measured, expected = elpips.load_image(saved[original.name]), elpips.load_image(original)
        assert float((measured - expected).abs().max()) <= 0.5 / 255 + 1e-6, original.name


def _wait_for_pictures(page, selector: str, names: list[str]) -> None:
    """Wait until the images under `selector` include one drawn by the browser (naturalWidth > 0) for each name: a
    file the browser cannot display would be a broken icon of width 0."""
    page.wait_for_function(
        "([selector, names]) => names.every(name => [...document.querySelectorAll(`${selector} img`)]"
        ".some(img => img.src.includes(name) && img.complete && img.naturalWidth > 0))", arg=[selector, names])


def test_a_16_bit_ramp_and_an_rgba_upload_are_measured_as_the_loader_reads_them(app_url, browser_page, tmp_path):
    """Issue 24's Done-when: a 16-bit grey ramp and an RGBA image uploaded in the browser are measured as the
    library's loader reads the files (the run saves what it measured as its inputs), not as an 8-bit RGB
    conversion (which clipped the ramp to 99.6 % white and measured the colour under transparent pixels)."""
    import elpips

    page, blocked = browser_page
    ramp, square = tmp_path / "ramp16.png", tmp_path / "square_rgba.png"
    Image.fromarray(np.tile(np.linspace(0, 65535, 32).astype(np.uint16), (32, 1))).save(ramp)
    Image.fromarray(_transparent_square(), mode="RGBA").save(square)
    page.goto(app_url)
    page.get_by_role("tab", name="Geodesic").click()
    for elem_id, path in (("geodesic-a", ramp), ("geodesic-b", square)):
        page.locator(f"#{elem_id} input[type=file]").set_input_files(str(path))
    _wait_for_pictures(page, "#geodesic-a", ["ramp16"])
    _wait_for_pictures(page, "#geodesic-b", ["square_rgba"])
    _quick_l2_geodesic(page, frames=3, steps=10)
    page.locator("#geodesic-run").click()
    page.wait_for_function(
        "() => (document.querySelector('#geodesic-status')?.innerText || '').includes('Done: 10 steps')")
    saved = _saved_inputs(page, "geodesic-status")
    _assert_measured_as_loaded(saved, [ramp, square])
    assert float(elpips.load_image(saved["ramp16.png"]).mean()) == pytest.approx(0.5, abs=0.01)  # not white
    note = page.locator("#geodesic-note").inner_text()
    assert "ramp16.png: 32x32, used as is, grey levels copied into red, green and blue" in note, note
    assert "transparency composited onto white" in note, note
    assert blocked == [], f"the page tried to reach other hosts: {blocked}"


def _transparent_square(side: int = 32) -> np.ndarray:
    """RGBA pixels: red stored under the transparent pixels, an opaque blue square in the middle."""
    rgba = np.zeros((side, side, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[side // 4: 3 * side // 4, side // 4: 3 * side // 4] = (0, 0, 255, 255)
    return rgba


@pytest.fixture(scope="module")
def tiff_uploads(tmp_path_factory) -> list[Path]:
    """32 px TIFFs: 8-bit grey, 8-bit RGB, 16-bit grey, 16-bit RGB (both with detail finer than an 8-bit level:
    read at 8 bits, they measure other distances) and 8-bit RGBA with red under its transparent pixels."""
    import imageio.v3 as iio

    folder = tmp_path_factory.mktemp("tiffs")
    y, x = np.mgrid[0:32, 0:32] / 31.0
    fine = 3.0 / 255 * np.sin(2 * np.pi * 4 * (x + y))
    rgb = np.clip(np.stack([0.25 + 0.5 * x + fine, 0.5 + fine, 0.75 - 0.5 * y + fine], -1), 0, 1)
    pixels = {"grey8": np.round(255 * rgb[..., 0]).astype(np.uint8), "rgb8": np.round(255 * rgb).astype(np.uint8),
              "grey16": np.round(65535 * rgb[..., 0]).astype(np.uint16),
              "rgb16": np.round(65535 * rgb).astype(np.uint16), "rgba8": _transparent_square()}
    paths = []
    for name, array in pixels.items():
        paths.append(folder / f"{name}.tif")
        iio.imwrite(paths[-1], array)
    return paths


def test_tiff_uploads_show_and_are_measured_as_the_loader_reads_them(app_url, browser_page, tiff_uploads, tmp_path):
    """Browsers do not display TIFF: the Distance, Geodesic and Average tabs show the app's own picture of each TIFF
    upload (8- and 16-bit, grey and RGB, with alpha), say so, and measure the file as `elpips.load_image` reads it:
    the distance equals the library's on the loaded files (16-bit detail included), the runs' saved inputs equal
    the loaded files to 8 bits, and the notes name the uploaded files."""
    import torch

    import elpips
    from geometry.engine.distances import DistanceFamily

    page, blocked = browser_page
    reference = tmp_path / "reference.png"
    Image.fromarray(np.where(np.arange(32)[None, :, None] < 16, 128, 96).repeat(32, 0).astype(np.uint8)
                    .repeat(3, 2)).save(reference)
    metric = DistanceFamily("lpips_vgg", torch.device("cpu")).at_size((32, 32))
    page.goto(app_url)

    # -------- Distance: each TIFF against one PNG, under the deterministic LPIPS-VGG at the files' own 32 px
    page.get_by_role("tab", name="Distance").click()
    _choose(page, "distance-metric", "lpips_vgg")
    _set_number(page, "distance-samples", 1)
    page.locator("#distance-b input[type=file]").set_input_files(str(reference))
    _wait_for_pictures(page, "#distance-b", ["reference.png"])
    _set_number(page, "distance-size", 32)
    for path in tiff_uploads:
        page.locator("#distance-a input[type=file]").set_input_files(str(path))
        _wait_for_pictures(page, "#distance-a", [f"{path.name}.preview.png"])
        page.wait_for_function("(name) => document.querySelector('#distance-answer').innerText.includes("
                               "`Image A: browsers do not display ${name} (a TIFF file)`)", arg=path.name)
        page.locator("#distance-run").click()
        page.wait_for_function("() => document.querySelector('#distance-answer').innerText.includes('Distance:')")
        answer = page.locator("#distance-answer").inner_text()
        shown = float(answer.split("Distance:")[1].split()[0])
        loaded = elpips.load_image(path)
        expected = float(metric(loaded, elpips.load_image(reference)))
        assert shown == pytest.approx(expected, abs=0.6e-5), (path.name, answer)
        if "16" in path.stem:  # read at 8 bits, the distance would differ in the digits shown
            eight_bits = float(metric(torch.round(loaded * 255) / 255, elpips.load_image(reference)))
            assert abs(eight_bits - expected) > 5e-5, path.name
        assert f"Image A ({path.name}): 32x32, used as is" in answer and ".preview.png" not in answer, answer
    assert "grey levels copied" not in answer and "transparency composited onto white" in answer, answer

    # -------- Geodesic: a 16-bit grey TIFF into an RGBA TIFF
    grey16, rgba8 = (next(p for p in tiff_uploads if p.stem == stem) for stem in ("grey16", "rgba8"))
    page.get_by_role("tab", name="Geodesic").click()
    page.locator("#geodesic-a input[type=file]").set_input_files(str(grey16))
    page.wait_for_function("() => document.querySelector('#geodesic-status').innerText.includes('grey16.tif')")
    page.locator("#geodesic-b input[type=file]").set_input_files(str(rgba8))
    _wait_for_pictures(page, "#geodesic-a", ["grey16.tif.preview.png"])
    _wait_for_pictures(page, "#geodesic-b", ["rgba8.tif.preview.png"])
    status = page.locator("#geodesic-status")
    page.wait_for_function("() => document.querySelector('#geodesic-status').innerText.includes('rgba8.tif')")
    assert "Start (A): browsers do not display grey16.tif" in status.inner_text(), status.inner_text()
    _quick_l2_geodesic(page, frames=3, steps=10)
    page.locator("#geodesic-run").click()
    page.wait_for_function(
        "() => (document.querySelector('#geodesic-status')?.innerText || '').includes('Done: 10 steps')")
    _assert_measured_as_loaded(_saved_inputs(page, "geodesic-status"), [grey16, rgba8])

    # -------- Average: all five TIFFs, their pictures in the gallery, the L2 average (the pixel mean, refined)
    page.get_by_role("tab", name="Average").click()
    page.locator("#average-files input[type=file]").set_input_files([str(path) for path in tiff_uploads])
    _wait_for_pictures(page, "#average-preview", [f"{path.name}.preview.png" for path in tiff_uploads])
    page.wait_for_function("() => document.querySelector('#average-plan').innerText.includes('these 5 images')")
    _choose(page, "average-distance", "l2")
    _set_number(page, "average-size", 32)
    _set_number(page, "average-steps", 10)
    page.locator("#average-run").click()
    page.wait_for_function(
        "() => (document.querySelector('#average-status')?.innerText || '').includes('Done: 10 steps')")
    _assert_measured_as_loaded(_saved_inputs(page, "average-status"), tiff_uploads)
    page.screenshot(path=str(ARTIFACTS / "browser-tiff.png"), full_page=True)
    assert blocked == [], f"the page tried to reach other hosts: {blocked}"


def test_the_default_geodesic_shows_all_its_frames_whole(app_url, browser_page):
    """Issue 24 item 12: the gallery had a fixed height that cut frames 8-9 of the default 10 off. The Geodesic tab's
    defaults (the bundled discs, 10 frames, the warp start kept as it is: seconds on a CPU) end with every frame
    inside the gallery's box."""
    page, blocked = browser_page
    page.goto(app_url)
    page.get_by_role("tab", name="Geodesic").click()
    page.locator("#geodesic-run").click()
    page.wait_for_function(
        "() => (document.querySelector('#geodesic-status')?.innerText || '').includes('Done')")
    page.wait_for_function("() => document.querySelectorAll('#geodesic-gallery img').length === 10")
    page.wait_for_function("() => [...document.querySelectorAll('#geodesic-gallery img')].every(i => i.complete)")
    frames = page.evaluate(
        "() => { const box = document.getElementById('geodesic-gallery').getBoundingClientRect();"
        " return [...document.querySelectorAll('#geodesic-gallery img')].map(img => {"
        " const r = img.getBoundingClientRect();"
        " return r.height > 8 && r.top >= box.top - 1 && r.bottom <= box.bottom + 1 && r.right <= box.right + 1; }); }")
    assert frames == [True] * 10, frames
    assert blocked == [], f"the page tried to reach other hosts: {blocked}"
