"""Community pages: tree and node pages, joining and member sign-in, proposals, manager pages; polls.py and stats.py hold the poll and statistics pages."""
