"""Kiosk: the polling booth: scan, ballot, confirm, receipt."""
