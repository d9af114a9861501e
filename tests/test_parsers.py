from __future__ import annotations

import pytest

from foldrag.ingest.errors import ParseError
from foldrag.ingest.parsers import parse_file
from tests.docs_factory import write_docx, write_pdf

KOREAN = "한국어 문서는 조사와 어미가 붙습니다. 형태소 분석기가 필요합니다."


def test_utf8_text():
    parsed = parse_file("a.txt", "hello\r\nworld\n\n\n\nend".encode())
    assert parsed.sections[0].text == "hello\nworld\n\nend"


@pytest.mark.parametrize("encoding", ["cp949", "euc-kr"])
def test_korean_legacy_encodings_are_detected(encoding):
    data = (KOREAN + "\n" + KOREAN.replace("필요", "중요") * 3).encode(encoding)
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    text = parse_file("ko.txt", data).sections[0].text
    assert KOREAN in text and "\ufffd" not in text


def test_utf16_with_bom():
    assert parse_file("u.txt", "안녕 hello".encode("utf-16")).sections[0].text == "안녕 hello"


def test_binary_is_refused():
    with pytest.raises(ParseError, match="binary"):
        parse_file("x.txt", b"PK\x03\x04\x00\x00binary")


@pytest.mark.parametrize("data", [b"", b"   \n\t\n"])
def test_empty_is_refused(data):
    with pytest.raises(ParseError, match="empty"):
        parse_file("e.md", data)


def test_markdown_front_matter_and_heading():
    parsed = parse_file("m.md", b"---\ntitle: 'My Notes'\n---\n# Heading\n\nBody text.\n")
    assert parsed.title == "My Notes"
    assert parsed.sections[0].text.startswith("# Heading")
    assert parse_file("n.md", b"intro\n\n## Second\n\ntext").title == "Second"


def test_html_drops_scripts_keeps_headings_and_title():
    html = b"""<html><head><title>T</title><script>var secret=1;</script><style>p{}</style></head>
    <body><nav>menu</nav><h2>Part</h2><p>First&nbsp;para.</p><p>Second para.</p></body></html>"""
    parsed = parse_file("p.html", html)
    text = parsed.sections[0].text
    assert parsed.title == "T"
    assert "secret" not in text and "menu" not in text and "p{}" not in text
    assert "## Part" in text and "First para." in text and "Second para." in text


def test_html_declared_legacy_charset():
    html = '<html><head><meta charset="euc-kr"></head><body><p>{}</p></body></html>'.format(KOREAN)
    assert KOREAN in parse_file("k.htm", html.encode("euc-kr")).sections[0].text


def test_pdf_pages_with_a_text_layer_are_one_run_that_knows_each_characters_page(tmp_path):
    path = write_pdf(tmp_path / "d.pdf", ["Alpha page text.", "Beta page text."])
    parsed = parse_file("d.pdf", path.read_bytes())
    [run] = parsed.sections
    assert run.page == 1 and run.text == "Alpha page text.\n\nBeta page text."
    assert run.layout.page_at(run.text.index("Alpha")) == 1 and run.layout.page_at(run.text.index("Beta")) == 2


def test_pdf_corrupt_and_imageless(tmp_path):
    with pytest.raises(ParseError, match="corrupt PDF"):
        parse_file("bad.pdf", b"%PDF-1.4\nthis is not a pdf at all")
    blank = write_pdf(tmp_path / "blank.pdf", [""])
    with pytest.raises(ParseError, match="no text layer"):
        parse_file("blank.pdf", blank.read_bytes())


def test_docx_headings_tables_and_title(tmp_path):
    path = write_docx(tmp_path / "d.docx", [(1, "Intro"), (None, "First paragraph."), (2, "Deeper"),
                                            (None, KOREAN)], title="Doc Title")
    parsed = parse_file("d.docx", path.read_bytes())
    text = parsed.sections[0].text
    assert parsed.title == "Doc Title"
    assert "## Intro" in text and "### Deeper" in text and KOREAN in text


def test_docx_corrupt():
    with pytest.raises(ParseError, match="corrupt DOCX"):
        parse_file("x.docx", b"PK\x03\x04 not really a zip")


def test_unsupported_suffix():
    with pytest.raises(ParseError, match="unsupported"):
        parse_file("x.exe", b"MZ\x90")
