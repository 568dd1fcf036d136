"""The streaming PDF writer of the binder: pages, inherited attributes, internal links, outline."""
from __future__ import annotations

import io

from pypdf import PdfReader, PdfWriter
from pypdf.annotations import Link
from pypdf.generic import RectangleObject

from archive.demo.documents import make_pdf
from archive.sampling.pdfstream import Bookmark, StreamingPdf


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
