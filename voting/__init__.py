"""Voting: elections, voter roll, stations and token issuance."""
