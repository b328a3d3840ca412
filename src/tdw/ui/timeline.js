// Checkpoint timeline: an anywidget front end (plain ES module, no imports, nothing fetched).
//
// Draws every checkpoint epoch as a tick on a horizontal strip, the detected "transition" epoch as a
// red line, and the current checkpoint as a blue handle. Click or drag to pick the nearest
// checkpoint; Left/Right/Home/End step through checkpoints when the strip has focus.
//
// Traits (see timeline.py): epochs (increasing ints), value (int), transition (int|null),
// scale ("linear"|"log"; log means log10(1 + epoch)), caption (bool: a line above the strip
// naming the current checkpoint, rewritten in place on every move), unit (what a value is
// called: "epoch" unless e.g. "epochs since transition"), notes (strings, one per epoch,
// that the caption gives instead of "checkpoint i of n" when present).
//
// Stable hooks for tests: .tdw-timeline-marker[data-epoch], .tdw-timeline-current[data-epoch],
// .tdw-timeline-transition[data-epoch], .tdw-timeline-tooltip.

const SVG_NS = "http://www.w3.org/2000/svg";
const PAD_X = 18; // room for the handle and for axis labels at the ends
const CONTENT_H = 62; // height of the drawing; centred vertically in taller containers
const MIN_LABEL_GAP = 46; // px between axis labels
const CAPTION_H = 22; // room above the drawing for the caption, when there is one

const CSS = `
.tdw-timeline {
  position: relative; width: 100%; height: 100%; outline: none; user-select: none;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  border-radius: 6px;
}
.tdw-timeline:focus-visible { box-shadow: 0 0 0 2px rgba(37, 99, 235, 0.35); }
.tdw-timeline svg { display: block; width: 100%; cursor: pointer;
  touch-action: none; overflow: visible; }
.tdw-timeline-track { stroke: #d1d5db; stroke-width: 2; stroke-linecap: round; }
.tdw-timeline-progress { stroke: #93b4f5; stroke-width: 2; stroke-linecap: round; }
.tdw-timeline-marker { fill: #374151; }
.tdw-timeline-axis-tick { stroke: #d1d5db; stroke-width: 1; }
.tdw-timeline-axis-label { fill: #6b7280; font-size: 10px; }
.tdw-timeline-transition line { stroke: #dc2626; stroke-width: 1.5; }
.tdw-timeline-transition text { fill: #dc2626; font-size: 10px; font-weight: 600; }
.tdw-timeline-hover { fill: none; stroke: #2563eb; stroke-opacity: 0.45; stroke-width: 1.5; }
.tdw-timeline-current { fill: #2563eb; stroke: #ffffff; stroke-width: 2;
  filter: drop-shadow(0 1px 1px rgba(0, 0, 0, 0.25)); }
.tdw-timeline:focus-visible .tdw-timeline-current { stroke: #bfdbfe; }
.tdw-timeline-empty { fill: #9ca3af; font-size: 11px; }
.tdw-timeline-caption { position: absolute; left: 10px; top: 0; font-size: 13px;
  line-height: 18px; white-space: nowrap; color: #111827; }
.tdw-timeline-tooltip {
  position: absolute; pointer-events: none; white-space: nowrap; transform: translate(-50%, -100%);
  background: #111827; color: #ffffff; font-size: 11px; line-height: 1.3; padding: 2px 6px;
  border-radius: 4px; opacity: 0; transition: opacity 80ms;
}
`;

/** Create an SVG element with attributes. */
function svgEl(tag, attrs) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  return node;
}

/** Compact axis label: 1500 -> "1.5k", 2000000 -> "2M". */
function shortLabel(n) {
  const fmt = (x, unit) => `${Number.isInteger(x) ? x : x.toFixed(1).replace(/\.0$/, "")}${unit}`;
  if (Math.abs(n) >= 1e6) return fmt(n / 1e6, "M");
  if (Math.abs(n) >= 1e3) return fmt(n / 1e3, "k");
  return String(n);
}

/** Sorted, de-duplicated integer epochs (defensive: the Python side promises increasing). */
function cleanEpochs(raw) {
  const out = [];
  for (const e of [...(raw || [])].map(Number).filter(Number.isFinite).sort((a, b) => a - b)) {
    if (out.length === 0 || out[out.length - 1] !== e) out.push(e);
  }
  return out;
}

