"""Where a chunk's words are on the page, computed at ingest: checked against the PDF's own
character boxes (pdfium's text search finds each word; its boxes must lie inside the highlight),
for English and Korean, across a page break, beside a table; and what a store without places reads."""

from __future__ import annotations

import sqlite3

import pytest

from foldrag.core.locations import PageBoxes, sentence_spans
from foldrag.ingest.chunking import chunk_file, make_splitter
from foldrag.ingest.parsers import ParseOptions, parse_file
from tests.docs_factory import NANUM, write_pdf, write_pdf_with_table

def lorem(sentences: int, first: int = 0) -> str:
    """English sentences whose every long word is unique, so the PDF's own text search finds it once."""
    return " ".join(f"Fusion{n} merges ranked{n} lists{n} by summing{n} reciprocal{n} ranks{n}."
                    for n in range(first, first + sentences))


def _chunks(path, chunk_tokens=400):
    splitter = make_splitter(lambda text: len(text.split()), chunk_tokens, 0)
    return chunk_file(parse_file(path.name, path.read_bytes(), ParseOptions(ocr="off")), splitter)


def _inside(box, rects, slack=0.6) -> bool:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return any(r[0] - slack <= cx <= r[2] + slack and r[1] - slack <= cy <= r[3] + slack for r in rects)


def _word_boxes(pdf_path, page: int, words: list[str]):
    """Loose pdfium boxes (top-left origin) of each word that occurs once on ``page``."""
    import pypdfium2

    doc = pypdfium2.PdfDocument(str(pdf_path))
    pg = doc[page - 1]
    tp = pg.get_textpage()
    left, bottom, right, top = pg.get_bbox()
    full = tp.get_text_range()
    out = {}
    for word in words:
        if len(word) < 3 or full.count(word) != 1:
            continue
        found = tp.search(word, match_case=True, match_whole_word=False).get_next()
        if found is None:
            continue
        index, count = found
        boxes = []
        for i in range(index, index + count):
            x0, y0, x1, y1 = tp.get_charbox(i, loose=True)
            boxes.append((x0 - left, top - y1, x1 - left, top - y0))
        out[word] = boxes
    tp.close()
    doc.close()
    return out


def _covered_share(pdf_path, chunk) -> tuple[float, int]:
    """The share of the chunk's (unique) words' characters whose box lies inside its highlight."""
    inside = total = 0
    rects_by_page: dict[int, list] = {}
    for span in chunk.spans:
        for pb in span.boxes:
            rects_by_page.setdefault(pb.page, []).extend(pb.boxes)
    words = [w.strip(".,()") for w in chunk.text.split()]
    for page, rects in rects_by_page.items():
        for boxes in _word_boxes(pdf_path, page, words).values():
            total += len(boxes)
            inside += sum(_inside(b, rects) for b in boxes)
    return (inside / total if total else 0.0), total


def test_a_chunks_sentences_are_boxed_over_their_own_words(tmp_path):
    path = write_pdf(tmp_path / "fusion.pdf", [lorem(6)])
    [chunk] = _chunks(path)
    assert len(chunk.spans) == len(sentence_spans(chunk.text)) == 6  # line wraps are not sentence ends
    share, counted = _covered_share(path, chunk)
    assert counted > 150 and share >= 0.99
    first = chunk.spans[0]
    [where] = first.boxes
    assert where.page == 1 and (where.width, where.height) == pytest.approx((595.28, 841.89), abs=0.01)
    # the first sentence's boxes lie above the last one's: places follow the text, not the page top
    assert first.boxes[0].boxes[0][1] < chunk.spans[-1].boxes[-1].boxes[-1][1]


@pytest.mark.skipif(not NANUM.exists(), reason="fonts-nanum is not installed")
def test_korean_words_are_boxed(tmp_path):
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_font("nanum", fname=str(NANUM))
    pdf.add_page()
    pdf.set_font("nanum", size=12)
    text = ("형태소 분석기는 한국어 문장을 형태소로 나눕니다. 검색은 조사를 떼어 낸 어간으로 찾습니다. "
            "키위는 빠르고 정확한 분석기입니다. 문서 폴더를 색인하면 질문에 근거가 되는 구절을 보여 줍니다. "
            "답변의 인용을 누르면 원문 쪽이 열리고 그 문장이 강조됩니다.")
    pdf.multi_cell(0, 8, text)
    path = tmp_path / "korean.pdf"
    pdf.output(str(path))
    [chunk] = _chunks(path)
    share, counted = _covered_share(path, chunk)
    assert counted > 15 and share >= 0.99


def test_a_chunk_across_a_page_break_is_boxed_on_both_pages(tmp_path):
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.multi_cell(0, 7, lorem(80))  # runs over onto page 2: fpdf breaks the page mid-paragraph
    path = tmp_path / "long.pdf"
    pdf.output(str(path))
    chunks = _chunks(path, chunk_tokens=70)
    crossing = [c for c in chunks if {b.page for s in c.spans for b in s.boxes} == {1, 2}]
    assert crossing, [(c.page, {b.page for s in c.spans for b in s.boxes}) for c in chunks]
    chunk = crossing[0]
    assert chunk.page == 1  # cited from the page it starts on
    share, counted = _covered_share(path, chunk)
    assert counted > 20 and share >= 0.99
    after = [c for c in chunks if c.page == 2]
    assert after and all(c.page == 2 for c in chunks[chunks.index(after[0]):])


def test_the_text_beside_a_table_keeps_its_boxes(tmp_path):
    path = write_pdf_with_table(tmp_path / "leave.pdf", "Leave policy for all staff members.",
                                [["Kind", "Days"], ["Annual", "15"], ["Sick", "10"]],
                                "Unused annual days expire at the end of the year.")
    [chunk] = _chunks(path)
    assert "| Kind | Days |" in chunk.text  # the table, as Markdown, between the paragraphs
    share, counted = _covered_share(path, chunk)
    assert counted >= 6 and share >= 0.99


def test_a_page_box_round_trips_through_json():
    box = PageBoxes(page=3, width=595.28, height=841.89, boxes=((10.0, 20.5, 110.25, 32.0),))
    assert PageBoxes.from_json(box.to_json()) == box


def test_a_store_from_before_places_reads_chunks_without_them(tmp_path):
    """An index built before locations opens (its chunks have no spans: the text view) and gains the
    column when written again."""
    from foldrag.indexes.chunk_store import ChunkStore

    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript("""
        CREATE TABLE files (source TEXT PRIMARY KEY, sha256 TEXT NOT NULL, size INTEGER NOT NULL,
                            mtime_ns INTEGER NOT NULL, chunks INTEGER NOT NULL);
        CREATE TABLE chunks (rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, source TEXT NOT NULL, page INTEGER,
                             title TEXT, heading TEXT, start INTEGER NOT NULL, "end" INTEGER NOT NULL,
                             text TEXT NOT NULL, vector BLOB NOT NULL, tokens TEXT);
        INSERT INTO chunks (id, source, page, start, "end", text, vector) VALUES ('c1', 'a.pdf', 1, 0, 5, 'hello', x'');
    """)
    conn.commit()
    conn.close()
    old = ChunkStore.open_readonly(path)
    [chunk] = old.chunks()
    assert chunk.spans == () and chunk.ocr is False and old.ocr_pages() == {}
    copy = old.copy_to(tmp_path / "new.sqlite")
    assert {r[1] for r in copy._conn.execute("PRAGMA table_info(chunks)")} >= {"ocr", "spans"}
    old.close()
    copy.close()
