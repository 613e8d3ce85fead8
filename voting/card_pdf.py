"""Drawing token cards on A4 sheets with reportlab (2 columns x 5 rows of 85 x 54 mm cards, cut lines).

Korean text uses reportlab's built-in CID font (HYGothic-Medium), which PDF readers map to
an installed Korean font, so no font file has to ship with the project.
"""

from __future__ import annotations

from typing import IO

from PIL import Image
from reportlab import rl_config
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas

from .cards import CardFace, SheetText

KOREAN_FONT = "HYGothic-Medium"
CODE_FONT = "Courier-Bold"
COLUMNS, ROWS = 2, 5
CARD_W, CARD_H = 85 * mm, 54 * mm
QR_SIZE = 38 * mm
PAGE_W, PAGE_H = A4
MARGIN_X = (PAGE_W - COLUMNS * CARD_W) / 2
MARGIN_Y = (PAGE_H - ROWS * CARD_H) / 2

_font_registered = False
# Binary (Flate) image streams: the pure-Python ASCII85 encoder dominated the rendering time.
rl_config.useA85 = 0
STATIC_FORM = "card_static"


def register_fonts() -> None:
    global _font_registered
    if not _font_registered:
        pdfmetrics.registerFont(UnicodeCIDFont(KOREAN_FONT))
        _font_registered = True


def fit_text(text: str, font: str, size: float, width: float) -> str:
    """Truncate with an ellipsis so the text fits ``width`` points."""
    if pdfmetrics.stringWidth(text, font, size) <= width:
        return text
    while text and pdfmetrics.stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text + "…"


class CardSheetWriter:
    """Streams card faces onto pages; call ``draw`` per card, then ``finish``."""

    def __init__(self, out: IO[bytes], text: SheetText) -> None:
        register_fonts()
        self.text = text
        self.canvas = Canvas(out, pagesize=A4, pageCompression=1)
        self.canvas.setTitle(text.election_title)
        self.canvas.setAuthor(text.station_name)
        self.slot = 0
        self.page = 1
        self.title = fit_text(text.election_title, KOREAN_FONT, 10, CARD_W - 8 * mm)
        self.station = fit_text(text.station_name, KOREAN_FONT, 8, CARD_W - 8 * mm)
        text_width = CARD_W - QR_SIZE - 9 * mm
        self.heading = fit_text(text.heading, KOREAN_FONT, 9, text_width)
        self.instructions = [fit_text(line, KOREAN_FONT, 6.5, text_width) for line in text.instructions]
        self._draw_static_form()

    def _draw_static_form(self) -> None:
        """Everything that is the same on every card, drawn once and reused (a PDF form XObject)."""
        c = self.canvas
        c.beginForm(STATIC_FORM, lowerx=0, lowery=0, upperx=CARD_W, uppery=CARD_H)
        c.setDash(2, 2)
        c.setStrokeGray(0.6)
        c.setLineWidth(0.4)
        c.rect(0, 0, CARD_W, CARD_H)
        c.setDash()
        c.setFillGray(0)
        c.setFont(KOREAN_FONT, 10)
        c.drawString(4 * mm, CARD_H - 7 * mm, self.title)
        c.setFont(KOREAN_FONT, 8)
        c.drawString(4 * mm, CARD_H - 11 * mm, self.station)
        right = QR_SIZE + 5 * mm
        c.setFont(KOREAN_FONT, 9)
        c.drawString(right, 31 * mm, self.heading)
        c.setFont(KOREAN_FONT, 6.5)
        c.drawString(right, 25 * mm, self.text.check_label)
        for index, line in enumerate(self.instructions):
            c.drawString(right, (12 - index * 3.2) * mm, line)
        c.endForm()

    def draw(self, face: CardFace) -> None:
        if self.slot == COLUMNS * ROWS:
            self._end_page()
        column, row = self.slot % COLUMNS, self.slot // COLUMNS
        x = MARGIN_X + column * CARD_W
        y = PAGE_H - MARGIN_Y - (row + 1) * CARD_H
        self._draw_card(face, x, y)
        self.slot += 1

    def _draw_card(self, face: CardFace, x: float, y: float) -> None:
        c = self.canvas
        c.saveState()
        c.translate(x, y)
        c.doForm(STATIC_FORM)
        image = Image.frombytes("L", (face.qr_side, face.qr_side), face.qr_pixels)
        c.drawImage(ImageReader(image), 2 * mm, 2 * mm, QR_SIZE, QR_SIZE)
        c.setFillGray(0)
        c.setFont(CODE_FONT, 15)
        c.drawString(QR_SIZE + 5 * mm, 19 * mm, face.check)
        c.restoreState()

    def _end_page(self) -> None:
        c = self.canvas
        c.setFont(KOREAN_FONT, 7)
        c.setFillGray(0.4)
        c.drawCentredString(PAGE_W / 2, MARGIN_Y / 2, self.text.footer % {"page": self.page})
        c.showPage()
        self.page += 1
        self.slot = 0

    def finish(self) -> None:
        if self.slot:
            self._end_page()
        self.canvas.save()
