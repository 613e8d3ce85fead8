"""Views of the officials' UI: each parses, calls one service or selector, renders."""
