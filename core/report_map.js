// The HTML report's map (core/report_map.py): drawn with the plotly.js the report inlines, from the JSON
// block beside it. Each view (a tour step) picks a map, a colouring, the points it highlights and a
// zoom; Back / Next redraw with Plotly.react. Hovering a point shows its picture, cut from the one
// sprite sheet by offset. Nothing is fetched: the file works from disk with the network off.
(() => {
  const D = JSON.parse(document.getElementById("latent-map-data").textContent);
  const gd = document.getElementById("latent-map");
  const caption = document.getElementById("tour-caption");
  const note = document.getElementById("tour-note");
  const count = document.getElementById("tour-count");
  let at = 0;

  function pick(values, idx) { return idx.map((i) => values[i]); }

  function traces(view) {
    const m = D.maps[view.map], c = D.colourings[view.colouring];
    const dim = view.selected.length > 0;
    const common = { type: "scattergl", mode: "markers", hoverinfo: "none" };
    const out = [];
    if (c.kind === "categories") {
      const groups = c.names.map(() => []);
      c.codes.forEach((k, i) => groups[k].push(i));
      c.names.forEach((name, k) => {
        const idx = groups[k];
        if (!idx.length) return;
        out.push({ ...common, name, x: pick(m.x, idx), y: pick(m.y, idx), customdata: idx,
          marker: { size: D.size, color: c.colours[k], opacity: dim ? 0.3 : 0.85 } });
      });
    } else {
      const idx = m.x.map((_, i) => i);
      out.push({ ...common, name: c.title, x: m.x, y: m.y, customdata: idx, showlegend: false,
        marker: { size: D.size, color: c.values, colorscale: "Viridis", cmin: c.range[0], cmax: c.range[1],
          opacity: dim ? 0.3 : 0.85, colorbar: { title: { text: c.title } } } });
    }
    if (dim) {
      out.push({ ...common, name: "highlighted", x: pick(m.x, view.selected), y: pick(m.y, view.selected),
        customdata: view.selected,
        marker: { size: D.size + 8, color: "rgba(0,0,0,0)", line: { color: "#111827", width: 2 } } });
    }
    return out;
  }

  function span(values, pad) {
    const lo = Math.min(...values), hi = Math.max(...values), d = Math.max(hi - lo, 20) * pad;
    return [lo - d, hi + d];
  }

  function axes(view) {
    const m = D.maps[view.map];
    let x = view.x_range, y = view.y_range;
    if (!x && view.selected.length) x = span(pick(m.x, view.selected), 0.25);
    if (!y && view.selected.length) y = span(pick(m.y, view.selected), 0.25);
    const axis = (r) => ({ showticklabels: false, zeroline: false, ...(r ? { range: r, autorange: false } : { autorange: true }) });
    return { xaxis: axis(x), yaxis: { ...axis(y), scaleanchor: "x", scaleratio: 1 } };
  }

  function layout(view) {
    const m = D.maps[view.map], c = D.colourings[view.colouring];
    return {
      title: { text: `${m.title} of the codes, coloured by ${c.title}` },
      margin: { l: 10, r: 10, t: 40, b: 10 }, dragmode: "pan", hovermode: "closest",
      legend: { title: { text: c.title }, itemsizing: "constant" },
      template: { layout: { plot_bgcolor: "#fff", paper_bgcolor: "#fff" } },
      datarevision: at, ...axes(view),
    };
  }

  function show(i) {
    at = Math.max(0, Math.min(D.views.length - 1, i));
    const view = D.views[at];
    caption.textContent = view.caption;
    note.textContent = view.note || "";
    if (count) count.textContent = `Step ${at + 1} of ${D.views.length}`;
    const back = document.getElementById("tour-back"), next = document.getElementById("tour-next");
    if (back) back.disabled = at === 0;
    if (next) next.disabled = at === D.views.length - 1;
    gd.dataset.step = String(at);
    return Plotly.react(gd, traces(view), layout(view), { displaylogo: false, scrollZoom: true, responsive: true });
  }

  // The picture card: one <img> holding the whole sheet, moved so the hovered point's tile shows.
  const card = document.createElement("div");
  card.id = "latentboard-hover";
  card.style.cssText = "position:fixed;z-index:1000;pointer-events:none;display:none;gap:10px;align-items:flex-start;" +
    "background:#fff;border:1px solid #cbd5e1;border-radius:8px;padding:8px;box-shadow:0 4px 14px rgba(0,0,0,.18);" +
    "font:13px/1.45 system-ui,sans-serif;color:#1f2937;max-width:420px";
  const frame = document.createElement("div");
  frame.style.cssText = "position:relative;overflow:hidden;flex:none;background:#f2f5f9;border-radius:4px";
  const img = document.createElement("img");
  img.alt = "";
  img.style.cssText = "position:absolute;left:0;top:0;max-width:none";
  const text = document.createElement("div");
  if (D.sprite) {
    const s = D.sprite;
    img.style.width = s.columns * s.display + "px";
    img.style.imageRendering = s.pixelated ? "pixelated" : "auto";
    frame.style.width = frame.style.height = s.display + "px";
    frame.appendChild(img);
    card.appendChild(frame);
  }
  card.appendChild(text);
  document.body.appendChild(card);
  let mouse = { x: 0, y: 0 };
  document.addEventListener("mousemove", (e) => { mouse = { x: e.clientX, y: e.clientY }; }, true);

  function label(i) {
    const view = D.views[at], c = D.colourings[view.colouring];
    const value = c.kind === "categories" ? c.names[c.codes[i]] : c.values[i];
    const name = D.files ? D.files[i] : `row ${D.rows[i]}`;
    const div = document.createElement("div");
    div.append(document.createTextNode(name), document.createElement("br"), document.createTextNode(`${c.title}: ${value}`));
    return div;
  }

  function hover(event) {
    const p = event && event.points && event.points[0];
    if (!p || p.customdata === undefined) return;
    const i = Number(p.customdata);
    if (D.sprite) {
      const s = D.sprite, col = i % s.columns, row = Math.floor(i / s.columns);
      img.style.left = -col * s.display + "px";
      img.style.top = -row * s.display + "px";
      img.dataset.position = String(i);
    }
    text.replaceChildren(label(i));
    card.style.display = "flex";
    const w = card.offsetWidth, h = card.offsetHeight, pad = 18;
    let x = mouse.x + pad, y = mouse.y + pad;
    if (x + w > window.innerWidth) x = Math.max(0, mouse.x - w - pad);
    if (y + h > window.innerHeight) y = Math.max(0, window.innerHeight - h - 4);
    card.style.left = x + "px";
    card.style.top = y + "px";
  }

  show(0).then(() => {
    if (D.sprite) img.src = D.sprite.uri;  // decoded after the first draw: the map comes first
    gd.on("plotly_hover", hover);
    gd.on("plotly_unhover", () => { card.style.display = "none"; });
    document.body.dataset.mapDrawn = String(performance.now());
  });
  const back = document.getElementById("tour-back"), next = document.getElementById("tour-next");
  if (back) back.addEventListener("click", () => show(at - 1));
  if (next) next.addEventListener("click", () => show(at + 1));
})();
