"""The web app in a real browser (Playwright + Chromium) against a live server with the test fakes:
what a person sees and where it is — a Korean question typed through IME composition, a streamed
answer with chips, the cited words boxed on the PDF page (checked against the PDF's own character
boxes, on both pages of a chunk that crosses a page break), a reload that keeps it, stop, uploads
by drag and drop, a query key that cannot delete, the interface in Korean and English.

Set FOLDRAG_SCREENSHOTS to a folder to keep screenshots of the main screens (docs/screenshots/).
"""

from __future__ import annotations

import base64
import os
import shutil
import threading
from pathlib import Path

import httpx
import pytest

from foldrag.api.app import create_app
from tests.docs_factory import write_hwpx
from tests.fakes import HashEmbedder, LoopChat
from tests.server_support import fake_builder, live_server, make_collection, serve_settings, until, write_docs

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed "
                                "(scripts/run.sh test installs it as root)")
SHOTS = os.environ.get("FOLDRAG_SCREENSHOTS")


def _tag(n: int) -> str:
    return chr(ord("a") + n // 26) + chr(ord("a") + n % 26)


def lorem(sentences: int, first: int = 0) -> str:
    """Sentences whose words are unique (a two-letter tag each: a Korean question's Kiwi path and an
    English text's Snowball path cut 'harbor55' differently, 'harborbd' alike)."""
    return " ".join(f"Orbit{t} carries cargo{t} across harbor{t} lanes{t} every{t} morning{t}."
                    for t in map(_tag, range(first, first + sentences)))


def write_atlas(path: Path) -> Path:
    """Two pages, one paragraph running from the first onto the second."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.multi_cell(0, 7, lorem(80))
    pdf.output(str(path))
    return path


def crossing_chunk(rag):
    """The chunk of atlas.pdf boxed on pages 1 and 2."""
    for chunk in rag.snapshot().store.chunks_of("atlas.pdf"):
        if {b.page for s in chunk.spans for b in s.boxes} == {1, 2}:
            return chunk
    raise AssertionError("no chunk of atlas.pdf crosses its page break")


def word_boxes(path: Path, page: int, words: list[str]) -> list[tuple[float, float, float, float]]:
    """pdfium's loose boxes (points from the top left) of the characters of each word found once on the page."""
    import pypdfium2

    doc = pypdfium2.PdfDocument(str(path))
    try:
        pg = doc[page - 1]
        tp = pg.get_textpage()
        left, _, _, top = pg.get_bbox()
        full = tp.get_text_range()
        out = []
        for word in words:
            if full.count(word) != 1:
                continue
            index, count = tp.search(word, match_case=True).get_next()
            for i in range(index, index + count):
                x0, y0, x1, y1 = tp.get_charbox(i, loose=True)
                out.append((x0 - left, top - y1, x1 - left, top - y0))
        tp.close()
        return out
    finally:
        doc.close()


def highlight_rects(page) -> tuple[list[tuple[float, float, float, float]], float, float]:
    """The page's highlight boxes in PDF points, read from where the browser drew them over the image."""
    return page.evaluate("""() => {
        const img = document.querySelector('#source .page img').getBoundingClientRect();
        return [[...document.querySelectorAll('#source .page .hl')].map(el => {
            const r = el.getBoundingClientRect();
            return [(r.left - img.left) / img.width, (r.top - img.top) / img.height,
                    (r.right - img.left) / img.width, (r.bottom - img.top) / img.height];
        }), img.width, img.height];
    }""")


def covered(boxes, rects, size) -> float:
    """The share of character boxes whose centre lies inside a highlight (rects as fractions of the page)."""
    w, h = size
    scaled = [(r[0] * w, r[1] * h, r[2] * w, r[3] * h) for r in rects]
    inside = sum(any(r[0] - 0.8 <= (b[0] + b[2]) / 2 <= r[2] + 0.8 and r[1] - 0.8 <= (b[1] + b[3]) / 2 <= r[3] + 0.8
                     for r in scaled) for b in boxes)
    return inside / len(boxes)


class Web:
    def __init__(self, settings, tmp_path: Path, chat: LoopChat, **server) -> None:
        docs = write_docs(tmp_path / "docs")
        write_atlas(docs / "atlas.pdf")
        self.pdf = docs / "atlas.pdf"
        cfg = serve_settings(settings, allowed_hosts=[], allowed_roots=[tmp_path], **server)
        self.chat = chat
        embedder = HashEmbedder()
        self.rag = make_collection(cfg, embedder, chat, docs)
        self.app = create_app(cfg, {"docs": self.rag}, builder=fake_builder(cfg, embedder, chat))


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync", "--disable-background-networking",
            "--disable-component-update", "--font-render-hinting=none"])
        yield launched
        launched.close()


