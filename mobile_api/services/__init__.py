"""Domain services of the mobile app: codes, credentials, submissions (views only parse and render)."""
