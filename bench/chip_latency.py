"""Click on a citation chip → the cited page shown with its boxes, in a real browser, on the demo.

Usage:  .venv/bin/python bench/chip_latency.py [--rounds 20] [--json]

examples/docs is ingested with the bundled embedder (MiniLM; the scanned notice is OCR'd), served by
``create_app`` on uvicorn with answers quoted from the sources (``generation.mode = quote``: this
measures the source pane, not a model), and Chromium (Playwright) asks questions whose answers cite
the two PDFs. Each round clicks every chip of the answers and times, in the page, from the click to
the moment the page image is decoded and its boxes are placed (the app's ``foldrag:page-shown``
event). The first opening of a page renders it with pdfium (cold); later ones reuse the server's
page cache and the browser's (warm). Also timed on the server: the render of one page at 1,400 px.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from ingest_throughput import cpu_name  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
QUESTIONS = ("How does GPU offload place layers?", "서버실 점검은 언제인가요?")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("chromium is not installed (apt-get install chromium)")

    import httpx
    from playwright.sync_api import sync_playwright

    from foldrag.api.app import create_app
    from foldrag.build import build_collections
    from foldrag.core.settings import Settings
    from tests.server_support import live_server

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        settings = Settings.load(index={"path": tmp / "demo"}, generation={"model": "none", "mode": "quote"},
                                 server={"conversations": tmp / "conversations.sqlite"})
        rags = build_collections(settings, {"demo": tmp / "demo"}, with_generator=False)
        rags["demo"].ingest(REPO / "examples" / "docs")
        app = create_app(settings, rags)
        pdf = next(d for d in rags["demo"].documents() if d.source == "gpu-offload.pdf")
        t0 = time.perf_counter()
        rags["demo"].page_image(pdf.id, 1, 1400)
        render_ms = (time.perf_counter() - t0) * 1000

        cold: list[float] = []
        warm: list[float] = []
        with live_server(app) as url:
            while httpx.get(url + "/readyz").status_code != 200:
                time.sleep(0.1)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                page.goto(url + "/")
                page.wait_for_selector("#collection option", state="attached")
                for question in QUESTIONS:
                    page.fill("#question", question)
                    page.press("#question", "Enter")
                    page.wait_for_function("() => !document.querySelector('#send').hidden && "
                                           "document.querySelectorAll('.msg.assistant[data-status=done]').length >= 1")
                page.evaluate("""() => { window.__shown = [];
                    document.addEventListener('foldrag:page-shown', () => window.__shown.push(performance.now())); }""")
                chips = page.locator(".msg.assistant .chip")
                pdf_chips = [i for i in range(chips.count())
                             if ".pdf" in (chips.nth(i).get_attribute("aria-label") or "")]
                seen: set[str] = set()
                for _ in range(args.rounds):
                    for i in pdf_chips:
                        label = chips.nth(i).get_attribute("aria-label")
                        page.click("#close-source") if page.is_visible("#close-source") else None
                        before = page.evaluate("window.__shown.length")
                        start = page.evaluate("() => performance.now()")
                        chips.nth(i).click()
                        page.wait_for_function(f"() => window.__shown.length > {before}")
                        took = page.evaluate("window.__shown[window.__shown.length - 1]") - start
                        (warm if label in seen else cold).append(took)
                        seen.add(label)
                browser.close()
    result = {"cpu": cpu_name(), "render_1400px_ms": round(render_ms, 1), "pdf_chips": len(pdf_chips),
              "cold_ms": [round(v, 1) for v in cold],
              "warm_p50_ms": round(statistics.median(warm), 1) if warm else None,
              "warm_p95_ms": round(percentile(warm, 0.95), 1) if warm else None,
              "all_p95_ms": round(percentile(cold + warm, 0.95), 1), "clicks": len(cold) + len(warm)}
    if args.json:
        print(json.dumps(result, indent=1))
        return
    print(f"CPU: {result['cpu']}")
    print(f"server render of one page at 1400 px: {result['render_1400px_ms']} ms")
    print(f"chips on PDF pages: {result['pdf_chips']}; clicks: {result['clicks']}")
    print(f"first opening (cold): {result['cold_ms']} ms")
    print(f"again (warm): p50 {result['warm_p50_ms']} ms, p95 {result['warm_p95_ms']} ms; "
          f"all clicks p95 {result['all_p95_ms']} ms")


if __name__ == "__main__":
    main()
