"""Communities services: tree, members and proposals (here), polls (polls.py); views call these only."""
