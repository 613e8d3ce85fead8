"""Hypothesis strategies for canonical JSON values and ledger objects."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from ledger.core.block import Block, BlockHeader, CommitCertificate, Vote
from ledger.core.consensus.messages import Proposal
from ledger.core.encoding import MAX_SAFE_INT
from ledger.core.genesis import DEFAULT_PARAMS, Authority, ContractPin, Genesis, Validator
from ledger.core.tx import IDENT_RE, TYPE_RE, Transaction

from .factory import key_for

# Real curve points: Transaction/Genesis decoding checks public keys.
PUBLIC_KEYS = tuple(key_for(f"strategy-{i}").public_key for i in range(8))

safe_ints = st.integers(min_value=-MAX_SAFE_INT, max_value=MAX_SAFE_INT)
# Any Unicode scalar value: every code point except the surrogates (category Cs).
unicode_text = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=40)
object_keys = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=20)

json_values = st.recursive(
    st.none() | safe_ints | unicode_text,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(object_keys, children, max_size=5),
    max_leaves=25,
)
json_objects = st.dictionaries(object_keys, json_values, max_size=6)

idents = st.from_regex(IDENT_RE, fullmatch=True)
types = st.from_regex(TYPE_RE, fullmatch=True)
hashes = st.binary(min_size=32, max_size=32)
signatures = st.binary(min_size=64, max_size=64)
public_keys = st.sampled_from(PUBLIC_KEYS)
counts = st.integers(min_value=0, max_value=MAX_SAFE_INT)
heights = st.integers(min_value=1, max_value=MAX_SAFE_INT)


@st.composite
def transactions(draw: Any) -> Transaction:
    return Transaction(
        chain=draw(idents), contract=draw(idents), type=draw(types), payload=draw(json_objects),
        signer=draw(public_keys), nonce=draw(counts), sig=draw(signatures),
    )


@st.composite
def headers(draw: Any) -> BlockHeader:
    return BlockHeader(
        chain=draw(idents), height=draw(heights), round=draw(counts), prev=draw(hashes), time=draw(counts),
        proposer=draw(idents), txs=draw(counts), tx_root=draw(hashes), state_root=draw(hashes),
    )


@st.composite
def blocks(draw: Any) -> Block:
    return Block(draw(headers()), tuple(draw(st.lists(transactions(), max_size=3))))


@st.composite
def votes(draw: Any) -> Vote:
    return Vote(
        chain=draw(idents), kind=draw(st.sampled_from(["prevote", "precommit"])), height=draw(heights),
        round=draw(counts), block=draw(st.none() | hashes), validator=draw(idents), sig=draw(signatures),
    )


@st.composite
def certificates(draw: Any) -> CommitCertificate:
    ids = sorted(draw(st.sets(idents, max_size=5)))
    sigs = tuple((vid, draw(signatures)) for vid in ids)
    return CommitCertificate(height=draw(heights), round=draw(counts), block=draw(hashes), signatures=sigs)


@st.composite
def proposals(draw: Any) -> Proposal:
    return Proposal(
        chain=draw(idents), height=draw(heights), round=draw(counts),
        pol_round=draw(st.integers(min_value=-1, max_value=MAX_SAFE_INT)), block=draw(blocks()),
        proposer=draw(idents), sig=draw(signatures),
    )


names = st.text(alphabet=st.characters(exclude_categories=("Cs",)), min_size=1, max_size=30)


@st.composite
def geneses(draw: Any) -> Genesis:
    validator_keys = draw(st.lists(public_keys, min_size=1, max_size=len(PUBLIC_KEYS), unique=True))
    validator_ids = draw(st.lists(idents, min_size=len(validator_keys), max_size=len(validator_keys), unique=True))
    authority_ids = draw(st.lists(idents, max_size=3, unique=True))
    contract_ids = draw(st.lists(idents, max_size=3, unique=True))
    return Genesis(
        chain=draw(idents),
        time=draw(counts),
        validators=tuple(
            Validator(id=vid, name=draw(names), pubkey=key, power=draw(st.integers(1, 1_000_000)))
            for vid, key in zip(validator_ids, validator_keys)
        ),
        authorities=tuple(Authority(id=aid, name=draw(names), pubkey=draw(public_keys)) for aid in authority_ids),
        contracts=tuple(ContractPin(id=cid, source_sha256=draw(hashes).hex()) for cid in contract_ids),
        params=draw(st.dictionaries(st.sampled_from(sorted(DEFAULT_PARAMS)), st.integers(1, MAX_SAFE_INT))),
    )
