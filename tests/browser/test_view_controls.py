"""View controls on the served Explore page in real Chromium (``tdw serve``, the shared UI
store): clicking a stored neuron's row of the cluster heatmap shows that neuron's activation
map and brings it into sight, a neuron that is not stored says so, and a decimal threshold
typed beside the cluster heatmap redraws it. The page must log no console error and load
nothing from outside 127.0.0.1. A picture of both changed views lands in ``test-artifacts/``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from headless import ARTIFACTS, free_port, guarded_page, launched, poll

pytestmark = pytest.mark.slow

PROBE_JS = (Path(__file__).parents[1] / "bokeh_probe.js").read_text()

READ_IMAGE_JS = """
(name) => {
  const fig = tdwProbe.byName(name);
  const data = tdwProbe.plain(fig.renderers[0].data_source.data);
  return Array.from(data.image[0], (v) => (Number.isNaN(v) ? null : v));
}
"""

# Whether a dropdown shows the entry named `label` (Panel's model: options are [value, label]).
SHOWS_JS = """
(label) => tdwProbe.ofType("Select").some((s) => (s.options || []).some(
  (o) => Array.isArray(o) && o[1] === label && String(o[0]) === String(s.value)))
"""

# Zoom the heatmap onto a few rows around `row` (as the box-zoom tool would) and give the
# page coordinates of the row's middle, once the zoom is drawn.
ROW_XY_JS = """
async (row) => {
  const fig = tdwProbe.byName("view:neuron_freq_clusters");
  const view = tdwProbe.viewOf(fig);
  for (const wait of [200, 100]) {  // again, should a smooth scroll still be under way
    view.el.scrollIntoView({block: "center"});
    await new Promise((r) => setTimeout(r, wait));
  }
  fig.y_range.setv({start: row - 3, end: row + 4});
  await new Promise((r) => setTimeout(r, 300));
  const x = (fig.x_range.start + fig.x_range.end) / 2;
  const box = view.canvas_view.el.getBoundingClientRect();
  return {x: box.left + view.frame.x_scale.compute(x),
          y: box.top + view.frame.y_scale.compute(row + 0.5)};
}
"""


def _click_row(page, row: int) -> None:
    where = page.evaluate(ROW_XY_JS, row)
    page.mouse.click(where["x"], where["y"])


def _snap(page, name: str) -> tuple[np.ndarray, str]:
    """A screenshot of the card of figure ``name`` (its widgets above it) as an array."""
    from io import BytesIO

    from PIL import Image

    box = page.evaluate("""(name) => {
      const el = tdwProbe.viewOf(tdwProbe.byName(name)).el;
      el.scrollIntoView({block: "center"});
      const r = el.getBoundingClientRect();
      return {x: r.left, y: r.top, width: r.width, height: r.height};
    }""", name)
    page.wait_for_timeout(300)
    top = max(box["y"] - 110, 0)
    clip = {"x": max(box["x"] - 10, 0), "y": top, "width": box["width"] + 20,
            "height": box["y"] + box["height"] + 10 - top}
    return np.asarray(Image.open(BytesIO(page.screenshot(clip=clip))).convert("RGB")), name


@pytest.fixture(scope="module")
def page_of(ui_store):
    """Serve the UI store; yield a function opening the Explore page of a variant."""
    from tdw.serve import ServeConfig, serve

    root, _ = ui_store
    with serve(ServeConfig(store=root, port=free_port(), preheat=False), timeout=120) as srv, \
            launched() as browser:
        def open_page(vid: str):
            page, guard = guarded_page(browser)
            url = srv.page("explore.ipynb")
            page.goto(f"{url}{'&' if '?' in url else '?'}variant={vid}")
            page.wait_for_function("() => window.Bokeh && Bokeh.documents.length > 0",
                                   timeout=120_000)
            page.add_script_tag(content=PROBE_JS)
            page.wait_for_function("() => tdwProbe.byName('view:neuron_activations') && "
                                   "tdwProbe.byName('view:neuron_freq_clusters') && "
                                   "tdwProbe.figures().length >= 10", timeout=120_000)
            page.wait_for_timeout(500)
            return page, guard
        yield open_page


def test_a_click_on_a_neuron_opens_its_map_and_a_decimal_threshold_redraws(ui_store, page_of):
    from PIL import Image
    from tdw.families.modulo_addition_1l.cluster_views import cluster_order

    from tdw.explore.variant import Variant

    root, ids = ui_store
    variant = Variant(ids[0], root)
    last = variant.epochs[-1]  # the page opens there
    clusters = variant.artifact("neuron_freq_clusters", last)
    stored = variant.artifact("neuron_activations", last)
    rows = cluster_order(clusters["fraction"], clusters["dominant"], 0.0)  # bottom up
    slot = 3  # the page shows slot 0 first: another one must change the map
    neuron = int(stored["neurons"][slot])
    row = int(np.flatnonzero(rows == neuron)[0])

    page, guard = page_of(ids[0])
    activation = "view:neuron_activations"
    assert not page.evaluate("(n) => tdwProbe.onScreen(tdwProbe.byName(n))", activation)
    before = page.evaluate(READ_IMAGE_JS, activation)
    _click_row(page, row)
    want = stored["maps"][slot].astype(np.float32).ravel().tolist()
    assert want != before
    assert poll(lambda: page.evaluate(READ_IMAGE_JS, activation) == want, timeout=20), \
        "the activation map did not change to the clicked neuron"
    label = f"neuron {neuron}"  # the dropdown names the MLP neuron, not the slot
    assert poll(lambda: page.evaluate(SHOWS_JS, label)), "the dropdown does not name it"
    assert poll(lambda: page.evaluate("(n) => tdwProbe.onScreen(tdwProbe.byName(n))",
                                      activation), timeout=10), "the map was not scrolled to"
    assert f"{label}: shown in" in page.evaluate("tdwProbe.text()")

    others = [r for r in (row - 1, row + 1, row - 2, row + 2)
              if 0 <= r < rows.size and rows[r] not in stored["neurons"]]
    _click_row(page, others[0])
    missing = f"neuron {int(rows[others[0]])} has no stored activation map"
    assert poll(lambda: missing in page.evaluate("tdwProbe.text()"), timeout=20)
    assert page.evaluate(READ_IMAGE_JS, activation) == want  # the map stays

    top = clusters["fraction"].max(axis=1).astype(np.float64)
    share = float(f"{np.quantile(top, 0.4):.2f}")  # a decimal that greys some rows
    below = int((top < share).sum())
    assert 0 < below < top.size
    box = page.locator(".tdw-view-control-neuron_freq_clusters input")
    box.fill(f"{share:.2f}")
    box.press("Enter")
    n_freq = clusters["fraction"].shape[1]

    def grey_rows() -> int:
        image = page.evaluate(READ_IMAGE_JS, "view:neuron_freq_clusters")
        return sum(v is None for v in image) // n_freq
    assert poll(lambda: grey_rows() == below, timeout=20), (grey_rows(), below, share)

    page.mouse.move(0, 0)  # no hover tooltip in the picture
    shots = [_snap(page, "view:neuron_freq_clusters"), _snap(page, activation)]
    width = max(s.shape[1] for s, _ in shots)
    stacked = np.concatenate([np.pad(s, ((0, 10), (0, width - s.shape[1]), (0, 0)),
                                     constant_values=255) for s, _ in shots])
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    Image.fromarray(stacked).save(ARTIFACTS / "view-controls.png")
    guard.check()
    page.close()
