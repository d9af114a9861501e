"""The web app against a real ``foldrag serve`` process on the demo folder (examples/docs), with the
bundled embedder, OCR and answers quoted from the sources (``generation.mode = quote``: no model to
wait for, the same citations and places). In Chromium: a Korean and an English question, chips that
open the HWPX table as text and the PDF page with the cited words boxed (checked against pdfium's
own character boxes), a scanned page's OCR boxes, and a PDF and an HWPX dropped on the collection
indexed to the job's end."""

from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
import sys

import httpx
import pytest

from tests.conftest import REPO, run_cli
from tests.server_support import wait_served
from tests.docs_factory import write_hwpx
from tests.test_web_app import CHROMIUM, _shot, covered, highlight_rects, word_boxes, write_atlas

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed "
                                 "(scripts/run.sh test installs it as root)")]


@pytest.fixture
def served(tmp_path):
    docs = tmp_path / "docs"
    shutil.copytree(REPO / "examples" / "docs", docs)
    index = tmp_path / "demo"
    done = run_cli("ingest", str(docs), "--index", str(index), "-q")
    assert done.returncode == 0, done.stderr
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOLDRAG_")}
    env.update(FOLDRAG_GENERATION__MODEL="none", FOLDRAG_GENERATION__MODE="quote",
               FOLDRAG_SERVER__CONVERSATIONS=str(tmp_path / "conversations.sqlite"),
               FOLDRAG_ALLOWED_ROOTS=str(tmp_path), FOLDRAG_CONFIG=str(tmp_path / "none.toml"))
    server = subprocess.Popen([sys.executable, "-m", "foldrag.cli", "serve", "--index", str(index), "--port", str(port)],
                              cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_served(url, server, 120)
        yield url, docs, tmp_path
    finally:
        server.terminate()
        server.wait(timeout=30)


def _ask(page, question: str) -> None:
    before = page.locator(".msg.assistant[data-status=done]").count()
    page.fill("#question", question)
    page.press("#question", "Enter")
    page.wait_for_function(f"() => document.querySelectorAll('.msg.assistant[data-status=done]').length > {before}"
                           " && !document.querySelector('#send').hidden")


def _chip_for(page, source: str):
    chips = page.locator(".msg.assistant:last-of-type .chip")
    for i in range(chips.count()):
        if (chips.nth(i).get_attribute("aria-label") or "").startswith(source):
            return chips.nth(i)
    raise AssertionError(f"no chip for {source}: {[chips.nth(i).get_attribute('aria-label') for i in range(chips.count())]}")


def test_the_demo_answers_in_korean_and_english_and_shows_where(served):
    from playwright.sync_api import sync_playwright

    url, docs, tmp = served
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1400, "height": 900}, locale="ko-KR")
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url + "/")
        page.wait_for_selector("#collection option", state="attached")

        # Korean: the sick-leave row of the HWPX table, shown as the text as indexed
        _ask(page, "병가는 며칠인가요?")
        _chip_for(page, "leave-policy-ko.hwpx").click()
        page.wait_for_selector("#source .text-view table .in")
        # the table shown as a table; the cited row marked more strongly than the rest of the chunk
        assert page.locator("#source .text-view th").all_text_contents() == ["종류", "일수", "비고"]
        assert page.locator("#source .text-view .support").all_text_contents()[:2] == ["병가", "30일"]
        _shot(page, "demo-text-source.png")

        # English: the PDF page, the chunk's words boxed where pdfium draws them
        _ask(page, "How does GPU offload place layers?")
        chip = _chip_for(page, "gpu-offload.pdf")
        passage = httpx.get(f"{url}/v1/passages/{chip.get_attribute('data-chunk')}").json()
        chip.click()
        page.wait_for_selector("#source .page .hl")
        shown = int(page.get_attribute("#source .page", "data-page"))
        rects, _, _ = highlight_rects(page)
        words = [w.strip(".,:;()") for w in passage["text"].split()]
        boxes = word_boxes(docs / "gpu-offload.pdf", shown, [w for w in words if len(w) >= 4])
        [size] = {(b["width"], b["height"]) for s in passage["spans"] for b in s["boxes"] if b["page"] == shown}
        assert len(boxes) > 20 and covered(boxes, rects, size) >= 0.99
        _shot(page, "demo-pdf-source.png")

        # a scanned page: its image, with the boxes of the words OCR read
        _ask(page, "서버실 점검은 언제인가요?")
        _chip_for(page, "scanned-notice-ko.pdf").click()
        # what a person sees once the scanned page is shown: its note (the boxes of the PDF before
        # may still be on screen while the new passage loads)
        page.wait_for_selector("#source-note", state="visible")
        page.wait_for_selector("#source .page .hl")
        _shot(page, "demo-scanned-source.png")

        # a PDF and an HWPX dropped on the collection, indexed to the job's end
        page.click("#open-collections")
        page.wait_for_selector("#files tbody tr")
        files = [write_atlas(tmp / "upload.pdf"), write_hwpx(tmp / "memo.hwpx", "# 회의록\n\n다음 점검은 금요일이다.\n")]
        payload = [{"name": f.name, "data": base64.b64encode(f.read_bytes()).decode()} for f in files]
        page.evaluate("""(files) => {
            const dt = new DataTransfer();
            for (const f of files) dt.items.add(new File([Uint8Array.from(atob(f.data), c => c.charCodeAt(0))], f.name));
            document.querySelector('#drop').dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true}));
        }""", payload)
        page.wait_for_function("() => /^완료:/.test(document.querySelector('#job').textContent)", timeout=120000)
        page.wait_for_function("() => document.querySelector('#files').textContent.includes('upload://memo.hwpx')")
        listed = set(page.locator("#files tbody tr td:first-child").all_text_contents())
        assert {"upload://upload.pdf", "upload://memo.hwpx", "gpu-offload.pdf"} <= listed
        _shot(page, "demo-collections.png")
        assert errors == []
        browser.close()
