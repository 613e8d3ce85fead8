"""Sign-in throttling and lockout for staff accounts (officials, poll workers, observers).

Password guessing against an official's account is the cheapest way into the election
commission's tools, so failed sign-ins are counted in the cache (Redis in production, shared
by every worker):

- per account: after ``ACCOUNT_FAILURES`` failures within ``WINDOW_S`` the account is locked
  for ``LOCK_S``, whatever the password typed next (a correct one included), so guessing
  cannot continue at full speed;
- per client address: after ``ADDRESS_FAILURES`` failures within the window that address is
  locked the same way, which slows spraying one password over many accounts.

A lock answers with the same message whether or not the account exists, and a successful
sign-in clears the account's count. Locks expire on their own; a superuser can clear one
early with ``clear_lock``. Counts key on a SHA-256 of the lower-cased user name, so the
cache holds no user names. Every lock is logged (user name and address; never a password).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

logger = logging.getLogger("voting.signin")

ACCOUNT_FAILURES = 5
ADDRESS_FAILURES = 30
WINDOW_S = 15 * 60
LOCK_S = 15 * 60
LOCKED_CODE = "sign_in_locked"


@dataclass(frozen=True)
class Lock:
    scope: str  # "account" | "address"
    retry_after_s: int


def _account_key(username: str) -> str:
    return "signin:account:" + hashlib.sha256(username.strip().lower().encode()).hexdigest()


def _address_key(address: str) -> str:
    return "signin:address:" + hashlib.sha256(address.encode()).hexdigest()


def client_address(request: HttpRequest | None) -> str:
    """REMOTE_ADDR, or the client's hop of X-Forwarded-For behind the API's trusted proxy count."""
    if request is None:
        return ""
    from rest_framework.settings import api_settings

    remote = str(request.META.get("REMOTE_ADDR", ""))
    proxies = api_settings.NUM_PROXIES
    forwarded = str(request.META.get("HTTP_X_FORWARDED_FOR", ""))
    if proxies and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-min(proxies, len(hops))]
    return remote


def current_lock(username: str, address: str) -> Lock | None:
    """The lock that applies to this account or address, if any (account first)."""
    keys = []
    if username.strip():
        keys.append(("account", _account_key(username)))
    if address:
        keys.append(("address", _address_key(address)))
    for scope, key in keys:
        if cache.get(key + ":locked"):
            ttl = getattr(cache, "ttl", None)  # the Redis backend tells the time left; locmem does not
            remaining = ttl(key + ":locked") if callable(ttl) else None
            return Lock(scope, int(remaining) if isinstance(remaining, int) and remaining > 0 else LOCK_S)
    return None


def _count(key: str, limit: int) -> bool:
    """Add one failure in the window; True when the limit is reached (and lock the key)."""
    cache.add(key, 0, WINDOW_S)
    try:
        failures = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, WINDOW_S)
        failures = 1
    if failures >= limit:
        cache.set(key + ":locked", 1, LOCK_S)
        cache.delete(key)
        return True
    return False


def record_failure(username: str, address: str) -> None:
    if username.strip() and _count(_account_key(username), ACCOUNT_FAILURES):
        logger.warning("sign-in locked for account %r after %s failures (last from %s)", username.strip(),
                       ACCOUNT_FAILURES, address or "unknown address")
        _record_lock_action(username, "staff_locked_out", failures=ACCOUNT_FAILURES, lock_s=LOCK_S)
    if address and _count(_address_key(address), ADDRESS_FAILURES):
        logger.warning("sign-in locked for address %s after %s failures", address, ADDRESS_FAILURES)


def record_success(username: str) -> None:
    cache.delete(_account_key(username))


def _record_lock_action(username: str, action: str, actor: Any = None, **detail: Any) -> None:
    """Put an account lock or unlock of an existing staff account in the officials' audit log (never an address)."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from .services.audit import record_action

    model = get_user_model()
    account = model.objects.filter(**{f"{model.USERNAME_FIELD}__iexact": username.strip()}).first()
    if account is None:  # an unknown name: nothing to attribute, and recording it would log guesses
        return
    if actor is not None:
        detail["user"] = account.pk
    record_action(actor or account, action, timezone.now(), **detail)


def clear_lock(username: str = "", address: str = "", *, actor: Any = None) -> None:
    """Lift a lock early (a superuser in the shell, after checking with the account holder; pass ``actor``)."""
    if username:
        cache.delete_many([_account_key(username), _account_key(username) + ":locked"])
        if actor is not None:
            _record_lock_action(username, "staff_unlocked", actor=actor)
    if address:
        cache.delete_many([_address_key(address), _address_key(address) + ":locked"])


class _Guarded:
    """Mixin for Django's authentication forms: refuse while locked, count failures, clear on success."""

    request: HttpRequest | None
    locked: Lock | None = None

    def clean(self) -> dict[str, Any]:
        username = str(self.data.get("username", ""))  # type: ignore[attr-defined]
        address = client_address(self.request)
        self.locked = current_lock(username, address)
        if self.locked is not None:
            minutes = max(1, (self.locked.retry_after_s + 59) // 60)
            raise forms.ValidationError(
                _("Too many failed sign-ins. Try again in %(minutes)s minutes."),
                code=LOCKED_CODE, params={"minutes": minutes},
            )
        try:
            cleaned: dict[str, Any] = super().clean()  # type: ignore[misc]
        except forms.ValidationError as error:
            if any(getattr(e, "code", "") == "invalid_login" for e in error.error_list):
                record_failure(username, address)
            raise
        record_success(username)
        return cleaned


class GuardedAuthenticationForm(_Guarded, AuthenticationForm):
    pass


class GuardedAdminAuthenticationForm(_Guarded, AdminAuthenticationForm):
    pass
