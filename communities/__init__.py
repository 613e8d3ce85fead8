"""Communities: hierarchical community polls, proposals and live statistics."""
