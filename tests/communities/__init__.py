"""Tests of the communities app."""
