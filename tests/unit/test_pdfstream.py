"""The streaming PDF writer of the binder: pages, inherited attributes, internal links, outline."""
from __future__ import annotations

import io

from pypdf import PdfReader, PdfWriter
from pypdf.annotations import Link
from pypdf.generic import RectangleObject

from archive.demo.documents import make_pdf
from archive.casefile.pdfstream import Bookmark, StreamingPdf


def _with_link(pages: int) -> bytes:
    w = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf("链接测试", ["第一页"], pages=pages))))
    w.add_annotation(page_number=0, annotation=Link(rect=(50, 50, 200, 80), target_page_index=pages - 1))
    buf = io.BytesIO()
    w.write(buf)
    return buf.getvalue()


def test_documents_are_copied_with_their_links_and_an_outline():
    a, b = make_pdf("甲", ["甲文书"], pages=2), _with_link(3)
    out = io.BytesIO()
    pdf = StreamingPdf(out)
    assert pdf.add(PdfReader(io.BytesIO(a))) == 0
    assert pdf.add(PdfReader(io.BytesIO(b))) == 2
    assert pdf.finish([Bookmark("甲", 0), Bookmark("乙", 2, [Bookmark("乙的末页", 4)])]) == 5
    r = PdfReader(io.BytesIO(out.getvalue()), strict=True)
    assert len(r.pages) == 5
    assert "甲文书" in r.pages[0].extract_text().replace("\x00", "")
    assert r.pages[2].mediabox == RectangleObject(PdfReader(io.BytesIO(b)).pages[0].mediabox)
    # the link on the first page of the second document still lands on its own last page
    link = r.pages[2]["/Annots"][0].get_object()
    dest = link["/Dest"] if "/Dest" in link else link["/A"]["/D"]
    assert r.get_page_number(dest[0].get_object()) == 4
    flat = [(it.title, r.get_destination_page_number(it)) for it in r.outline if not isinstance(it, list)]
    assert flat == [("甲", 0), ("乙", 2)]
    nested = [x for x in r.outline if isinstance(x, list)][0]
    assert [(it.title, r.get_destination_page_number(it)) for it in nested] == [("乙的末页", 4)]


def test_contents_over_several_pages_number_the_parts_after_themselves():
    """The dry run with a built-in font measures the contents exactly, however many pages."""
    import datetime as dt
    import re
    from types import SimpleNamespace

    from archive.casefile.bundle import BinderPart, _front_matter

    when = dt.datetime(2026, 3, 2, 10, tzinfo=dt.timezone.utc)
    docs = [SimpleNamespace(form_code="inquiry_record", filename=f"询问笔录第{i}份.pdf", stage="investigation",
                            uploaded_at=when) for i in range(70)]
    parts = [BinderPart(d, d.filename, pages=2) for d in docs[:68]]
    parts += [BinderPart(d, d.filename, note="DOCX，未安装 LibreOffice 无法转换") for d in docs[68:]]
    case = SimpleNamespace(kind="penalty", procedure="general", number="津武市监罚〔2026〕1号", party_name="某公司",
                           summary="超长案由" * 200, opened_on=dt.date(2026, 3, 2))
    front, toc_pages = _front_matter(case, "武清区市场监督管理局", parts)
    r = PdfReader(io.BytesIO(front))
    assert toc_pages >= 3 and len(r.pages) == 1 + toc_pages
    assert parts[0].start == 1 and parts[67].start == 135 and parts[68].start == 0
    text = "".join(page.extract_text() for page in r.pages[1:]).replace("\x00", "")
    # the first part is on the page after the cover and the contents; the last PDF part 2 pages on
    assert re.search(rf"询问笔录第0份.pdf.*?{1 + toc_pages + 1}", text, re.S)
    assert f"{1 + toc_pages + 135}" in text and "询问笔录第69份.pdf（DOCX" in text
