"""Building blocks of the deployment test: real PostgreSQL, Redis, nginx and processes, as docs/operations.md says."""

from __future__ import annotations

import datetime
import ipaddress
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from tests.deploy.envvars import read_env_var_names

BASE_DIR = Path(settings.BASE_DIR)
MANAGE = str(BASE_DIR / "manage.py")
DEPLOY_DIR = BASE_DIR / "deploy"
NGINX_CANDIDATES = ("/usr/sbin/nginx", "/usr/bin/nginx")
APT_LOCK_TIMEOUT_S = 120


def postgres_admin_url() -> str:
    """The server to create databases on: DATABASE_URL's when it is PostgreSQL, else the local default."""
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        parts = urlsplit(url)
        return parts._replace(path="/postgres").geturl()
    return "postgres://postgres@127.0.0.1:5432/postgres"


def redis_url() -> str:
    return os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"


def deployment_redis_url() -> str:
    """REDIS_URL's server, database 14: the deployment's channel groups never meet other tests' sockets."""
    return urlsplit(redis_url())._replace(path="/14").geturl()


def why_postgres_unusable() -> str | None:
    try:
        import psycopg

        with psycopg.connect(postgres_admin_url(), connect_timeout=3) as connection:
            connection.execute("SELECT 1")
    except Exception as exc:  # any failure means "not here": skip, do not error
        return f"PostgreSQL is not reachable at {postgres_admin_url()}: {exc}"
    for tool in ("createdb", "dropdb", "pg_dump", "pg_restore"):
        if shutil.which(tool) is None:
            return f"the PostgreSQL client tool {tool} is not installed (Debian: postgresql-client)"
    return None


def why_redis_unusable() -> str | None:
    try:
        import redis

        redis.Redis.from_url(redis_url(), socket_connect_timeout=3).ping()
    except Exception as exc:
        return f"Redis is not reachable at {redis_url()}: {exc}"
    return None


def find_nginx() -> str | None:
    return next((path for path in NGINX_CANDIDATES if Path(path).exists()), None) or shutil.which("nginx")


def ensure_nginx() -> tuple[str | None, str | None]:
    """(path to nginx, None) or (None, why not); installs Debian's package when root with apt-get."""
    found = find_nginx()
    if found:
        return found, None
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return None, "nginx is not installed (Debian: apt-get install nginx) and we cannot install it"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    lock = ["-o", f"DPkg::Lock::Timeout={APT_LOCK_TIMEOUT_S}"]
    for command in (["apt-get", *lock, "update"],
                    ["apt-get", *lock, "install", "-y", "--no-install-recommends", "nginx"]):
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900, check=False)
        if result.returncode != 0:
            return None, f"could not install nginx with {' '.join(command)}: {result.stderr[-500:]}"
    found = find_nginx()
    return (found, None) if found else (None, "apt-get installed nginx but no nginx binary was found")


def clean_env(**values: str) -> dict[str, str]:
    """This process's environment without any variable the app reads, plus ``values``.

    CI sets DATABASE_URL and REDIS_URL for the test process; a deployed process must see only
    what its own environment file says.
    """
    app_vars = set(read_env_var_names())
    # Also what only the test harness sets: tests/e2e/conftest.py allows sync ORM calls inside
    # Playwright's event loop, and check --deploy rightly refuses that in production (async.E001).
    harness_vars = {"DJANGO_ALLOW_ASYNC_UNSAFE"}
    env = {k: v for k, v in os.environ.items() if k not in app_vars and k not in harness_vars}
    env.update(PYTHONUNBUFFERED="1", **values)
    return env


def read_env_file(path: Path) -> dict[str, str]:
    """A systemd EnvironmentFile of plain ``NAME=value`` lines (comments and blank lines skipped)."""
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, separator, value = line.partition("=")
            assert separator and name.strip() == name and name.isupper(), f"{path.name}: bad line {line!r}"
            values[name] = value
    return values


def run(command: Sequence[str], env: dict[str, str] | None = None, timeout: float = 120,
        cwd: Path = BASE_DIR) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(list(command), env=env, capture_output=True, text=True, timeout=timeout, cwd=cwd,
                            check=False)
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} exited {result.returncode}:\n{result.stdout[-2000:]}\n"
                             f"{result.stderr[-3000:]}")
    return result


def manage(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, MANAGE, *args], env=env, timeout=timeout)


def start(command: Sequence[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as handle:
        return subprocess.Popen(list(command), env=env, stdout=handle, stderr=subprocess.STDOUT, cwd=BASE_DIR)


def stop(process: subprocess.Popen[bytes] | None, timeout: float = 20) -> int | None:
    if process is None:
        return None
    if process.poll() is None:
        process.terminate()
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(predicate: Callable[[], Any], *, timeout: float, what: str, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
        except Exception as exc:  # a server still starting answers with all sorts of errors
            last = exc
        if last and not isinstance(last, Exception):
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def write_self_signed_certificate(cert_path: Path, key_path: Path, host: str = "127.0.0.1") -> None:
    """A throwaway certificate for ``host`` (and localhost), so HTTPS, Secure cookies and HSTS are real."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host)),
                                                    x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))


def render_template(template: Path, values: dict[str, str]) -> str:
    """Fill deploy/ template placeholders (@NAME@) and insist that none is left."""
    text = template.read_text(encoding="utf-8")
    for name, value in values.items():
        text = text.replace(f"@{name}@", value)
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    assert "@" not in body.replace("$", ""), f"unfilled placeholder in {template.name}"
    return text
