"""The checks themselves: pure functions from facts (ledger, nodes, site) to table rows and anomalies.

No I/O here, so every rule can be tested with plain values (and Hypothesis), and the
same code serves the page, the JSON snapshot and the websocket updates.
"""

from __future__ import annotations

from typing import Any

from ledger.core.contracts.vote import CREDENTIAL_STATION

from ..anomalies import Anomaly, Code
from .ledger_facts import ChainFacts, NodeFacts
from .site_facts import SiteFacts

COUNTERS = ("registered", "minted", "checkins", "spent")


def compute_nodes(nodes: NodeFacts, lag_threshold: int) -> tuple[dict[str, Any], list[Anomaly]]:
    """Node rows with their flags; divergence is a different hash at the common height, lag is beyond the threshold."""
    anomalies: list[Anomaly] = []
    rows = []
    for row in nodes.rows:
        label = row["name"] or row["node_id"] or row["url"]
        flags = []
        if row["state"] == "down":
            flags.append(Code.NODE_UNREACHABLE)
            anomalies.append(Anomaly(Code.NODE_UNREACHABLE, label, {"node": label, "error": row["error"] or "-"}))
        elif row["state"] == "diverged":
            flags.append(Code.NODE_DIVERGED)
            anomalies.append(Anomaly(Code.NODE_DIVERGED, label, {
                "node": label, "height": nodes.common_height, "hash": row["hash_at_common"],
                "majority_hash": nodes.majority_hash}))
        if row["behind"] is not None and row["behind"] > lag_threshold:
            flags.append(Code.NODE_LAGGING)
            anomalies.append(Anomaly(Code.NODE_LAGGING, label, {
                "node": label, "behind": row["behind"], "threshold": lag_threshold}))
        rows.append({**row, "label": label, "flags": [f.value for f in flags]})
    if rows and all(r["state"] == "down" for r in rows):
        anomalies.insert(0, Anomaly(Code.NO_NODE_REACHABLE))
    section = {"rows": rows, "common_height": nodes.common_height, "max_height": nodes.max_height,
               "majority_hash": nodes.majority_hash, "lag_threshold": lag_threshold,
               "diverged": sum(1 for r in rows if r["state"] == "diverged"),
               "reachable": sum(1 for r in rows if r["reachable"])}
    return section, anomalies


def is_credential_station(chain: ChainFacts, code: str) -> bool:
    """The ``mobile`` pseudo-station of an election that takes credentials counts redeemed credentials."""
    return code == CREDENTIAL_STATION and bool(chain.record and "credential_key" in chain.record)


def compute_stations(chain: ChainFacts, site: SiteFacts) -> tuple[dict[str, Any], list[Anomaly]]:
    """Per polling station: the ledger's counters next to the site's check-ins, with totals and flags."""
    on_chain: dict[str, dict[str, int]] = dict((chain.tally or {}).get("stations") or {})
    codes = sorted((set(on_chain) | set(site.checkins)) - {c for c in on_chain if is_credential_station(chain, c)})
    anomalies: list[Anomaly] = []
    rows = []
    for code in codes:
        counters = {name: int((on_chain.get(code) or {}).get(name, 0)) for name in COUNTERS}
        local = site.checkins.get(code, {"committed": 0, "pending": 0})
        row: dict[str, Any] = {
            "code": code, "name": site.station_names.get(code, ""), **counters,
            "checkins_db": local["committed"], "checkins_pending": local["pending"],
            "unspent": counters["minted"] - counters["spent"], "on_chain": code in on_chain,
        }
        flags = []
        if counters["spent"] > counters["checkins"]:
            flags.append(Code.VOTES_EXCEED_CHECKINS)
            anomalies.append(Anomaly(Code.VOTES_EXCEED_CHECKINS, code, {
                "station": code, "spent": counters["spent"], "checkins": counters["checkins"]}))
        # A check-in is stored as pending, sent to the ledger, then marked committed: in between the
        # ledger may be one ahead of "committed", never ahead of committed + pending, never behind.
        if not local["committed"] <= counters["checkins"] <= local["committed"] + local["pending"]:
            flags.append(Code.CHECKINS_MISMATCH)
            anomalies.append(Anomaly(Code.CHECKINS_MISMATCH, code, {
                "station": code, "chain": counters["checkins"], "db": local["committed"], "pending": local["pending"]}))
        if code in on_chain and code not in site.roll_stations:
            flags.append(Code.STATION_NOT_IN_ROLL)
            anomalies.append(Anomaly(Code.STATION_NOT_IN_ROLL, code, {"station": code}))
        row["flags"] = [f.value for f in flags]
        rows.append(row)
    keys = (*COUNTERS, "checkins_db", "checkins_pending", "unspent")
    totals = {key: sum(r[key] for r in rows) for key in keys}
    return {"rows": rows, "totals": totals}, anomalies