/** Map epochs to pixels for the given scale, domain and drawable width. */
function makeScale(kind, lo, hi, x0, x1) {
  const t = kind === "log" ? (e) => Math.log10(1 + Math.max(0, e)) : (e) => e;
  const t0 = t(lo);
  const span = t(hi) - t0;
  if (!(span > 0)) return () => (x0 + x1) / 2;
  return (e) => x0 + ((t(e) - t0) / span) * (x1 - x0);
}

/** Candidate axis ticks: "nice" linear steps, or decades (plus 2x/5x) for log. */
function axisTicks(kind, lo, hi, width) {
  if (hi <= lo) return [lo];
  if (kind === "log") {
    const ticks = lo <= 0 ? [0] : [];
    const decades = Math.log10(1 + hi) - Math.log10(1 + Math.max(0, lo));
    const mults = decades <= 2 && width / Math.max(decades, 1) > 150 ? [1, 2, 5] : [1];
    for (let p = 0; 10 ** p <= hi; p++) {
      for (const m of mults) {
        const v = m * 10 ** p;
        if (v >= lo && v <= hi) ticks.push(v);
      }
    }
    return ticks;
  }
  const target = Math.max(2, Math.floor(width / 75));
  const raw = (hi - lo) / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) || 10 * mag;
  const ticks = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) ticks.push(Math.round(v));
  return ticks;
}

/** Keep ticks that are at least `gap` pixels apart, scanning left to right. */
function thinTicks(ticks, x, gap) {
  const kept = [];
  let last = -Infinity;
  for (const v of ticks) {
    const px = x(v);
    if (px - last >= gap) {
      kept.push(v);
      last = px;
    }
  }
  return kept;
}

