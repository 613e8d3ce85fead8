"""Audit: observers' verification, cross-node comparison, recount and export."""
