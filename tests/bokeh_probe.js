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
    models, typeName, plain, fingerprint, figures, state, text,
    byName: (name) => models().find((m) => m.name === name) || null,
    ofType: (suffix) => models().filter((m) => typeName(m).endsWith(suffix)),
    player: () => models().find((m) => typeName(m).endsWith("Player")) || null,
    // Figures a checkpoint move must update (tagged by tdw.explore.viewpane.MOVES_TAG).
    moving: () => figures().filter((f) => (f.tags || []).includes("tdw:moves")),
    // Set the checkpoint player to `index`; resolve once every moving view's data source has
    // been assigned new data (client-side swap or the server's reply) and two animation
    // frames have passed, or after `timeout` ms. Reports the views still waiting.
    async move(index, timeout = 10000) {
      const player = this.player();
      if (!player) throw new Error("no checkpoint player on the page");
      const figs = this.moving();
      const updated = new Map();
      const slots = [];
      let t0 = performance.now();
      for (const fig of figs) {
        for (const r of fig.renderers) {
          if (!r.data_source) continue;
          const slot = () => updated.has(fig.name) || updated.set(fig.name, performance.now() - t0);
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
      const ms = performance.now() - t0;
      for (const [ds, slot] of slots) ds.properties.data.change.disconnect(slot);
      return {ms, views: figs.length, at: Object.fromEntries(updated),
              waiting: figs.map((f) => f.name).filter((n) => !updated.has(n))};
    },
  };
})();
