"""Lines that tests want shown at the end of the run (pytest terminal summary)."""

from __future__ import annotations

REPORT_LINES: list[str] = []
