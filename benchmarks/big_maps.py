"""Big maps: the dashboard's plotly WebGL scatter against Embedding Atlas, in headless Chromium.

    pip install embedding-atlas playwright      # in a separate venv: Atlas brings transformers, litellm, ...
    python benchmarks/big_maps.py [--sizes 70000 250000 1000000] [--renderers plotly atlas]

For each renderer and size, a two-line Streamlit app draws N seeded points in 10 blobs (labels as
colours), served by `streamlit run` and opened in the system Chromium (the same flags as the e2e
tests, so WebGL is software-rendered, as on a machine without a GPU). Printed per case:

    ready_s    seconds from opening the page to the points on screen (server work, transfer, first draw)
    fps_drag   animation frames per second while the mouse drags the map for 3 s (60 is smooth)
    heap_mb    the page's JS heap afterwards (Chromium's performance.memory)
    ok         whether it drew at all (no crash, no timeout)

The dashboard's own figure builder (core.figures.scatter_figure) draws the plotly case, so
what is measured is what the Latent space page sends. Ratios between renderers in one run are the
figure to read; absolute seconds depend on the machine and anything else running on it.

Measured 2026-12-01 on the 2-core CI machine (other jobs running, so seconds are high):
plotly drew 70k points in 5.6 s, 250k in 7.5 s, 1M in 16.8 s (JS heap 54 / 198 / 499 MB) and
kept 60 frames per second while dragging at every size. Embedding Atlas 0.26 drew nothing at any
size: its Streamlit component fetches the DuckDB-WASM worker from cdn.jsdelivr.net at run time,
so on a machine without internet it never starts. Latentboard must work offline, so the map stays
on plotly's WebGL scatter (see the README's note on big maps).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
]
TIMEOUT_S = 300

APP = {
    "plotly": """
        import numpy as np, streamlit as st
        from core.figures import scatter_figure
        rng = np.random.default_rng(0); n = {n}
        labels = rng.integers(0, 10, n); centres = rng.normal(0, 6, (10, 2))
        coords = (centres[labels] + rng.normal(0, 1, (n, 2))).astype(np.float32)
        fig, _ = scatter_figure(coords, [str(v) for v in labels], categorical=True, colour_title="label", height=700)
        st.plotly_chart(fig, key="map")
    """,
    "atlas": """
        import numpy as np, pandas as pd, streamlit as st
        from embedding_atlas.streamlit import embedding_atlas
        rng = np.random.default_rng(0); n = {n}
        labels = rng.integers(0, 10, n); centres = rng.normal(0, 6, (10, 2))
        coords = (centres[labels] + rng.normal(0, 1, (n, 2))).astype(np.float32)
        df = pd.DataFrame({{"x": coords[:, 0], "y": coords[:, 1], "label": labels.astype(str)}})
        embedding_atlas(df, x="x", y="y")
    """,
}

# Points drawn: plotly counts its traces' points; Atlas draws into a canvas inside its iframe.
PLOTLY_READY = """(n) => Array.from(document.querySelectorAll('.js-plotly-plot')).some(g =>
    (g._fullData || []).reduce((s, t) => s + (t._length ?? 0), 0) >= n && g.querySelector('canvas'))"""
ATLAS_READY = """() => { for (const f of document.querySelectorAll('iframe')) { try {
    const c = Array.from(f.contentDocument.querySelectorAll('canvas')).filter(c => c.width > 200 && c.height > 200);
    if (c.length) return true; } catch (e) {} } return false; }"""
COUNT_FRAMES = """(ms) => new Promise(done => { let n = 0; const t0 = performance.now();
    const tick = () => { n++;
      if (performance.now() - t0 < ms) requestAnimationFrame(tick); else done(n * 1000 / (performance.now() - t0)); };
    requestAnimationFrame(tick); })"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def chromium() -> str:
    path = os.environ.get("LATENTBOARD_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        sys.exit("Needs Debian's chromium (apt-get install chromium) and `pip install playwright`.")
    return path


def serve(app: Path, port: int) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(app),
            "--server.headless",
            "true",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--browser.gatherUsageStats",
            "false",
            "--server.maxMessageSize",
            "2000",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2):
                return process
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError("streamlit did not start")


def drag_fps(page) -> float:
    """Frames per second counted while the mouse drags across the middle of the page for 3 s."""
    box = page.viewport_size
    cx, cy = box["width"] / 2, box["height"] / 2
    frames = page.evaluate_handle(COUNT_FRAMES, 3000)
    page.mouse.move(cx - 150, cy)
    page.mouse.down()
    started = time.monotonic()
    step = 0
    while time.monotonic() - started < 3.0:
        step += 1
        page.mouse.move(cx - 150 + (step * 7) % 300, cy + ((step * 5) % 100) - 50)
    page.mouse.up()
    return float(frames.json_value())


def measure(browser, renderer: str, n: int) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        app = Path(folder) / f"{renderer}_{n}.py"
        app.write_text(textwrap.dedent(APP[renderer].format(n=n)))
        port = free_port()
        server = serve(app, port)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        offline = []  # what the page tried to fetch from outside this machine, and could not
        page.on(
            "requestfailed",
            lambda r: offline.append(r.url.split("/")[2]) if not r.url.startswith("http://127.0.0.1") else None,
        )
        result = {
            "renderer": renderer,
            "n": n,
            "ready_s": float("nan"),
            "fps_drag": float("nan"),
            "heap_mb": float("nan"),
            "ok": False,
        }
        try:
            started = time.monotonic()
            page.goto(f"http://127.0.0.1:{port}/", timeout=TIMEOUT_S * 1000)
            ready = (PLOTLY_READY, n) if renderer == "plotly" else (ATLAS_READY, None)
            page.wait_for_function(
                f"(n) => ({ready[0]})(n) || !!document.querySelector('[data-testid=stException]')",
                arg=ready[1],
                timeout=TIMEOUT_S * 1000,
                polling=100,
            )
            if page.locator("[data-testid=stException]").count():
                raise RuntimeError(page.locator("[data-testid=stException]").first.inner_text()[:200])
            result["ready_s"] = time.monotonic() - started
            time.sleep(2.0)  # let the first frames settle (Atlas lays out density and labels after the points)
            result["fps_drag"] = drag_fps(page)
            result["heap_mb"] = page.evaluate(
                "() => performance.memory ? performance.memory.usedJSHeapSize / 2**20 : NaN"
            )
            result["ok"] = True
        except Exception as exc:  # a crash or timeout is a result too
            result["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
            if offline:
                result["error"] += f" (requests to {', '.join(sorted(set(offline)))} failed: no internet)"
        finally:
            context.close()
            server.terminate()
            server.wait(15)
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[70_000, 250_000, 1_000_000])
    parser.add_argument("--renderers", nargs="+", default=["plotly", "atlas"], choices=sorted(APP))
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), headless=True, args=CHROMIUM_ARGS)
        print(f"{'renderer':<8} {'points':>9} {'ready_s':>8} {'fps_drag':>8} {'heap_mb':>8}  ok", flush=True)
        for n in args.sizes:
            for renderer in args.renderers:
                r = measure(browser, renderer, n)
                print(
                    f"{r['renderer']:<8} {r['n']:>9,} {r['ready_s']:>8.1f} {r['fps_drag']:>8.1f} {r['heap_mb']:>8.0f}  "
                    f"{'yes' if r['ok'] else 'NO ' + r.get('error', '')}",
                    flush=True,
                )
        browser.close()


if __name__ == "__main__":
    main()
