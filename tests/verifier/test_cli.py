"""``python -m verifier``: exit codes, the report's two forms, progress, and parallel agreement."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from verifier.__main__ import main

from .helpers import compress, election_content, finished_election, plain_lines


@pytest.fixture(scope="module")
def lines() -> list[bytes]:
    genesis, chain, tally = finished_election(tokens=30, vote_blocks=5)
    return plain_lines(election_content(genesis, chain, tally))


def write(tmp_path: Path, lines: list[bytes], name: str = "b.jsonl.gz") -> Path:
    path = tmp_path / name
    path.write_bytes(compress(lines))
    return path


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "verifier", *args], capture_output=True, text=True, timeout=300,
                          cwd=settings.BASE_DIR)


def test_a_good_bundle_passes_with_exit_0_and_names_the_warning(tmp_path: Path, lines: list[bytes]) -> None:
    result = run(str(write(tmp_path, lines)), "--workers", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASS" in result.stdout
    assert "WARNING votes_exceed_checkins election=e2026 station=st-2" in result.stdout
    assert "matches the published result" in result.stdout
    strict = run(str(write(tmp_path, lines)), "--strict", "--quiet")
    assert strict.returncode == 1


def test_invalid_data_exits_1_and_locates_the_failure(tmp_path: Path, lines: list[bytes]) -> None:
    record_at = next(i for i, line in enumerate(lines) if b'"t":"tx"' in line and b'"height":5' in line)
    broken = list(lines)
    broken[record_at] = broken[record_at].replace(b'"nonce":0', b'"nonce":9')
    result = run(str(write(tmp_path, broken)), "--quiet")
    assert result.returncode == 1
    assert "FAIL at height 5" in result.stdout and "transaction 0" in result.stdout
    assert "tx_id_mismatch" in result.stdout


@pytest.mark.parametrize("content", [b"not gzip at all", gzip.compress(b"{}\n", mtime=0),
                                     gzip.compress(b'{"format":"evote-bundle","version":2}\n', mtime=0)],
                         ids=["not-gzip", "no-header", "version-2"])  # stable ids: xdist workers must agree
def test_unreadable_files_exit_2(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "x.gz"
    path.write_bytes(content)
    result = run(str(path), "--quiet")
    assert result.returncode == 2 and "CANNOT READ" in result.stderr


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert run("--crypto", "rot13", str(tmp_path / "x")).returncode == 2
    assert run(str(tmp_path / "missing.gz")).returncode == 2
    assert run(str(tmp_path / "missing.gz"), "--workers", "0").returncode == 2


def test_json_report_and_progress_line(tmp_path: Path, lines: list[bytes]) -> None:
    result = run(str(write(tmp_path, lines)), "--json", "--workers", "1")
    report: dict[str, Any] = json.loads(result.stdout)
    assert report["ok"] and report["votes"] == 30 and report["warnings"] == 1
    assert "txs/s" in result.stderr  # the final progress line is always drawn


@pytest.mark.parametrize("impl", ["cryptography", "ecdsa"])
def test_one_and_two_workers_report_the_same(tmp_path: Path, lines: list[bytes], impl: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    record_at = max(i for i, line in enumerate(lines) if b'"t":"tx"' in line)
    broken = list(lines)
    broken[record_at] = broken[record_at].replace(b'"sig":"', b'"sig":"0', 1).replace(b'","signer"', b'","signer"')
    reports = []
    for workers in ("1", "2"):
        for data in (lines, broken):
            code = main([str(write(tmp_path, data, f"{workers}.gz")), "--json", "--quiet", "--workers", workers,
                         "--crypto", impl])
            report = json.loads(capsys.readouterr().out)
            reports.append((code, report["failure"], report["tallies"]))
    assert reports[0] == reports[2] and reports[1] == reports[3]
    assert reports[0][0] == 0 and reports[1][0] == 1
