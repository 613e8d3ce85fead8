"""The deployment guide (docs/operations.md), followed literally on real services, then backed up and restored.

One module-scoped deployment: keys from ``ledger_keygen``, a genesis from
``deploy/assemble_genesis.py``, four ``run_node`` processes each on its own PostgreSQL
database, the web app in production settings under ``uvicorn --workers 2`` with the Redis
channel layer, behind Debian's nginx with TLS (a throwaway self-signed certificate) from
deploy/nginx/. Everything the tests check goes through the proxy, as a voter's phone would.

Runs only when DATABASE_URL names a PostgreSQL server (CI's second pass; the databases are
created next to it and dropped afterwards); skips cleanly when PostgreSQL or Redis is not
reachable or nginx cannot be installed.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ledger.client import NodeClient
from ledger.core.encoding import encode
from ledger.municipalities import get_municipalities
from ledger.node.config import read_private_key
from tests.deploy import support
from tests.deploy.support import BASE_DIR, DEPLOY_DIR, clean_env, manage, run, start, stop, wait_until
from tests.ledger.node.support import election_setup, voter_keys

pytestmark = [pytest.mark.e2e, pytest.mark.network, pytest.mark.slow]

NODE_COUNT = 4
REDIS_GROUP_PREFIX = "asgi:group:"  # channels_redis's default key for a group's members


@dataclass
class DeployedNode:
    node_id: str
    home: Path
    url: str
    database: str
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        return self.home / "node.log"

    def start(self) -> None:
        self.process = start([sys.executable, support.MANAGE, "run_node", "--home", str(self.home)], self.env,
                             self.log)

    def stop(self) -> int | None:
        code = stop(self.process)
        self.process = None
        return code


@dataclass
class Deployment:
    root: Path
    pg_admin: str
    databases: list[str]
    nodes: list[DeployedNode]
    web_env: dict[str, str]
    origin: str = ""
    http_origin: str = ""
    upstream: str = ""
    cert: Path = Path()
    static_root: Path = Path()
    summary: dict[str, Any] = field(default_factory=dict)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def database_url(self, name: str) -> str:
        return self.pg_admin.rsplit("/", 1)[0] + "/" + name

    def logs(self) -> str:
        parts = []
        for path in [*(n.log for n in self.nodes), self.root / "web.log", self.root / "nginx" / "error.log"]:
            if path.exists():
                parts.append(f"--- {path.name} ({path.parent.name}) ---\n" + path.read_text(errors="replace")[-3000:])
        return "\n".join(parts)


def pg(deployment: Deployment, tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    """A PostgreSQL client tool as docs/operations.md runs it (connection given as a URL argument)."""
    return run([tool, *args], env={**os.environ, "PGCONNECT_TIMEOUT": "5"}, timeout=120)


def createdb(deployment: Deployment, name: str) -> None:
    pg(deployment, "createdb", "--maintenance-db", deployment.pg_admin, name)


def dropdb(deployment: Deployment, name: str) -> None:
    pg(deployment, "dropdb", "--if-exists", "--force", "--maintenance-db", deployment.pg_admin, name)


# --- building the deployment, step by step as the guide says ------------------------------------


def make_node_keys(root: Path, names: dict[str, Path]) -> dict[str, str]:
    """``manage.py ledger_keygen --out <file>`` (one per 'machine', run concurrently); the printed public keys."""
    env = clean_env()
    for path in names.values():
        path.parent.mkdir(parents=True, exist_ok=True)
    processes = {name: subprocess.Popen([sys.executable, support.MANAGE, "ledger_keygen", "--out", str(path)],
                                        env=env, cwd=BASE_DIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                 for name, path in names.items()}
    public = {}
    for name, process in processes.items():
        out = process.communicate(timeout=120)[0].decode()
        assert process.returncode == 0, out
        public[name] = re.search(r"public key: ([0-9a-f]{130})", out).group(1)  # type: ignore[union-attr]
        assert names[name].stat().st_mode & 0o777 == 0o600
    return public


def make_genesis(root: Path, public: dict[str, str], authority_public: str) -> Path:
    names = {m.code: m.name_ko for m in get_municipalities()}
    plan = {"chain": "deploy-test", "validators": [{"id": i, "name": names[i], "pubkey": k} for i, k in public.items()],
            "authorities": [{"id": "nec-test", "name": "선거관리위원회", "pubkey": authority_public}]}
    (root / "plan.json").write_text(json.dumps(plan, ensure_ascii=False), encoding="utf-8")
    out = run([sys.executable, str(DEPLOY_DIR / "assemble_genesis.py"), str(root / "plan.json"),
               "--out", str(root / "genesis.json")]).stdout
    assert re.search(r"genesis hash: [0-9a-f]{64}", out), out
    return root / "genesis.json"


def write_node_home(home: Path, node_id: str, port: int, peers: dict[str, str], genesis: Path) -> None:
    shutil.copyfile(genesis, home / "genesis.json")
    config = {"node_id": node_id, "listen": {"host": "127.0.0.1", "port": port},
              "public_url": f"http://127.0.0.1:{port}", "peers": peers,
              "key_file": "node.pem", "genesis_file": "genesis.json"}
    (home / "node.json").write_text(json.dumps(config, indent=2), encoding="utf-8")


def migrate_all(envs: list[dict[str, str]]) -> None:
    """``manage.py migrate --noinput`` for every database, concurrently (each is its own process anyway)."""
    processes = [subprocess.Popen([sys.executable, support.MANAGE, "migrate", "--noinput", "-v", "0"], env=env,
                                  cwd=BASE_DIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for env in envs]
    for process in processes:
        output, _ = process.communicate(timeout=180)
        assert process.returncode == 0, output.decode(errors="replace")[-3000:]


# Variables the test adds beyond the example files, and why.
TEST_ONLY_VARIABLES = {
    "MOBILE_SMS_FILE_PATH",  # the file SMS backend stands in for the operator's gateway
    "VOTING_ISSUANCE_WORKERS",  # one card-rendering process: the test machine is shared
}


def example_env(name: str, **overrides: str) -> dict[str, str]:
    """deploy/env/<name>.env.example with the blanks and site-specific values filled in.

    Overriding only variables the example lists keeps the example complete: what the test
    needed to set, an operator needs too.
    """
    example = support.read_env_file(DEPLOY_DIR / "env" / f"{name}.env.example")
    unknown = overrides.keys() - example.keys() - TEST_ONLY_VARIABLES
    assert not unknown, f"deploy/env/{name}.env.example lacks {sorted(unknown)}"
    values = {**example, **overrides}
    missing = [key for key, value in values.items() if not value]
    assert not missing, f"the test must fill {missing}"
    return clean_env(**values)


def node_env(deployment: Deployment, database: str) -> dict[str, str]:
    return example_env("node", SECRET_KEY=secrets.token_urlsafe(64), DATABASE_URL=deployment.database_url(database),
                       VOTING_ROLL_HMAC_KEY=secrets.token_urlsafe(48))


def web_env(deployment: Deployment, web: Path, origin: str) -> dict[str, str]:
    return example_env(
        "web", SECRET_KEY=secrets.token_urlsafe(64), ALLOWED_HOSTS="127.0.0.1,localhost",
        CSRF_TRUSTED_ORIGINS=origin, DATABASE_URL=deployment.database_url(deployment.databases[-1]),
        REDIS_URL=support.deployment_redis_url(), STATIC_ROOT=str(deployment.static_root),
        LEDGER_NODE_URLS=",".join(n.url for n in deployment.nodes),
        LEDGER_AUTHORITY_KEY_FILE=str(web / "authority.pem"), VOTING_ROLL_HMAC_KEY=secrets.token_urlsafe(48),
        VOTING_AUDIT_LOG_KEY_FILE=str(web / "keys" / "official-log.pem"),
        MOBILE_OTP_HMAC_KEY=secrets.token_urlsafe(48), MOBILE_CREDENTIAL_KEY_DIR=str(web / "keys" / "credential"),
        MOBILE_SMS_BACKEND="mobile_api.sms.backends.filebased.SmsBackend", MOBILE_SMS_FILE_PATH=str(web / "sms"),
        VOTING_ISSUANCE_WORKERS="1", LOG_LEVEL="WARNING",
    )


def start_nginx(deployment: Deployment, nginx: str, https_port: int, http_port: int, web_port: int) -> None:
    """deploy/nginx/ as an unprivileged process: as ``nobody`` when the test runs as root."""
    prefix = deployment.root / "nginx"
    (prefix / "tmp").mkdir(parents=True)
    support.write_self_signed_certificate(prefix / "cert.pem", prefix / "key.pem")
    site = support.render_template(DEPLOY_DIR / "nginx" / "evote-site.conf", {
        "SERVER_NAME": "127.0.0.1 localhost", "PUBLIC_ORIGIN": deployment.origin,
        "HTTP_LISTEN": f"127.0.0.1:{http_port}", "HTTPS_LISTEN": f"127.0.0.1:{https_port}",
        "TLS_CERT": str(prefix / "cert.pem"), "TLS_KEY": str(prefix / "key.pem"),
        "STATIC_ROOT": str(deployment.static_root), "WEB_UPSTREAM": f"127.0.0.1:{web_port}"})
    (prefix / "evote-site.conf").write_text(site, encoding="utf-8")
    main = support.render_template(DEPLOY_DIR / "nginx" / "nginx-unprivileged.conf", {"PREFIX": str(prefix)})
    (prefix / "nginx.conf").write_text(main, encoding="utf-8")
    command = [nginx, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e", str(prefix / "error.log")]
    if os.geteuid() == 0:  # never run the proxy as root: drop to nobody, who owns only this directory
        for path in [deployment.root, *deployment.root.rglob("*")]:
            if path == prefix or prefix in path.parents or path == deployment.static_root \
                    or deployment.static_root in path.parents:
                os.chown(path, 65534, 65534)
        command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *command]
    run([*command, "-t"], timeout=30)
    deployment.processes.append(start(command, os.environ.copy(), deployment.root / "nginx.out"))
    deployment.cert = prefix / "cert.pem"


@pytest.fixture(scope="module")
def deployment() -> Iterator[Deployment]:
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        # Minutes of CPU: once per CI run is enough, in the pass that has the services.
        pytest.skip("runs in the PostgreSQL pass: set DATABASE_URL=postgres://… and REDIS_URL (see .ci/run)")
    for reason in (support.why_postgres_unusable(), support.why_redis_unusable()):
        if reason:
            pytest.skip(reason)
    nginx, reason = support.ensure_nginx()
    if nginx is None:
        pytest.skip(reason or "nginx unavailable")
    # Not pytest's tmp_path: its parents are private to root, and nginx runs as nobody.
    root = Path(tempfile.mkdtemp(prefix="evote-deploy-"))
    root.chmod(0o755)
    run_id = secrets.token_hex(3)
    node_ids = [m.code for m in get_municipalities()[:NODE_COUNT]]
    deployment = Deployment(root=root, pg_admin=support.postgres_admin_url(),
                            databases=[f"evote_{run_id}_{n}" for n in node_ids] + [f"evote_{run_id}_web"],
                            nodes=[], web_env={}, static_root=root / "static")
    try:
        yield build(deployment, nginx, node_ids)
    finally:
        for process in deployment.processes:
            stop(process)
        for node in deployment.nodes:
            node.stop()
        for name in deployment.databases:
            try:
                dropdb(deployment, name)
            except AssertionError:
                pass
        shutil.rmtree(root, ignore_errors=True)


def stage(started: float, what: str) -> None:
    """Where the set-up time goes (visible with -s); the machine is shared, so no thresholds."""
    print(f"[deploy] {time.monotonic() - started:5.1f}s {what}", flush=True)


def build(deployment: Deployment, nginx: str, node_ids: list[str]) -> Deployment:
    root = deployment.root
    started = time.monotonic()
    web = root / "web"
    public = make_node_keys(root, {**{n: root / "nodes" / n / "node.pem" for n in node_ids},
                                   "authority": web / "authority.pem"})
    genesis = make_genesis(root, {n: public[n] for n in node_ids}, public["authority"])
    ports = {node_id: support.free_port() for node_id in node_ids}
    for node_id in node_ids:
        peers = {p: f"http://127.0.0.1:{port}" for p, port in ports.items() if p != node_id}
        write_node_home(root / "nodes" / node_id, node_id, ports[node_id], peers, genesis)
    for name in deployment.databases:
        createdb(deployment, name)
    for node_id, database in zip(node_ids, deployment.databases):
        deployment.nodes.append(DeployedNode(node_id, root / "nodes" / node_id, f"http://127.0.0.1:{ports[node_id]}",
                                             database, node_env(deployment, database)))
    https_port, http_port, web_port = support.free_port(), support.free_port(), support.free_port()
    deployment.origin, deployment.http_origin = f"https://127.0.0.1:{https_port}", f"http://127.0.0.1:{http_port}"
    deployment.upstream = f"http://127.0.0.1:{web_port}"
    deployment.web_env = web_env(deployment, web, deployment.origin)
    stage(started, "keys, genesis, homes, databases")
    migrate_all([n.env for n in deployment.nodes] + [deployment.web_env])
    stage(started, "migrated")
    for node in deployment.nodes:
        node.start()
    manage("check", "--deploy", "--fail-level", "ERROR", env=deployment.web_env)
    manage("collectstatic", "--noinput", "-v", "0", env=deployment.web_env)
    for node in deployment.nodes:
        wait_until(lambda: NodeClient([node.url]).status().get("participating"), timeout=60,
                   what=f"node {node.node_id}\n{deployment.logs()}")
    stage(started, "nodes ready, static collected")
    # Test data only: the demo's election, users and 20 votes, through the real services and nodes.
    manage("seed_demo", "--out", str(web / "demo"), env=deployment.web_env, timeout=180)
    deployment.summary = json.loads((web / "demo" / "summary.json").read_text(encoding="utf-8"))
    stage(started, "demo election seeded")
    deployment.processes.append(start(
        [sys.executable, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1", "--port", str(web_port),
         "--workers", "2", "--proxy-headers"], deployment.web_env, root / "web.log"))
    start_nginx(deployment, nginx, https_port, http_port, web_port)
    wait_until(lambda: https_get(deployment, "/health/").status_code == 200, timeout=60,
               what=f"/health/ through nginx\n{deployment.logs()}")
    stage(started, "web app and nginx answer")
    return deployment


# --- through the proxy ---------------------------------------------------------------------------


def https_get(deployment: Deployment, path: str, **kwargs: Any) -> Any:
    import requests

    return requests.get(deployment.origin + path, verify=str(deployment.cert), timeout=30, **kwargs)


def test_web_app_behind_nginx_serves_health_login_static_websocket_and_a_mobile_vote(
        deployment: Deployment) -> None:
    import requests

    health = https_get(deployment, "/health/")
    assert health.json()["status"] == "ok" and health.json()["ledger_nodes"]["reachable"] == NODE_COUNT
    assert health.headers["Strict-Transport-Security"].startswith("max-age=3600")
    redirect = requests.get(deployment.http_origin + "/health/", allow_redirects=False, timeout=10)
    assert (redirect.status_code, redirect.headers["Location"]) == (301, deployment.origin + "/health/")

    check_static_files_come_from_nginx(deployment)
    session = sign_in_as_official(deployment)
    check_turnout_websocket_across_processes(deployment, session)
    cast_mobile_vote_and_see_it_on_every_node(deployment)


def check_static_files_come_from_nginx(deployment: Deployment) -> None:
    import requests

    asset = next(p for p in sorted(deployment.static_root.rglob("*.js")))
    relative = asset.relative_to(deployment.static_root).as_posix()
    served = https_get(deployment, "/static/" + relative)
    assert served.status_code == 200 and served.content == asset.read_bytes()
    assert "javascript" in served.headers["Content-Type"]
    # Django itself (DEBUG off) does not serve it: the bytes above came from nginx.
    direct = requests.get(f"{deployment.upstream}/static/{relative}", headers={"X-Forwarded-Proto": "https"},
                          allow_redirects=False, timeout=10)
    assert direct.status_code == 404


def sign_in_as_official(deployment: Deployment) -> Any:
    import requests

    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE in the environment would override verify
    session.verify = str(deployment.cert)
    page = session.get(deployment.origin + "/accounts/sign-in/", timeout=30)
    assert page.status_code == 200 and 'name="password"' in page.text
    csrf_cookie = next(c for c in session.cookies if c.name == "csrftoken")
    assert csrf_cookie.secure
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    answer = session.post(deployment.origin + "/accounts/sign-in/", allow_redirects=False, timeout=30,
                          data={"csrfmiddlewaretoken": token, "username": "official",
                                "password": "demo-official-2026"},
                          headers={"Referer": deployment.origin + "/accounts/sign-in/"})
    assert answer.status_code == 302, answer.text[:500]
    session_cookie = next(c for c in session.cookies if c.name == "sessionid")
    assert session_cookie.secure and session_cookie.has_nonstandard_attr("HttpOnly")
    return session


def check_turnout_websocket_across_processes(deployment: Deployment, session: Any) -> None:
    """The live turnout socket through nginx; events sent by another process arrive through Redis."""
    import ssl

    from asgiref.sync import async_to_sync
    from channels_redis.core import RedisChannelLayer
    from websockets.sync.client import connect

    election_id = deployment.summary["election_id"]
    cookie = "; ".join(f"{c.name}={c.value}" for c in session.cookies)
    context = ssl.create_default_context(cafile=str(deployment.cert))
    url = deployment.origin.replace("https://", "wss://") + f"/ws/elections/{election_id}/turnout/"
    with connect(url, ssl=context, additional_headers={"Cookie": cookie, "Origin": deployment.origin},
                 open_timeout=20) as socket:
        first = json.loads(socket.recv(timeout=20))
        assert first["type"] == "turnout"
        import redis

        from voting.services.live import get_turnout_group

        group = get_turnout_group(election_id)
        members = redis.Redis.from_url(support.deployment_redis_url()).zcard(REDIS_GROUP_PREFIX + group)
        assert members >= 1, f"no member of {group} in Redis: the workers do not use the Redis layer"
        layer = RedisChannelLayer(hosts=[support.deployment_redis_url()])
        started = time.monotonic()
        for _ in range(3):
            async_to_sync(layer.group_send)(group, {"type": "turnout.changed"})
        received = [json.loads(socket.recv(timeout=20)) for _ in range(3)]
        # The consumer's own refresh sends one snapshot per 5 s, so three within 10 s came from the sends.
        assert time.monotonic() - started < 10
        assert all(message["type"] == "turnout" for message in received)


def cast_mobile_vote_and_see_it_on_every_node(deployment: Deployment) -> None:
    summary = deployment.summary
    client = NodeClient([deployment.nodes[0].url])
    election = client.query("vote", "election", {"election": summary["ledger_id"]})
    candidate_id = sorted(c["id"] for c in election["candidates"])[0]
    env = {**os.environ, "SSL_CERT_FILE": str(deployment.cert)}
    result = run([sys.executable, str(BASE_DIR / "clients" / "evote_mobile.py"), "--server", deployment.origin,
                  "vote", "--election", summary["ledger_id"], "--phone", summary["mobile_phone"],
                  "--birth-date", summary["mobile_birth_date"], "--candidate", candidate_id,
                  "--otp-file", deployment.web_env["MOBILE_SMS_FILE_PATH"]], env=env, timeout=120)
    receipt = json.loads(result.stdout)
    assert re.fullmatch(r"[0-9a-f]{64}", receipt["tracking_code"]), receipt
    expected_votes = summary["votes"] + 1

    def counted_everywhere() -> bool:
        return all(scrape_votes(node.url) == expected_votes for node in deployment.nodes)

    wait_until(counted_everywhere, timeout=30, what="the vote in every node's ledger_votes_committed_total")
    tally = client.query("vote", "tally", {"election": summary["ledger_id"]})
    assert tally["totals"]["spent"] == expected_votes


def scrape_votes(url: str) -> float:
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(url + "/metrics", timeout=10) as response:
        families = {f.name: f for f in text_string_to_metric_families(response.read().decode())}
    return next(s.value for s in families["ledger_votes_committed"].samples
                if s.name == "ledger_votes_committed_total")


# --- backup, restore and re-sync ------------------------------------------------------------------


def chain_of(url: str) -> list[bytes]:
    """Every committed block's canonical bytes (certificates differ between nodes; blocks must not)."""
    return [encode(entry["block"]) for entry in NodeClient([url]).iter_blocks()]


