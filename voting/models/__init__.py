"""Models of the voting app, one module per concern."""

from .audit import AppendOnlyError, OfficialAction, OfficialLogAnchor, OfficialLogHead
from .elections import Candidate, Election, ElectionTally
from .regions import Kiosk, PollingStation, Region
from .roles import ElectionRole
from .roll import CheckIn, RollImport, VoterRollEntry
from .tokens import TokenBatch

__all__ = [
    "AppendOnlyError",
    "Candidate",
    "CheckIn",
    "Election",
    "ElectionRole",
    "ElectionTally",
    "Kiosk",
    "OfficialAction",
    "OfficialLogAnchor",
    "OfficialLogHead",
    "PollingStation",
    "Region",
    "RollImport",
    "TokenBatch",
    "VoterRollEntry",
]
