"""Real DOCX and PDF files with Chinese text, made here (demo data, tests and benchmarks)."""
from __future__ import annotations

import io

import docx
from docx.shared import Pt

from archive.casefile.fonts import FontMissing, cjk_font, cjk_fpdf  # noqa: F401  (re-exported for demo users)

def make_docx(title: str, paragraphs: list[str], *, table: list[list[str]] | None = None,
              header: str | None = None, footer: str | None = None) -> bytes:
    """A DOCX with a title, body paragraphs, an optional table, header and footer."""
    d = docx.Document()
    style = d.styles["Normal"]
    style.font.size = Pt(12)
    d.add_heading(title, level=1)
    for p in paragraphs:
        d.add_paragraph(p)
    if table:
        t = d.add_table(rows=len(table), cols=len(table[0]))
        for i, row in enumerate(table):
            for j, value in enumerate(row):
                t.cell(i, j).text = value
    if header:
        d.sections[0].header.paragraphs[0].text = header
    if footer:
        d.sections[0].footer.paragraphs[0].text = footer
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def make_pdf(title: str, paragraphs: list[str], *, pages: int = 1, encrypt_password: str | None = None) -> bytes:
    """A PDF with embedded Chinese font (text layer, wrapped lines), ``pages`` copies of the body."""
    pdf = cjk_fpdf()
    for _ in range(pages):
        pdf.add_page()
        pdf.set_font("cjk", size=16)
        pdf.multi_cell(0, 10, title, align="C", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("cjk", size=11)
        for p in paragraphs:
            pdf.multi_cell(0, 7, p, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2)
    if encrypt_password:
        pdf.set_encryption(owner_password=encrypt_password + "-owner", user_password=encrypt_password)
    return bytes(pdf.output())


def make_scanned_pdf() -> bytes:
    """A PDF with a page of drawing and no text layer (what a scanner produces)."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.add_page()
    pdf.set_line_width(1)
    for i in range(10):
        pdf.line(20, 20 + i * 10, 190, 20 + i * 10)
    return bytes(pdf.output())
