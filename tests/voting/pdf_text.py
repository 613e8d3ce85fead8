"""Reading token cards back the way a kiosk would: render the PDF pages (PDFium) and decode the QR codes."""

from __future__ import annotations

import pypdfium2
import zxingcpp


def render_pages(pdf: bytes, scale: float = 2.0) -> list[object]:
    """Each page as a PIL image at ``scale`` x 72 dpi."""
    document = pypdfium2.PdfDocument(pdf)
    try:
        return [document[index].render(scale=scale).to_pil() for index in range(len(document))]
    finally:
        document.close()


def extract_qr_payloads(pdf: bytes) -> list[str]:
    """The text of every QR code on every page, in page order."""
    payloads: list[str] = []
    for image in render_pages(pdf):
        found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
        payloads.extend(result.text for result in sorted(found, key=lambda r: (r.position.top_left.y, r.position.top_left.x)))
    return payloads


def extract_text(pdf: bytes) -> str:
    document = pypdfium2.PdfDocument(pdf)
    try:
        return "\n".join(document[index].get_textpage().get_text_range() for index in range(len(document)))
    finally:
        document.close()
