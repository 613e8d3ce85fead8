"""The vote-token card parser (QR payload ``EV1~chain~election~secret~check``) on hostile scans.

A kiosk's scanner types whatever it read: a misprint, another QR code, a keyboard-wedge burst of
control characters, megabytes of garbage. voting/cards.py ``parse_card_payload`` (used by the
officials' tools and as the reference) must answer ``CardPayloadInvalid`` with one of its two codes
and nothing else; static/ledger/evote.js ``parseCard`` (what the booth really runs) must give the
same verdict on every text. tests/e2e/test_ledger_js.py compares the two in Chromium on a few
dozen cards per run; here Node (same WebCrypto, no browser start-up) takes a few thousand, so the
rarer shapes get a turn in every suite run. Long campaign: ``FUZZ_EXAMPLES=200`` batches.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.e2e.ledger_js_support import (
    card_text,
    idents,
    mutated_cards,
    python_card_outcome,
    scalars,
)
from voting.cards import CardPayload, CardPayloadInvalid, parse_card_payload

from .budget import fuzz_settings

DRIVER = Path(__file__).with_name("card_parser.mjs")
CODES = {"card_malformed", "card_check_mismatch"}

scanner_noise = st.text(alphabet=st.characters(codec=None), max_size=120)  # any code point, surrogates too
near_cards = st.one_of(
    mutated_cards(),
    st.tuples(idents, idents, scalars, scanner_noise).map(lambda t: card_text(t[0], t[1], t[2]) + t[3]),
    st.lists(st.sampled_from(["EV1", "~", "A" * 43, "AAAA-AAAA", "-", "_", "gg-2026", " ", "\x00"]),
             max_size=12).map("".join),
    scanner_noise,
)


@given(near_cards)
@fuzz_settings(500)
def test_parser_answers_a_typed_code_or_a_card_that_writes_back_to_the_scan(text: str) -> None:
    try:
        card, key = parse_card_payload(text)
    except CardPayloadInvalid as exc:
        assert exc.code in CODES
        return
    again = card.to_text()
    scanned = text.strip()
    # The last secret character carries two unused bits the parser ignores (evote.js does the same, see
    # tests/e2e/test_ledger_js.py); everything else must be the very text that was scanned.
    assert again[:-11] == scanned[:-11] and again[-10:] == scanned[-10:]
    assert parse_card_payload(again)[1].address == key.address


def test_a_megabyte_scan_is_refused_quickly_and_typed() -> None:
    good = card_text("evote-test", "gg-2026", 12345)
    for text in ("~" * 1_000_000, good + "A" * 1_000_000, "\u3000" * 500_000 + good + "x"):
        with pytest.raises(CardPayloadInvalid) as info:
            parse_card_payload(text)
        assert info.value.code == "card_malformed"


def test_a_valid_card_round_trips() -> None:
    text = card_text("evote-test", "gg-2026", 987654321)
    card, _key = parse_card_payload(text)
    assert card.to_text() == text
    assert isinstance(card, CardPayload)


# --- the booth's parser (evote.js) under Node --------------------------------------------------------


@pytest.fixture(scope="module")
def js_parser() -> Iterator[subprocess.Popen[str]]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed (Debian package nodejs); the Chromium comparison still runs in e2e")
    process = subprocess.Popen([node, str(DRIVER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                               encoding="utf-8", errors="surrogatepass")
    yield process
    process.stdin.close()  # type: ignore[union-attr]
    process.wait(timeout=10)


def _js_outcomes(process: subprocess.Popen[str], texts: list[str]) -> list[dict[str, object]]:
    assert process.stdin is not None and process.stdout is not None
    # ensure_ascii: a lone surrogate travels as \\udXXX, which JSON.parse turns into the same JS string.
    process.stdin.write("".join(json.dumps(text, ensure_ascii=True) + "\n" for text in texts))
    process.stdin.flush()
    return [json.loads(process.stdout.readline()) for _ in texts]


@given(st.lists(near_cards, min_size=100, max_size=100))
@fuzz_settings(30)
def test_booth_parser_gives_the_reference_verdict_on_thousands_of_scans(
    js_parser: subprocess.Popen[str], texts: list[str],
) -> None:
    results = _js_outcomes(js_parser, texts)
    for text, result in zip(texts, results):
        assert "crash" not in result, (text, result)
        assert result == python_card_outcome(text), repr(text)


def test_booth_parser_accepts_what_python_writes(js_parser: subprocess.Popen[str]) -> None:
    """Guard against a vacuous comparison: valid cards really parse to the same key in both."""
    texts = [card_text("evote-test", "gg-2026", scalar) for scalar in (1, 2**200 + 7, 0xABCDEF)]
    results = _js_outcomes(js_parser, texts)
    assert all("ok" in result for result in results)
    assert results == [python_card_outcome(text) for text in texts]
