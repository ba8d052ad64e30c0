// Hover one Compare map, see the same row ringed on the other. The maps carry layout.meta.compare and
// each point its position among the compared rows as customdata; st.plotly_chart sends no hover events
// to Python, so (like dashboard/hover.js) this script listens to plotly's own events in the page and
// places a ring over the other map at the point's pixel position (plotly's axes map data to pixels).
(() => {
  if (window.__latentboardCompare) return;
  window.__latentboardCompare = true;
  const rings = [];

  function ringFor(gd) {
    if (!gd.__compareRing) {
      const ring = document.createElement("div");
      ring.className = "latentboard-compare-ring";
      ring.style.cssText = "position:fixed;z-index:999999;pointer-events:none;display:none;width:22px;height:22px;" +
        "margin:-11px 0 0 -11px;border:3px solid #e11d48;border-radius:50%;box-shadow:0 0 0 2px #fff";
      document.body.appendChild(ring);
      gd.__compareRing = ring;
      rings.push(ring);
    }
    return gd.__compareRing;
  }

  function place(gd, i) {
    for (const trace of gd._fullData || []) {
      if (trace.name === "selected" || !trace.customdata) continue;
      const k = Array.prototype.indexOf.call(trace.customdata, i);
      if (k < 0) continue;
      const L = gd._fullLayout, box = gd.getBoundingClientRect(), ring = ringFor(gd);
      ring.style.left = box.left + L._size.l + L.xaxis.l2p(trace.x[k]) + "px";
      ring.style.top = box.top + L._size.t + L.yaxis.l2p(trace.y[k]) + "px";
      ring.style.display = "block";
      ring.dataset.position = String(i);
      return;
    }
  }

  function pair(gd) {
    const group = gd.layout && gd.layout.meta && gd.layout.meta.compare;
    return Array.from(document.querySelectorAll(".js-plotly-plot"))
      .filter((g) => g !== gd && g.layout && g.layout.meta && g.layout.meta.compare === group);
  }

  function attach(gd) {
    if (gd.__latentboardCompare || typeof gd.on !== "function") return;
    if (!(gd.layout && gd.layout.meta && gd.layout.meta.compare)) return;
    gd.__latentboardCompare = true;
    gd.on("plotly_hover", (event) => {
      const p = event && event.points && event.points[0];
      if (!p || p.customdata === undefined || p.customdata === null) return;
      const i = Number(Array.isArray(p.customdata) ? p.customdata[0] : p.customdata);
      pair(gd).forEach((other) => place(other, i));
    });
    gd.on("plotly_unhover", () => rings.forEach((r) => { r.style.display = "none"; }));
  }
  setInterval(() => document.querySelectorAll(".js-plotly-plot").forEach(attach), 400);
  document.addEventListener("scroll", () => rings.forEach((r) => { r.style.display = "none"; }), true);
})();