def _open(browser, url: str, locale: str = "en-US", fragment: str = ""):
    page = browser.new_page(viewport={"width": 1400, "height": 900}, locale=locale)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url + "/" + fragment)
    page.wait_for_selector("#collection option", state="attached")
    return page, errors


def _ready(url: str) -> None:
    assert until(lambda: httpx.get(url + "/readyz").status_code == 200)


def _ask(page, question: str, nth: int = 1) -> None:
    """Type ``question``, send it with Enter, and wait until the ``nth`` answer is done."""
    page.fill("#question", question)
    page.press("#question", "Enter")
    page.wait_for_selector(f".msg.assistant[data-status=done] >> nth={nth - 1}")


def _shot(page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / name))


def _compose(page, pieces: list[str]) -> None:
    """Type through the IME as a Korean keyboard does: composition updates, then the commit."""
    cdp = page.context.new_cdp_session(page)
    for piece in pieces:
        cdp.send("Input.imeSetComposition", {"text": piece, "selectionStart": len(piece), "selectionEnd": len(piece)})
    return cdp


def test_a_korean_question_streams_an_answer_whose_chip_opens_the_cited_words_on_both_pages(settings, tmp_path, browser):
    hold = threading.Event()
    web = Web(settings, tmp_path, LoopChat("Cargo crosses the harbor lanes every morning [1]. Each orbit carries its own cargo [1].",
                                                  piece=8, hold=hold))
    crossing = crossing_chunk(web.rag)
    # the sentence that runs over the page break: any chunk holding it crosses the break too
    [(a, b)] = [(s.start, s.end) for s in crossing.spans if {x.page for x in s.boxes} == {1, 2}]
    harbor, lanes = [w.strip(".") for w in crossing.text[a:b].split() if w.startswith(("harbor", "lanes"))]
    question_words = f"{harbor} {lanes}"
    # in Korean, as the question is: an answer in another language would be replaced by its evidence
    web.chat.reply = f"화물은 매일 아침 {harbor} 항로를 건넙니다 [1]. 궤도선마다 제 화물을 나릅니다 [1]."
    with live_server(web.app) as url:
        _ready(url)
        page, errors = _open(browser, url)
        q = page.locator("#question")
        q.click()
        page.keyboard.insert_text(question_words + " ")
        cdp = _compose(page, ["무", "무어", "무엇"])
        # Enter while 무엇 is still being composed belongs to the IME: nothing is sent
        cdp.send("Input.dispatchKeyEvent", {"type": "rawKeyDown", "key": "Enter", "code": "Enter",
                                            "windowsVirtualKeyCode": 229, "nativeVirtualKeyCode": 229})
        assert page.locator(".msg.user").count() == 0
        cdp.send("Input.insertText", {"text": "무엇"})  # the syllables are committed
        page.keyboard.insert_text("인가요?")
        assert q.input_value() == question_words + " 무엇인가요?"
        page.keyboard.press("Enter")
        page.wait_for_selector(".msg.user")
        assert page.text_content(".msg.user") == question_words + " 무엇인가요?" and q.input_value() == ""

        # streamed: the first words show while the rest is held, before any chip
        page.wait_for_function("() => { const b = document.querySelector('.msg.assistant .body');"
                               " return b && b.textContent.length > 0 && !document.querySelector('.chip'); }")
        assert page.is_visible("#stop") and not page.is_visible("#send")
        hold.set()
        page.wait_for_selector(".msg.assistant .chip")
        page.wait_for_function("() => !document.querySelector('#send').hidden")
        assert page.locator(".msg.assistant .chip").count() == 2
        assert "loop-chat" in page.text_content(".msg.assistant .meta")

        # hover: file, page, snippet and the ranks behind its place
        page.hover(".msg.assistant .chip >> nth=0")
        tip = page.text_content("#tip")
        assert "atlas.pdf · p.1" in tip and "bm25 #1" in tip and "fused #1" in tip

        # click: the source pane beside the chat opens at the page where the supporting sentence
        # starts; the chunk's words are boxed on both pages it spans, that sentence more strongly
        chunk = web.rag.snapshot().store.by_id(page.get_attribute(".msg.assistant .chip >> nth=0", "data-chunk"))
        assert chunk.source == "atlas.pdf" and chunk.page == 1
        chunk_words = [w.strip(".") for w in chunk.text.split()]  # each found once on its page, or not at all
        size = (595.28, 841.89)
        page.click(".msg.assistant .chip >> nth=0")
        page.wait_for_selector("#source .page .hl")
        chat_box, pane_box = page.locator("#chat-view").bounding_box(), page.locator("#source").bounding_box()
        assert pane_box["x"] >= chat_box["x"] + chat_box["width"] - 1 and pane_box["width"] > 400  # beside, not over
        assert page.text_content("#page-no") == "p. 1 / 2"
        assert page.locator("#source .hl.support").count() >= 1
        rects, _, _ = highlight_rects(page)
        first = word_boxes(web.pdf, 1, chunk_words)
        assert len(first) > 10 and covered(first, rects, size) >= 0.99
        _shot(page, "source-pdf.png")

        page.click("#next-page")
        page.wait_for_selector("#source .page[data-page='2'] .hl")
        assert page.text_content("#page-no") == "p. 2 / 2"
        assert page.locator("#source .hl.support").count() >= 1  # the sentence goes on here
        rects, _, _ = highlight_rects(page)
        second = word_boxes(web.pdf, 2, chunk_words)
        assert len(second) > 5 and covered(second, rects, size) >= 0.99

        # a reload brings back the conversation, its chips and its highlights
        page.reload()
        page.wait_for_selector("#conversations li .title")
        page.click("#conversations li .title")
        page.wait_for_selector(".msg.assistant .chip")
        assert page.locator(".msg.assistant .chip").count() == 2
        page.click(".msg.assistant .chip >> nth=0")
        page.wait_for_selector("#source .page .hl.support")
        rects, _, _ = highlight_rects(page)
        assert covered(first, rects, size) >= 0.99
        assert errors == []


