"""Render a :class:`Report` as CSV or PDF (fpdf2, pure Python). Pure: report in, bytes out."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path

from fpdf import FPDF
from fpdf.fonts import FontFace

from analytics.reports.model import Report, fmt

__all__ = ["to_csv", "to_pdf", "write"]


def to_csv(report: Report) -> bytes:
    """One CSV file: the summary, then each section as ``# title``, a header row and its rows,
    sections separated by a blank line (spreadsheets and ``csv`` readers both take it)."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow([f"# {report.title}", report.subtitle])
    for label, value in report.summary:
        w.writerow([label, fmt(value)])
    for section in report.sections:
        w.writerow([])
        w.writerow([f"# {section.title}"])
        w.writerow(section.columns)
        for row in section.rows:
            w.writerow([fmt(v) for v in row])
    return out.getvalue().encode()


def _latin1(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1")  # the PDF core fonts


def to_pdf(report: Report, compress: bool = True) -> bytes:
    """A4 landscape, one table per section (``compress=False`` leaves the text readable in
    the file, for tests)."""
    pdf = FPDF(orientation="landscape", format="A4")
    pdf.set_compression(compress)
    pdf.set_auto_page_break(auto=True, margin=12)
    pdf.set_title(report.title)
    pdf.set_creator("StrikeFlow analytics")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 15)
    pdf.cell(0, 9, _latin1(report.title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 9)
    pdf.cell(0, 6, _latin1(report.subtitle), new_x="LMARGIN", new_y="NEXT")
    if report.summary:
        pdf.ln(2)
        with pdf.table(width=120, col_widths=(60, 60), text_align=("LEFT", "RIGHT"),
                       first_row_as_headings=False) as table:
            for label, value in report.summary:
                table.row([_latin1(label), _latin1(fmt(value))])
    for section in report.sections:
        pdf.ln(4)
        pdf.set_font("Helvetica", "B", 11)
        pdf.cell(0, 7, _latin1(section.title), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "", 7)
        if section.note:
            pdf.cell(0, 5, _latin1(section.note), new_x="LMARGIN", new_y="NEXT")
        if not section.rows:
            pdf.cell(0, 5, "(none)", new_x="LMARGIN", new_y="NEXT")
            continue
        numeric = [all(isinstance(r[i], (int, Decimal)) or r[i] is None for r in section.rows)
                   for i in range(len(section.columns))]
        align = tuple("RIGHT" if n else "LEFT" for n in numeric)
        cells = [[_latin1(fmt(v)) for v in row] for row in section.rows]
        # columns as wide as their longest text, so exact decimals rarely wrap
        widths = tuple(max([len(c)] + [len(r[i]) for r in cells]) + 2
                       for i, c in enumerate(section.columns))
        with pdf.table(text_align=align, col_widths=widths, line_height=4,
                       headings_style=FontFace(emphasis="BOLD")) as table:
            table.row([_latin1(c) for c in section.columns])
            for cell_row in cells:
                table.row(cell_row)
    return bytes(pdf.output())


def write(report: Report, out_dir: Path, formats: tuple[str, ...] = ("csv", "pdf")
          ) -> list[Path]:
    """Write ``<out_dir>/<report.name>.<fmt>`` for each format; return the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    render = {"csv": to_csv, "pdf": to_pdf}
    paths = []
    for f in formats:
        path = out_dir / f"{report.name}.{f}"
        path.write_bytes(render[f](report))
        paths.append(path)
    return paths
