"""A text progress bar for management commands (stderr, redrawn in place)."""

from __future__ import annotations

import sys
import time
from typing import TextIO

WIDTH = 30


class ProgressBar:
    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.started = time.monotonic()
        self.last_stage = ""

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage != self.last_stage and self.last_stage:
            self.stream.write("\n")
        self.last_stage = stage
        fraction = done / total if total else 1.0
        filled = int(WIDTH * fraction)
        elapsed = time.monotonic() - self.started
        self.stream.write(f"\r{stage:<9} [{'#' * filled}{'.' * (WIDTH - filled)}] {fraction:6.1%} "
                          f"{done}/{total}  {elapsed:5.1f}s")
        self.stream.flush()

    def finish(self) -> None:
        if self.last_stage:
            self.stream.write("\n")
            self.stream.flush()