def test_the_evidence_shows_before_the_answer_and_opens_the_page_its_sentence_is_on(settings, tmp_path, browser):
    """The supporting sentences appear under the question while the model has written nothing; a
    sentence printed on page 2 of a chunk that starts on page 1 opens page 2, and so does the chip."""
    gate = threading.Event()
    web = Web(settings, tmp_path, LoopChat(piece=8, gate=gate))
    crossing = crossing_chunk(web.rag)
    # a sentence of the crossing chunk that lies wholly on page 2
    a, b = next((s.start, s.end) for s in crossing.spans if {x.page for x in s.boxes} == {2})
    sentence = crossing.text[a:b]
    harbor, lanes = [w.strip(".") for w in sentence.split() if w.startswith(("harbor", "lanes"))]
    web.chat.reply = f"화물은 매일 아침 {harbor} {lanes} 항로를 건넙니다 [1]."
    with live_server(web.app) as url:
        _ready(url)
        page, errors = _open(browser, url, locale="ko-KR")
        page.fill("#question", f"{harbor} {lanes} 무엇인가요?")
        page.press("#question", "Enter")
        page.wait_for_selector(".msg.assistant .evidence-open")
        assert not gate.is_set()
        assert page.text_content(".msg.assistant .body") == "", "the model has written nothing yet"
        assert page.text_content(".msg.assistant .evidence-title") == "근거 문장"
        top = page.locator(".msg.assistant .evidence-open >> nth=0")
        assert top.locator(".evidence-text").text_content() == " ".join(sentence.split())
        assert top.locator(".evidence-where").text_content() == "atlas.pdf · p.2"
        # under the question, above where the answer is written
        question_box = page.locator(".msg.user").bounding_box()
        evidence_box = page.locator(".msg.assistant .evidence").bounding_box()
        body_box = page.locator(".msg.assistant .body").bounding_box()
        assert question_box["y"] + question_box["height"] <= evidence_box["y"]
        assert evidence_box["y"] + evidence_box["height"] <= body_box["y"] + 1
        _shot(page, "evidence-first.png")

        top.click()  # while the model waits: the sentence's own page, the sentence boxed strongly
        page.wait_for_selector("#source .page[data-page='2'] .hl.support")
        assert page.text_content("#page-no") == "2 / 2쪽"
        assert page.get_attribute(".msg.assistant .evidence-open >> nth=0", "class").split()[-1] == "open"

        gate.set()
        page.wait_for_selector(".msg.assistant[data-status=done] .chip")
        page.click("#close-source")
        page.wait_for_selector("#source", state="hidden")
        page.click(".msg.assistant .chip >> nth=0")
        page.wait_for_selector("#source .page[data-page='2'] .hl.support")
        assert page.text_content("#page-no") == "2 / 2쪽"
        assert errors == []


