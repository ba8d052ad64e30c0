// Pictures on hover for plotly maps whose layout.meta names a sprite sheet (dashboard/sprites.py).
// st.plotly_chart does not pass hover events to Python, so this script (added once to the page
// by components.hover_pictures) listens to plotly's own `plotly_hover` on every chart and shows the
// point's tile, cut from its sheet, in a card beside the cursor with the point's hover text.
(() => {
  if (window.__latentboardHover) return;
  window.__latentboardHover = true;
  const card = document.createElement("div");
  card.id = "latentboard-hover";
  card.style.cssText = "position:fixed;z-index:1000000;pointer-events:none;display:none;gap:10px;align-items:flex-start;" +
    "background:#fff;border:1px solid #cbd5e1;border-radius:8px;padding:8px;box-shadow:0 4px 14px rgba(0,0,0,.18);" +
    "font:13px/1.45 'Source Sans Pro',sans-serif;color:#1f2937;max-width:460px";
  const frame = document.createElement("div");
  frame.style.cssText = "position:relative;overflow:hidden;flex:none;background:#f2f5f9;border-radius:4px";
  const img = document.createElement("img");
  img.alt = "";
  img.style.cssText = "position:absolute;left:0;top:0;max-width:none";
  frame.appendChild(img);
  const text = document.createElement("div");
  card.append(frame, text);
  document.body.appendChild(card);
  let mouse = { x: 0, y: 0 };

  function place() {
    if (card.style.display === "none") return;
    const w = card.offsetWidth, h = card.offsetHeight, pad = 18;
    let x = mouse.x + pad, y = mouse.y + pad;
    if (x + w > window.innerWidth) x = Math.max(0, mouse.x - w - pad);
    if (y + h > window.innerHeight) y = Math.max(0, window.innerHeight - h - 4);
    card.style.left = x + "px";
    card.style.top = y + "px";
  }
  document.addEventListener("mousemove", (e) => { mouse = { x: e.clientX, y: e.clientY }; place(); }, true);

  function show(s, i, label) {
    const sheet = Math.floor(i / s.per_sheet), k = i % s.per_sheet;
    const scale = s.display / s.tile, col = k % s.columns, row = Math.floor(k / s.columns);
    const src = s.url + "sheet-" + String(sheet).padStart(3, "0") + "." + s.ext;
    if (img.getAttribute("src") !== src) img.src = src;
    frame.style.width = frame.style.height = s.display + "px";
    img.style.width = s.columns * s.display + "px";
    img.style.imageRendering = s.pixelated ? "pixelated" : "auto";
    img.style.left = -col * s.display + "px";
    img.style.top = -row * s.display + "px";
    img.dataset.position = String(i);
    text.innerHTML = label || "";
    card.style.display = "flex";
    place();
  }

  function attach(gd) {
    if (gd.__latentboardHover || typeof gd.on !== "function") return;
    gd.__latentboardHover = true;
    gd.on("plotly_hover", (event) => {
      const s = gd.layout && gd.layout.meta && gd.layout.meta.sprites;
      const p = event && event.points && event.points[0];
      if (!s || !p || p.customdata === undefined || p.customdata === null) return;
      const i = Number(Array.isArray(p.customdata) ? p.customdata[0] : p.customdata);
      if (!(i >= 0 && i < s.count)) return;
      const texts = p.data && p.data.hovertext;
      show(s, i, p.hovertext || (texts ? texts[p.pointIndex] : ""));
    });
    gd.on("plotly_unhover", () => { card.style.display = "none"; });
  }
  setInterval(() => document.querySelectorAll(".js-plotly-plot").forEach(attach), 400);
})();