function render({ model, el }) {
  const style = document.createElement("style");
  style.textContent = CSS;
  const root = document.createElement("div");
  root.className = "tdw-timeline";
  root.tabIndex = 0;
  root.setAttribute("role", "slider");
  root.setAttribute("aria-label", "checkpoint epoch");
  const svg = svgEl("svg", { xmlns: SVG_NS });
  const tooltip = document.createElement("div");
  tooltip.className = "tdw-timeline-tooltip";
  const caption = document.createElement("div");
  caption.className = "tdw-timeline-caption";
  root.append(svg, tooltip, caption);
  el.replaceChildren(style, root);

  let width = el.clientWidth || 600;
  let height = el.clientHeight || (model.get("caption") ? 92 : 70); // auto-height hosts: Jupyter
  let dragging = false;
  let hoverEpoch = null; // epoch under the pointer, or null
  let geom = null; // {eps, x, clampX, trackY} from the last draw
  let current = null; // the handle, and the tinted track up to it (moved by place())
  let progress = null;

  const epochs = () => cleanEpochs(model.get("epochs"));
  const unit = () => model.get("unit") || "epoch";

  function draw() {
    const eps = epochs();
    const value = model.get("value");
    const turn = model.get("transition");
    const kind = model.get("scale") === "log" ? "log" : "linear";
    const top = model.get("caption") ? CAPTION_H : Math.max(0, (height - CONTENT_H) / 2);
    const trackY = top + 30;
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    svg.style.height = `${height}px`; // explicit, so an auto-height host (Jupyter) gets a size
    svg.replaceChildren();
    current = progress = null;
    root.dataset.value = String(value);
    root.setAttribute("aria-valuenow", String(value));
    root.setAttribute("aria-valuetext", `${unit()} ${value}`);

    if (eps.length === 0) {
      geom = null;
      svg.append(svgEl("line", { class: "tdw-timeline-track", x1: PAD_X, x2: width - PAD_X,
        y1: trackY, y2: trackY }));
      const t = svgEl("text", { class: "tdw-timeline-empty", x: width / 2, y: trackY + 20,
        "text-anchor": "middle" });
      t.textContent = "no checkpoints";
      svg.append(t);
      return;
    }

    const lo = eps[0];
    const hi = eps[eps.length - 1];
    root.setAttribute("aria-valuemin", String(lo));
    root.setAttribute("aria-valuemax", String(hi));
    const x0 = PAD_X;
    const x1 = Math.max(PAD_X + 1, width - PAD_X);
    const x = makeScale(kind, lo, hi, x0, x1);
    const clampX = (e) => x(Math.min(hi, Math.max(lo, e)));
    geom = { eps, x };

    // Axis: light tick marks under the track with a few compact labels.
    const axis = svgEl("g", { class: "tdw-timeline-axis" });
    for (const v of thinTicks(axisTicks(kind, lo, hi, x1 - x0), x, MIN_LABEL_GAP)) {
      const px = x(v);
      axis.append(svgEl("line", { class: "tdw-timeline-axis-tick", x1: px, x2: px,
        y1: trackY + 8, y2: trackY + 12 }));
      const anchor = px - x0 < 10 ? "start" : x1 - px < 10 ? "end" : "middle";
      const label = svgEl("text", { class: "tdw-timeline-axis-label", x: px, y: trackY + 24,
        "text-anchor": anchor });
      label.textContent = shortLabel(v);
      axis.append(label);
    }
    svg.append(axis);

    // Track, with the part before the current checkpoint tinted.
    svg.append(svgEl("line", { class: "tdw-timeline-track", x1: x0, x2: x1, y1: trackY,
      y2: trackY }));
    progress = svgEl("line", { class: "tdw-timeline-progress", x1: x0, x2: x0, y1: trackY,
      y2: trackY, visibility: "hidden" });
    svg.append(progress);

    // Checkpoint ticks; shorter and fainter when they crowd together (mean gap in px), so a
    // dense run reads as a soft band rather than a solid bar.
    const spacing = eps.length > 1 ? (x1 - x0) / (eps.length - 1) : Infinity;
    const opacity = spacing < 2 ? 0.22 : spacing < 4 ? 0.4 : spacing < 8 ? 0.65 : 0.9;
    const half = spacing < 4 ? 4 : 6;
    const markers = svgEl("g", { "fill-opacity": opacity });
    for (const e of eps) {
      const px = x(e);
      // A thin rect rather than a line, so each marker has a non-empty bounding box.
      markers.append(svgEl("rect", { class: "tdw-timeline-marker", "data-epoch": e,
        x: px - 0.75, y: trackY - half, width: 1.5, height: 2 * half, rx: 0.75 }));
    }
    svg.append(markers);

    // Transition epoch: red line with a small label, kept inside the strip.
    if (turn !== null && turn !== undefined && Number.isFinite(turn) && turn >= lo
        && turn <= hi) {
      const px = x(turn);
      const g = svgEl("g", { class: "tdw-timeline-transition", "data-epoch": turn });
      g.append(svgEl("line", { x1: px, x2: px, y1: top + 13, y2: trackY + 9 }));
      const text = `transition ${shortLabel(turn)}`;
      const halfW = text.length * 3;
      const anchor = px - halfW < 2 ? "start" : px + halfW > width - 2 ? "end" : "middle";
      const label = svgEl("text", { x: px, y: top + 10, "text-anchor": anchor });
      label.textContent = text;
      const title = svgEl("title");
      title.textContent = `detected transition: epoch ${turn}`;
      g.append(label, title);
      svg.append(g);
    }

    if (hoverEpoch !== null && hoverEpoch !== value && !dragging) {
      svg.append(svgEl("circle", { class: "tdw-timeline-hover", cx: x(hoverEpoch), cy: trackY,
        r: 6 }));
    }

    current = svgEl("circle", { class: "tdw-timeline-current", cx: x0, cy: trackY, r: 6.5,
      visibility: "hidden" });
    svg.append(current);
    geom.trackY = trackY;
    geom.clampX = clampX;
    place();
  }

  /** Move the handle and the tinted track to the current value, drawing nothing else: what
   * a checkpoint move needs, cheap enough for every frame of play. */
  function place() {
    const value = model.get("value");
    root.dataset.value = String(value);
    root.setAttribute("aria-valuenow", String(value));
    root.setAttribute("aria-valuetext", `${unit()} ${value}`);
    writeCaption(value);
    if (!geom || !current) return;
    const shown = Number.isFinite(value) ? "visible" : "hidden";
    const px = Number.isFinite(value) ? geom.clampX(value) : 0;
    current.setAttribute("data-epoch", String(value));
    current.setAttribute("cx", String(px));
    current.setAttribute("visibility", shown);
    progress.setAttribute("x2", String(px));
    progress.setAttribute("visibility", shown);
  }

  /** The caption: "epoch E · checkpoint i of n · detected transition at epoch T", or the
   * epoch's note in place of "checkpoint i of n" (Python's Timeline.caption_text writes the
   * same). */
  function writeCaption(value) {
    if (!model.get("caption")) {
      caption.replaceChildren();
      return;
    }
    const eps = epochs();
    const turn = model.get("transition");
    const bold = document.createElement("b");
    bold.textContent = `${unit()} ${value}`;
    const notes = model.get("notes") || [];
    const at = eps.indexOf(value);
    let rest = notes.length ? (at >= 0 && notes[at] ? ` · ${notes[at]}` : "")
      : ` · checkpoint ${at + 1} of ${eps.length}`;
    if (turn !== null && turn !== undefined) rest += ` · detected transition at epoch ${turn}`;
    caption.replaceChildren(bold, document.createTextNode(rest));
  }

  /** Nearest checkpoint (in screen space, so it works for either scale) to a client x. */
  function nearestAt(clientX) {
    if (!geom) return null;
    const rect = svg.getBoundingClientRect();
    const px = ((clientX - rect.left) * width) / (rect.width || width);
    let best = null;
    let bestD = Infinity;
    for (const e of geom.eps) {
      const d = Math.abs(geom.x(e) - px);
      if (d < bestD) {
        best = e;
        bestD = d;
      }
    }
    return best;
  }

  function showTooltip(epoch) {
    if (!geom || epoch === null) {
      tooltip.style.opacity = "0";
      return;
    }
    const rect = svg.getBoundingClientRect();
    const scaleX = (rect.width || width) / width;
    tooltip.textContent = `${unit()} ${epoch}`;
    tooltip.style.left = `${geom.x(epoch) * scaleX}px`;
    tooltip.style.top = `${Math.max(0, geom.trackY - 10)}px`;
    tooltip.style.opacity = "1";
  }

  function setValue(epoch) {
    if (epoch === null || epoch === model.get("value")) return;
    model.set("value", epoch);
    model.save_changes();
    place(); // hosts that echo the change also move the handle; doing it twice is harmless
  }

  function onPointerDown(ev) {
    if (ev.button !== 0) return;
    ev.preventDefault();
    root.focus({ preventScroll: true });
    dragging = true;
    svg.setPointerCapture(ev.pointerId);
    const e = nearestAt(ev.clientX);
    setValue(e);
    showTooltip(e);
  }

  function onPointerMove(ev) {
    const e = nearestAt(ev.clientX);
    if (dragging) {
      setValue(e);
    } else if (e !== hoverEpoch) {
      hoverEpoch = e;
      draw();
    }
    showTooltip(e);
  }

  function onPointerUp(ev) {
    if (!dragging) return;
    dragging = false;
    if (svg.hasPointerCapture(ev.pointerId)) svg.releasePointerCapture(ev.pointerId);
    draw();
  }

  function onPointerLeave() {
    if (dragging) return;
    hoverEpoch = null;
    showTooltip(null);
    draw();
  }

  function onKeyDown(ev) {
    const eps = epochs();
    if (eps.length === 0) return;
    const v = model.get("value");
    let next = null;
    if (ev.key === "ArrowRight" || ev.key === "ArrowUp") {
      next = eps.find((e) => e > v) ?? eps[eps.length - 1];
    } else if (ev.key === "ArrowLeft" || ev.key === "ArrowDown") {
      next = [...eps].reverse().find((e) => e < v) ?? eps[0];
    } else if (ev.key === "Home") {
      next = eps[0];
    } else if (ev.key === "End") {
      next = eps[eps.length - 1];
    } else {
      return;
    }
    ev.preventDefault();
    hoverEpoch = null;
    setValue(next);
    showTooltip(null);
  }

  svg.addEventListener("pointerdown", onPointerDown);
  svg.addEventListener("pointermove", onPointerMove);
  svg.addEventListener("pointerup", onPointerUp);
  svg.addEventListener("pointercancel", onPointerUp);
  svg.addEventListener("pointerleave", onPointerLeave);
  root.addEventListener("keydown", onKeyDown);
  root.addEventListener("blur", () => showTooltip(null));

  const onChange = () => draw();
  const onValue = () => (hoverEpoch === null || dragging ? place() : draw());
  const traits = ["epochs", "transition", "scale", "caption", "unit", "notes"];
  for (const name of traits) model.on(`change:${name}`, onChange);
  model.on("change:value", onValue);

  const observer = new ResizeObserver((entries) => {
    const box = entries[entries.length - 1].contentRect;
    const w = Math.round(box.width);
    const h = Math.round(box.height);
    if (w > 0 && (w !== width || (h > 0 && h !== height))) {
      width = w;
      if (h > 0) height = h;
      draw();
    }
  });
  observer.observe(el);
  draw();

  return () => {
    observer.disconnect();
    for (const [name, handler] of [...traits.map((t) => [t, onChange]), ["value", onValue]]) {
      try {
        model.off(`change:${name}`, handler);
      } catch (_err) {
        // Hosts without `off` drop their listeners with the view anyway.
      }
    }
    el.replaceChildren();
  };
}

export default { render };
