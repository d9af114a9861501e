"""A folder of the documents Korean users have — HWP, HWPX, a scanned PDF, a PDF with a table, slides
and a workbook — ingests, and each file answers a Korean search with its own chunk."""

from __future__ import annotations

from tests.server_support import shared_tokenizer

import sqlite3

import pytest

from foldrag.indexes.chunk_store import ChunkStore
from foldrag.build import build_rag
from foldrag.core.types import Chunk
from tests.docs_factory import (
    write_hwp, write_hwpx, write_pdf_with_table, write_pptx, write_scanned_pdf, write_xlsx,
)
from tests.test_formats import needs_ocr


@pytest.fixture
def korean_folder(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    write_hwp(docs / "보고서.hwp", "# 연구 보고서\n\n올해 반도체 수출은 크게 증가하였다.\n")
    write_hwpx(docs / "회의록.hwpx", "# 회의록\n\n다음 회의는 목요일 오후 세 시에 열린다.\n")
    write_scanned_pdf(docs / "스캔.pdf", ["제주도의 특산물은 감귤과 흑돼지이다."])
    write_pdf_with_table(docs / "budget.pdf", "Budget table.", [["Item", "Cost"], ["Server", "4,200"]], "End.")
    write_pptx(docs / "발표.pptx", [{"title": "신제품 출시", "body": "출시일은 삼월 십오일로 정했다.",
                                     "notes": "경쟁사 가격을 비교할 것"}])
    write_xlsx(docs / "재고.xlsx", {"창고": [["품목", "수량"], ["나사못", 1500], ["볼트", 320]]})
    (docs / "망가진.hwp").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100)
    (docs / "망가진.pptx").write_bytes(b"PK\x03\x04 not a deck")
    (docs / "망가진.xlsx").write_bytes(b"PK\x03\x04 not a workbook")
    return docs


@needs_ocr
def test_korean_document_folder_ingests_and_every_file_is_found(korean_folder, settings, fake_embedder):
    rag = build_rag(settings, embedder=fake_embedder, tokenizer=shared_tokenizer())
    try:
        summary = rag.ingest(korean_folder)
        failed = {f.path: f.reason for f in summary.failed}
        assert summary.added == 6, failed
        assert set(failed) == {"망가진.hwp", "망가진.pptx", "망가진.xlsx"}
        assert "corrupt PPTX" in failed["망가진.pptx"] and "corrupt XLSX" in failed["망가진.xlsx"]
        assert "HWP" in failed["망가진.hwp"]
        for query, source in [("반도체 수출", "보고서.hwp"), ("회의는 목요일", "회의록.hwpx"),
                              ("제주도 특산물 감귤", "스캔.pdf"), ("Server cost", "budget.pdf"),
                              ("신제품 출시일", "발표.pptx"), ("경쟁사 가격", "발표.pptx"),
                              ("나사못 수량", "재고.xlsx")]:
            top = rag.search(query, k=1, mode="bm25")[0].chunk
            assert top.source == source, (query, top)
        scanned = rag.search("감귤 흑돼지", k=1, mode="bm25")[0].chunk
        assert scanned.ocr and scanned.page == 1
        assert not rag.search("반도체", k=1, mode="bm25")[0].chunk.ocr
        assert "| 나사못 | 1500 |" in rag.search("나사못", k=1, mode="bm25")[0].chunk.text
    finally:
        rag.close()


def test_an_index_written_before_the_ocr_column_still_opens_and_upgrades(tmp_path):
    path = tmp_path / "chunks.sqlite"
    store = ChunkStore.create(path)
    import numpy as np

    from foldrag.indexes.chunk_store import FileRecord

    chunk = Chunk(id="c1", source="a.txt", text="옛 색인", ocr=True)
    store.replace_file(FileRecord("a.txt", "0" * 64, 1, 1, 1), [chunk], np.zeros((1, 4), np.float32))
    store.commit()
    store.close()
    conn = sqlite3.connect(path)
    conn.execute("ALTER TABLE chunks DROP COLUMN ocr")  # as an index from before this column
    conn.commit()
    conn.close()
    old = ChunkStore.open_readonly(path)
    assert old.chunks()[0].text == "옛 색인" and old.chunks()[0].ocr is False
    upgraded = old.copy_to(tmp_path / "next.sqlite")
    old.close()
    upgraded.replace_file(FileRecord("b.txt", "1" * 64, 1, 1, 1), [Chunk(id="c2", source="b.txt", text="새", ocr=True)],
                          np.zeros((1, 4), np.float32))
    upgraded.commit()
    assert {c.id: c.ocr for c in upgraded.chunks()} == {"c1": False, "c2": True}
    upgraded.close()
