// Page-side helpers for the dashboard browser tests, installed as window.tdwProbe.
// They read Bokeh models by name from every document on the page (Voila renders each
// Panel app through jupyter_bokeh, which registers its document in Bokeh.documents).
(() => {
  const models = () => {
    const out = [];
    for (const doc of (window.Bokeh ? Bokeh.documents : [])) out.push(...doc.all_models);
    return out;
  };
  const typeName = (m) => m.constructor.__qualified__ || m.constructor.__name__ || "";
  const plain = (data) => (data instanceof Map ? Object.fromEntries(data) : data);
  // A cheap fingerprint of nested numeric/string columns: length and a sampled sum.
  const fingerprint = (value) => {
    if (value == null) return "n";
    if (typeof value === "number" || typeof value === "string") return String(value);
    if (ArrayBuffer.isView(value) || Array.isArray(value)) {
      const n = value.length;
      const step = Math.max(1, Math.floor(n / 512));
      const parts = [n];
      let sum = 0;
      for (let i = 0; i < n; i += step) {
        const v = value[i];
        if (typeof v === "number") sum += v * (1 + (i % 7));
        else parts.push(fingerprint(v));
      }
      parts.push(sum.toPrecision(12));
      return parts.join(",");
    }
    if (typeof value === "object") {
      const obj = plain(value);
      return Object.keys(obj).sort().map((k) => `${k}:${fingerprint(obj[k])}`).join(";");
    }
    return String(value);
  };
  const figures = () => models().filter((m) => typeof m.name === "string" && m.name.startsWith("view:"));
  const figureState = (fig) => fig.renderers
    .filter((r) => r.data_source)
    .map((r) => fingerprint(plain(r.data_source.data)))
    .join("|");
  const state = () => Object.fromEntries(figures().map((f) => [f.name, figureState(f)]));
  const frame = () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  // Resolves once the main thread has nothing left to do (layout and paint included).
  const idle = () => new Promise((r) => requestIdleCallback(() => r(), {timeout: 5000}));
  // The view that draws `model` (null when it is not rendered).
  const viewOf = (model) => (window.Bokeh && Bokeh.index ? Bokeh.index.find_one(model) : null);
  // Whether the figure is drawn inside the window (not scrolled away, not in a collapsed card).
  const onScreen = (fig) => {
    const view = viewOf(fig);
    if (!view || !view.el.isConnected) return false;
    const r = view.el.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && r.bottom > 0 && r.right > 0 &&
      r.top < window.innerHeight && r.left < window.innerWidth;
  };

  // All text on the page, including inside shadow roots (Panel renders into them).
  const text = () => {
    const parts = [];
    const walk = (root) => {
      for (const node of root.childNodes) {
        if (node.nodeType === Node.TEXT_NODE) parts.push(node.textContent);
        else if (node.nodeType === Node.ELEMENT_NODE && !["SCRIPT", "STYLE"].includes(node.tagName)) {
          if (node.shadowRoot) walk(node.shadowRoot);
          walk(node);
        }
      }
    };
    walk(document.body);
    return parts.join(" ").replace(/\s+/g, " ");
  };

  window.tdwProbe = {
    models, typeName, plain, fingerprint, figures, state, text, viewOf, onScreen, idle,
    byName: (name) => models().find((m) => m.name === name) || null,
    ofType: (suffix) => models().filter((m) => typeName(m).endsWith(suffix)),
    // The checkpoint player drawn on the page (a page rebuilt by the kernel, e.g. Compare
    // after another pick of variants, may still hold the old one in its document).
    player: () => {
      const players = models().filter((m) => typeName(m).endsWith("Player"));
      return players.find((m) => viewOf(m) != null) || players[0] || null;
    },
    // Figures drawn on the page that a checkpoint move must update (tagged by
    // tdw.explore.viewpane.MOVES_TAG).
    moving: () => figures().filter((f) => (f.tags || []).includes("tdw:moves") &&
                                          viewOf(f) != null),
    // The moving figures drawn inside the window now.
    visibleMoving() { return this.moving().filter(onScreen); },
    // Press play from checkpoint 0 and watch the timeline's handle until the player stops:
    // {fps, shown (distinct checkpoints drawn), last (the epoch the handle ends on), epoch
    // (the player's last checkpoint), caption}.
    async play(timeout = 60000) {
      const player = this.player();
      const timeline = models().find((m) => typeName(m).endsWith("AnyWidgetComponent"));
      player.value = 0;
      await frame();
      const seen = new Set();
      const t0 = performance.now();
      const view = viewOf(player);
      view.play_animation();  // what the play button does
      let last = null;
      while (performance.now() - t0 < timeout) {
        await new Promise((r) => requestAnimationFrame(r));
        const value = timeline ? timeline.data.value : null;
        if (value !== last) { seen.add(value); last = value; }
        if (player.value === player.end && !view.timer) break;
      }
      const seconds = (performance.now() - t0) / 1000;
      await frame();
      return {fps: seen.size / seconds, shown: seen.size, seconds, last,
              epoch: timeline ? timeline.data.epochs[player.end] : null,
              caption: text().match(/epoch \d+ · checkpoint \d+ of \d+/)?.[0] ?? null};
    },
    // The frame a frames source should show now: the player's checkpoint, or, on a page with
    // an index table (Compare), the checkpoint its lane (variant) shows at the player's row.
    wantedFrame(frames) {
      const row = Math.round(this.player().value);
      const table = this.byName("tdw:index-table");
      const lane = (frames.tags || []).find((t) => String(t).startsWith("tdw:lane:"));
      const k = lane === undefined ? -1 : Number(String(lane).slice("tdw:lane:".length));
      if (!table || k < 0) return row;
      return plain(table.data)[`lane${k}`][row];
    },
    // Frame `index` of a frames source as the page should show it, read from its packed
    // layout (tdw.explore.frames.Packed) here, independently of the page's own code.
    frameData(frames, index) {
      const data = plain(frames.data);
      const tags = (frames.tags || []).map(String);
      const has = (prefix, c) => tags.includes(prefix + c);
      const at = (c) => {
        const payload = data[c][0];
        if (!has("tdw:stacked:", c)) return payload[index];
        const shape = Array.from(payload.shape);
        const per = shape.slice(1).reduce((a, b) => a * b, 1);
        const flat = Array.from(payload).slice(index * per, (index + 1) * per);
        if (shape.length === 1) return flat[0];
        if (!has("tdw:lists:", c)) return flat;
        const m = per / shape[1];
        return Array.from({length: shape[1]}, (_, j) => flat.slice(j * m, (j + 1) * m));
      };
      const out = {};
      for (const c of Object.keys(data)) {
        const base = c.replace(/:(lo|step)$/, "");
        if (base !== c && has("tdw:quantised:", base)) continue;
        let value = at(c);
        if (has("tdw:quantised:", c)) {
          const lo = at(`${c}:lo`), step = at(`${c}:step`);
          const one = (codes) => Float32Array.from(
            codes, (x) => (x === 65535 ? NaN : Math.fround(lo + x * step)));
          value = Array.isArray(value[0]) ? value.map(one) : one(value);
        }
        out[c] = value;
      }
      return out;
    },
    // Scroll each moving figure into view in turn and check that every source the browser
    // swaps frames into shows the frame it should (wantedFrame); the views still wrong (none,
    // when off-screen views caught up as they came into view).
    async caughtUp() {
      const framesOf = new Map();  // a target source's id -> the frames swapped into it
      for (const m of models()) {
        const tag = (m.tags || []).find((t) => String(t).startsWith("tdw:frames-of:"));
        if (tag !== undefined) framesOf.set(String(tag).slice("tdw:frames-of:".length), m);
      }
      const wrong = [];
      for (const fig of this.moving()) {
        const view = viewOf(fig);
        if (!view) continue;
        view.el.scrollIntoView({block: "center"});
        await frame();
        await new Promise((r) => setTimeout(r, 60));
        await frame();
        for (const r of fig.renderers) {
          const frames = r.data_source ? framesOf.get(r.data_source.id) : undefined;
          if (frames === undefined) continue;
          const want = this.frameData(frames, this.wantedFrame(frames));
          if (fingerprint(want) !== fingerprint(plain(r.data_source.data))) wrong.push(fig.name);
        }
      }
      window.scrollTo(0, 0);
      return [...new Set(wrong)];
    },
    // Legend entries whose swatch canvas has nothing drawn on it, as "figure: label".
    blankSwatches() {
      const blank = [];
      for (const fig of figures()) {
        const view = viewOf(fig);
        if (!view) continue;
        for (const legend of view.renderer_views ? view.renderer_views.values() : []) {
          if (!legend.entries) continue;
          for (const entry of legend.entries) {
            if (entry.item && entry.item.visible === false) continue;
            const canvas = entry.glyph && entry.glyph.canvas;
            if (!canvas || !canvas.width || !canvas.height) continue;
            const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
            let drawn = false;
            for (let k = 3; k < pixels.length && !drawn; k += 4) drawn = pixels[k] > 0;
            if (!drawn) blank.push(`${fig.name}: ${entry.label}`);
          }
        }
      }
      return blank;
    },
    // Set the checkpoint player to `index`; resolve once every moving view's data source has
    // been assigned new data (client-side swap or the server's reply), two animation frames
    // have passed and the main thread is idle, or after `timeout` ms. Reports the views
    // still waiting. `visibleOnly`: wait only for the views drawn inside the window (the
    // others catch up when they are scrolled into view).
    async move(index, timeout = 10000, visibleOnly = false) {
      const player = this.player();
      if (!player) throw new Error("no checkpoint player on the page");
      const figs = visibleOnly ? this.visibleMoving() : this.moving();
      const updated = new Map();
      const slots = [];
      let t0 = performance.now();
      for (const fig of figs) {  // keyed by id: Compare shows each view once per variant
        for (const r of fig.renderers) {
          if (!r.data_source) continue;
          const slot = () => updated.has(fig.id) || updated.set(fig.id, performance.now() - t0);
          r.data_source.properties.data.change.connect(slot);
          slots.push([r.data_source, slot]);
        }
      }
      t0 = performance.now();
      player.value = index;
      while (updated.size < figs.length && performance.now() - t0 < timeout) {
        await new Promise((r) => setTimeout(r, 1));
      }
      await frame();
      await idle();
      const ms = performance.now() - t0;
      for (const [ds, slot] of slots) ds.properties.data.change.disconnect(slot);
      // Named by figure name, and by id as well where a name repeats (Compare).
      const label = (f) => (figs.filter((g) => g.name === f.name).length > 1 ?
        `${f.name}#${f.id}` : f.name);
      const at = Object.fromEntries(figs.filter((f) => updated.has(f.id))
        .map((f) => [label(f), updated.get(f.id)]));
      return {ms, views: figs.length, at,
              waiting: figs.filter((f) => !updated.has(f.id)).map((f) => f.name)};
    },
  };
})();