def compute_mobile(chain: ChainFacts, site: SiteFacts) -> tuple[dict[str, Any] | None, list[Anomaly]]:
    """Mobile voting: credentials issued (site) vs tokens minted by credential vs votes cast (ledger)."""
    mobile_code = next((c for c in ((chain.tally or {}).get("stations") or {}) if is_credential_station(chain, c)), None)
    if mobile_code is None and not site.credentials_issued:
        return None, []
    counters = ((chain.tally or {}).get("stations") or {}).get(mobile_code or "", {}) or {}
    minted, voted = int(counters.get("minted", 0)), int(counters.get("spent", 0))
    row: dict[str, Any] = {
        "registered": int(counters.get("registered", 0)), "issued": site.credentials_issued, "minted": minted,
        "voted": voted, "not_redeemed": site.credentials_issued - minted, "unspent": minted - voted, "flags": [],
    }
    anomalies = []
    if minted > site.credentials_issued:
        row["flags"].append(Code.MOBILE_MINTED_EXCEEDS_ISSUED.value)
        anomalies.append(Anomaly(Code.MOBILE_MINTED_EXCEEDS_ISSUED, CREDENTIAL_STATION, {
            "minted": minted, "issued": site.credentials_issued}))
    return row, anomalies


def compute_candidates(chain: ChainFacts, site: SiteFacts) -> tuple[dict[str, Any], list[Anomaly]]:
    """Each candidate's balance on the ledger, the recount from the blocks and the official result side by side."""
    anomalies: list[Anomaly] = []
    on_chain = [(str(c["id"]), str(c["name"])) for c in ((chain.record or {}).get("candidates") or [])]
    if chain.record is not None and on_chain != site.candidates:
        anomalies.append(Anomaly(Code.CANDIDATES_DIFFER, "", {"ledger": on_chain, "site": site.candidates}))
    balances = dict((chain.tally or {}).get("candidates") or {})
    official = (site.official or {}).get("candidates")
    rows = []
    for cid, name in on_chain or site.candidates:
        ledger = balances.get(cid) if chain.tally is not None else None
        recount = None if chain.recount is None else chain.recount.get(cid, 0)
        stated = None if official is None else int(official.get(cid, 0))
        flags = []
        if recount is not None and ledger is not None and recount != ledger:
            flags.append(Code.RECOUNT_MISMATCH)
            anomalies.append(Anomaly(Code.RECOUNT_MISMATCH, cid, {"candidate": name, "recount": recount, "ledger": ledger}))
        if stated is not None and ledger is not None and stated != ledger:
            flags.append(Code.RESULT_MISMATCH)
            anomalies.append(Anomaly(Code.RESULT_MISMATCH, cid, {"candidate": name, "official": stated, "ledger": ledger}))
        rows.append({"id": cid, "name": name, "ledger": ledger, "recount": recount, "official": stated,
                     "flags": [f.value for f in flags]})
    section: dict[str, Any] = {"rows": rows, "official": None if site.official is None else {
        k: v for k, v in site.official.items() if k != "candidates"}}
    if chain.tally is not None:
        choices = int(chain.tally.get("choices", 1))
        spent_units = choices * int((chain.tally.get("totals") or {}).get("spent", 0))
        balance_sum, unused = sum(int(v) for v in balances.values()), int(chain.tally.get("unused", 0))
        section.update(balances=balance_sum, unused=unused, spent_units=spent_units)
        if balance_sum + unused != spent_units:
            anomalies.append(Anomaly(Code.TALLY_UNBALANCED, "", {
                "balances": balance_sum, "unused": unused, "spent_units": spent_units}))
    return section, anomalies


def compute_evidence(chain: ChainFacts, names: dict[str, str]) -> tuple[list[dict[str, Any]], list[Anomaly]]:
    """Equivocation records on chain: which validator signed two blocks for one height, round and kind."""
    rows, anomalies = [], []
    for record in chain.evidence:
        validator = str(record.get("validator", ""))
        label = names.get(validator) or validator
        row = {"validator": validator, "name": names.get(validator, ""), "height": record.get("height"),
               "round": record.get("round"), "kind": record.get("kind"), "reported_at": record.get("reported_at"),
               "blocks": [str(v.get("block", "")) for v in record.get("votes") or [] if isinstance(v, dict)]}
        rows.append(row)
        anomalies.append(Anomaly(Code.EQUIVOCATION_RECORDED, validator, {
            "validator": label, "height": row["height"], "round": row["round"], "kind": row["kind"]}))
    return rows, anomalies


def compute_contracts(chain: ChainFacts) -> tuple[list[dict[str, Any]], list[Anomaly]]:
    """Each contract's pinned source hash (chain) against the hash of the code deployed here."""
    if chain.pins is None:
        return [], []
    rows, anomalies = [], []
    for cid in sorted(set(chain.pins) | set(chain.local_hashes)):
        pinned, local = chain.pins.get(cid), chain.local_hashes.get(cid)
        state = "match" if pinned == local else "not_pinned" if pinned is None else "not_here" if local is None else "mismatch"
        if state == "mismatch":
            anomalies.append(Anomaly(Code.CONTRACT_PIN_MISMATCH, cid, {"contract": cid, "pinned": pinned, "local": local}))
        elif state == "not_pinned":
            anomalies.append(Anomaly(Code.CONTRACT_NOT_PINNED, cid, {"contract": cid}))
        rows.append({"id": cid, "pinned": pinned, "local": local, "state": state})
    return rows, anomalies