def test_stop_ends_the_generation_on_the_server(settings, tmp_path, browser):
    chat = LoopChat("word " * 4, piece=5, endless=True)  # only a cancellation ends it
    web = Web(settings, tmp_path, chat)
    with live_server(web.app) as url:
        _ready(url)
        page, errors = _open(browser, url, locale="ko-KR")
        page.fill("#question", "What is the capital of France?")
        page.press("#question", "Enter")
        page.wait_for_function("() => (document.querySelector('.msg.assistant .body') || {}).textContent")
        page.click("#stop")
        assert chat.cancelled.wait(10), "the generation went on after stop"
        page.wait_for_selector(".msg.assistant[data-status=stopped]")
        assert page.text_content(".msg.assistant .note") == "중지했습니다."
        assert page.is_visible("#send") and page.text_content("#send") == "보내기"
        assert errors == []


def test_files_dropped_on_a_collection_upload_with_progress_and_index_to_the_jobs_end(settings, tmp_path, browser):
    web = Web(settings, tmp_path, LoopChat())
    hwpx = write_hwpx(tmp_path / "leave.hwpx", "# 휴가 규정\n\n연차는 15일이고 병가는 10일이다.\n")
    pdf = write_atlas(tmp_path / "upload.pdf")
    with live_server(web.app) as url:
        _ready(url)
        page, errors = _open(browser, url)
        page.click("#open-collections")
        page.wait_for_selector("#files tbody tr")
        files = [{"name": p.name, "data": base64.b64encode(p.read_bytes()).decode()} for p in (pdf, hwpx)]
        page.evaluate("""(files) => {
            const dt = new DataTransfer();
            for (const f of files) {
                const bytes = Uint8Array.from(atob(f.data), c => c.charCodeAt(0));
                dt.items.add(new File([bytes], f.name));
            }
            document.querySelector('#drop').dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true}));
        }""", files)
        page.wait_for_function("() => /^Done:/.test(document.querySelector('#job').textContent)", timeout=60000)
        assert page.locator("#uploads li").count() == 2
        assert page.evaluate("() => [...document.querySelectorAll('#uploads progress')].map(p => p.value)") == [1, 1]
        page.wait_for_function("() => document.querySelectorAll('#files tbody tr').length === 6")
        listed = page.locator("#files tbody tr td:first-child").all_text_contents()
        assert {"upload://upload.pdf", "upload://leave.hwpx"} <= set(listed)
        assert "2 added" in page.text_content("#job")
        assert errors == []


def test_a_collection_is_made_from_a_folder_indexed_and_deleted(settings, tmp_path, browser):
    web = Web(settings, tmp_path, LoopChat("병가는 30일이다 [1]. 두 컬렉션의 답이다 [2]."))
    write_docs(tmp_path / "handbook", {"leave.md": "# 휴가\n\n병가는 30일이다.\n", "pay.md": "# Pay\n\nPaid monthly.\n"})
    with live_server(web.app) as url:
        _ready(url)
        page, errors = _open(browser, url)
        page.on("dialog", lambda dialog: dialog.accept())
        page.click("#open-collections")
        page.wait_for_selector("#files tbody tr")
        assert page.is_hidden("#delete-collection")  # docs comes from the settings
        page.fill("#new-name", "handbook")
        page.fill("#new-path", str(tmp_path / "handbook"))
        page.click("#new-collection button")
        page.wait_for_function("() => /^Done:/.test(document.querySelector('#job').textContent)")
        page.wait_for_function("() => document.querySelector('#detail-name').textContent === 'handbook' && "
                               "document.querySelectorAll('#files tbody tr').length === 2")
        assert page.locator("#collection-list .card").count() == 2
        assert page.locator("#collection option").all_text_contents() == ["docs", "handbook"]

        # one question to both: tick the other collection beside the picked one
        page.click("#back-to-chat")
        page.check("#also input[value=handbook]")
        page.fill("#question", "병가는 며칠인가요?")
        page.press("#question", "Enter")
        page.wait_for_selector(".msg.assistant[data-status=done] .chip")
        page.click(".msg.assistant .chip[aria-label='leave.md']")  # from the other collection
        page.wait_for_selector("#source .text-view mark.support")  # the supporting sentence, marked strongly
        assert page.text_content("#source-title") == "leave.md"
        assert page.text_content("#source .text-view mark.support") == "병가는 30일이다."
        page.click("#open-collections")
        page.click("#collection-list .card >> text=handbook")
        page.wait_for_selector("#delete-collection:not([hidden])")
        page.click("#delete-collection")
        page.wait_for_function("() => document.querySelectorAll('#collection-list .card').length === 1")
        assert not (web.app.state.foldrag.settings.server.collections_dir / "handbook").exists()
        assert errors == []