def commit_while_down(deployment: Deployment, survivors: list[DeployedNode], label: str) -> None:
    """New blocks on the running nodes (an election set up by the authority), so the restored node must catch up."""
    authority = read_private_key(Path(deployment.web_env["LEDGER_AUTHORITY_KEY_FILE"]))
    client = NodeClient([n.url for n in survivors])
    chain = client.status()["chain"]
    setup = election_setup(authority, chain, voter_keys(3, label), election=label)
    assert {s.status for s in client.commit_many(setup, timeout_s=30)} == {"committed"}


def wait_identical(deployment: Deployment, node: DeployedNode) -> None:
    others = [n for n in deployment.nodes if n is not node]

    def caught_up() -> bool:
        heights = {NodeClient([n.url]).status()["persisted_height"] for n in deployment.nodes}
        return len(heights) == 1

    wait_until(caught_up, timeout=60, what=f"{node.node_id} to catch up\n{deployment.logs()}")
    reference = chain_of(others[0].url)
    assert chain_of(node.url) == reference and len(reference) > 1
    assert NodeClient([node.url]).query("system", "evidence", {}) == []  # nobody signed twice


def test_node_restored_from_pg_dump_and_node_rebuilt_from_genesis_catch_up_with_identical_chains(
        deployment: Deployment) -> None:
    restored, rebuilt = deployment.nodes[2], deployment.nodes[3]
    dump = deployment.root / f"{restored.node_id}.dump"
    # 1. Backup while the node runs (docs/operations.md, section 5).
    pg(deployment, "pg_dump", "--format=custom", "--file", str(dump), deployment.database_url(restored.database))
    signer_before = json.loads((restored.home / "signer_state.json").read_text())

    # 2. Lose the database: stop, drop; the network goes on without it.
    assert restored.stop() == 0, deployment.logs()
    dropdb(deployment, restored.database)
    commit_while_down(deployment, [n for n in deployment.nodes if n is not restored], "backup1")

    # 3. Restore the dump into a new, empty database, keep the home (key, signer_state.json), start.
    createdb(deployment, restored.database)
    pg(deployment, "pg_restore", "--no-owner", "--dbname", deployment.database_url(restored.database), str(dump))
    restored.start()
    wait_identical(deployment, restored)
    signer_after = json.loads((restored.home / "signer_state.json").read_text())
    assert (signer_after["height"], signer_after["round"]) >= (signer_before["height"], signer_before["round"])
    verified = manage("ledger_verify", "--no-progress", env=restored.env, timeout=180)  # section 6, on the restore
    assert "OK:" in verified.stdout, verified.stdout

    # 4. The other way: an empty database, migrate, ledger_init from the genesis, re-sync from peers.
    assert rebuilt.stop() == 0, deployment.logs()
    dropdb(deployment, rebuilt.database)
    createdb(deployment, rebuilt.database)
    manage("migrate", "--noinput", "-v", "0", env=rebuilt.env)
    manage("ledger_init", "--genesis", str(rebuilt.home / "genesis.json"), env=rebuilt.env)
    commit_while_down(deployment, [n for n in deployment.nodes if n is not rebuilt], "resync1")
    rebuilt.start()
    wait_identical(deployment, rebuilt)
    # Both came back as validators: the next block carries their votes again.
    commit_while_down(deployment, deployment.nodes, "after1")
    wait_identical(deployment, rebuilt)
