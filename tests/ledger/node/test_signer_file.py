"""The signer state file: atomic replacement, strict reading, and the later-of-two rule at start-up."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.core.consensus.interface import SignerState
from ledger.node.signer_file import later, read_signer_state, signer_state_path, write_signer_state

states = st.builds(SignerState, st.integers(0, 50), st.integers(0, 5), st.integers(1, 3),
                   st.one_of(st.none(), st.text("0123456789abcdef", min_size=64, max_size=64)))


def test_write_then_read_round_trips_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    path = signer_state_path(tmp_path)
    assert read_signer_state(path) is None
    first = SignerState(3, 0, 2, "ab" * 32, locked_round=0, locked_block="ab" * 32)
    write_signer_state(path, first)
    write_signer_state(path, SignerState(3, 1, 1, None))
    assert read_signer_state(path) == SignerState(3, 1, 1, None)
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]
    assert path.stat().st_mode & 0o777 == 0o600


def test_a_corrupt_file_is_an_error_not_a_fresh_start(tmp_path: Path) -> None:
    """Guessing "no state" after corruption could let the validator sign twice: refuse to start instead."""
    path = signer_state_path(tmp_path)
    path.write_bytes(b'{"height": 3, "round"')
    with pytest.raises(ValueError):
        read_signer_state(path)


@given(states, states)
def test_later_takes_the_state_further_along(a: SignerState, b: SignerState) -> None:
    chosen = later(a, b)
    assert chosen in (a, b)
    assert (chosen.height, chosen.round, chosen.step) == max((a.height, a.round, a.step), (b.height, b.round, b.step))
    assert later(a, None) is a and later(None, b) is b and later(None, None) is None