def test_a_query_key_can_ask_and_view_but_not_delete(settings, tmp_path, browser):
    web = Web(settings, tmp_path, LoopChat(), api_keys=["admin-key"], query_keys=["page-key"])
    with live_server(web.app) as url:
        _ready(url)
        page, errors = _open(browser, url, fragment="#key=page-key")
        page.click("#open-collections")
        page.wait_for_selector("#files tbody tr")
        before = page.locator("#files tbody tr").count()
        page.on("dialog", lambda dialog: dialog.accept())
        page.click("#files tbody tr >> nth=0 >> button")
        page.wait_for_selector("#job .note")
        assert "admin key" in page.text_content("#job .note")
        assert page.locator("#files tbody tr").count() == before
        assert len(httpx.get(url + "/v1/documents", headers={"authorization": "Bearer admin-key"}).json()["documents"]) == before
        assert errors == []


def test_the_interface_speaks_the_browsers_language_and_switches(settings, tmp_path, browser):
    web = Web(settings, tmp_path, LoopChat())
    with live_server(web.app) as url:
        _ready(url)
        page, _ = _open(browser, url, locale="ko-KR")
        assert page.text_content("#new-chat") == "새 대화" and page.get_attribute("html", "lang") == "ko"
        # the retrieval mode a question runs in unless changed: auto, the measured default
        assert page.input_value("#mode") == "auto" and page.text_content("#mode option:checked") == "자동"
        page.select_option("#lang", "en")
        assert page.text_content("#new-chat") == "New chat" and page.get_attribute("html", "lang") == "en"
        assert page.text_content("#mode option:checked") == "auto"
        page.reload()
        page.wait_for_selector("#collection option", state="attached")
        assert page.text_content("#new-chat") == "New chat"  # the choice is kept


def test_answers_are_markdown_rendered_and_sanitised(settings, tmp_path, browser):
    reply = ("**Paris** is the capital [1].\n\n- one\n- two\n\n<img src=x onerror=\"window.__owned=1\">"
             "<script>window.__owned=2</script>[link](javascript:window.__owned=3)")
    web = Web(settings, tmp_path, LoopChat(reply, piece=7))
    with live_server(web.app) as url:
        _ready(url)
        page, errors = _open(browser, url)
        _ask(page, "What is the capital of France?")
        body = page.locator(".msg.assistant .body")
        [conversation] = httpx.get(url + "/v1/conversations").json()["conversations"]
        given = httpx.get(f"{url}/v1/conversations/{conversation['id']}").json()["messages"][1]["content"]
        assert "onerror" in given and "<script>" in given  # the server passed them on: the page must not run them
        assert body.locator("strong").text_content() == "Paris" and body.locator("li").count() == 2
        assert body.locator("script").count() == 0 and body.locator("[onerror]").count() == 0
        assert all(not (a.get_attribute("href") or "").startswith("javascript:") for a in body.locator("a").all())
        if body.locator("a").count():
            body.locator("a").first.click()
        assert page.evaluate("window.__owned") is None and errors == []


def test_a_follow_up_sends_the_answer_as_written(settings, tmp_path, browser):
    """The history a follow-up sends holds the answer as the server wrote it ([1], not the chip's
    "1"), so the model reads the earlier turn as it was."""
    chat = LoopChat("Paris is the capital of France [1].", piece=7)
    web = Web(settings, tmp_path, chat)
    with live_server(web.app) as url:
        _ready(url)
        page, errors = _open(browser, url)
        _ask(page, "What is the capital of France?")
        assert page.locator(".msg.assistant .chip").first.text_content() == "1"
        _ask(page, "And its river?", nth=2)
        last = chat.calls[-1]
        assert len(chat.calls) == 3, "the answer, the follow-up condensed, its answer"
        assert {"role": "user", "content": "What is the capital of France?"} in last
        assert {"role": "assistant", "content": "Paris is the capital of France [1]."} in last
        assert last[-1]["content"].endswith("Question: And its river?")
        assert page.locator(".msg.assistant").count() == 2 and errors == []
