"""Staff sign-in throttling and lockout (voting.signin), through the real sign-in pages."""

from __future__ import annotations

import logging

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from voting import signin

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def clean_cache() -> None:
    cache.clear()


@pytest.fixture
def official(db: None) -> User:
    return User.objects.create_user("kim.official", password=PASSWORD, is_staff=True)


def sign_in(client: Client, username: str, password: str, *, address: str = "203.0.113.7", admin: bool = False) -> object:
    url = reverse("admin:login") if admin else reverse("voting:sign_in")
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=address,
                       HTTP_ACCEPT_LANGUAGE="en")


def is_signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_five_failures_lock_the_account_even_for_the_right_password(official: User, caplog: pytest.LogCaptureFixture) -> None:
    client = Client()
    with caplog.at_level(logging.WARNING, logger="voting.signin"):
        for _ in range(signin.ACCOUNT_FAILURES):
            response = sign_in(client, "kim.official", "wrong password")
            assert response.status_code == 200 and not is_signed_in(client)
    response = sign_in(client, "Kim.Official ", PASSWORD)  # case and spaces do not dodge the lock
    assert response.status_code == 200 and not is_signed_in(client)
    assert "Too many failed sign-ins" in response.content.decode()
    assert "kim.official" in caplog.text and "wrong password" not in caplog.text and PASSWORD not in caplog.text

    signin.clear_lock(username="kim.official")
    sign_in(client, "kim.official", PASSWORD)
    assert is_signed_in(client)


def test_an_unknown_account_locks_with_the_same_message(db: None) -> None:
    client = Client()
    for _ in range(signin.ACCOUNT_FAILURES):
        sign_in(client, "nobody", "guess")
    locked = sign_in(client, "nobody", "guess").content.decode()
    assert "Too many failed sign-ins" in locked


def test_success_clears_the_count_and_other_accounts_are_not_locked(official: User, db: None) -> None:
    User.objects.create_user("lee.worker", password=PASSWORD)
    client = Client()
    for _ in range(signin.ACCOUNT_FAILURES - 1):
        sign_in(client, "kim.official", "wrong")
    sign_in(client, "kim.official", PASSWORD)
    assert is_signed_in(client)
    client = Client()
    for _ in range(signin.ACCOUNT_FAILURES - 1):  # the count restarted after the success
        sign_in(client, "kim.official", "wrong")
    sign_in(client, "kim.official", PASSWORD)
    assert is_signed_in(client)
    for _ in range(signin.ACCOUNT_FAILURES):
        sign_in(Client(), "kim.official", "wrong")
    other = Client()
    sign_in(other, "lee.worker", PASSWORD, address="198.51.100.9")
    assert is_signed_in(other)


def test_password_spraying_from_one_address_locks_that_address(official: User) -> None:
    client = Client()
    for number in range(signin.ADDRESS_FAILURES):
        sign_in(client, f"user{number}", "Spring2026!", address="192.0.2.50")
    sign_in(client, "kim.official", PASSWORD, address="192.0.2.50")
    assert not is_signed_in(client)
    elsewhere = Client()
    sign_in(elsewhere, "kim.official", PASSWORD, address="192.0.2.51")
    assert is_signed_in(elsewhere)


def test_the_admin_sign_in_is_guarded_too(db: None) -> None:
    User.objects.create_superuser("root", password=PASSWORD)
    client = Client()
    for _ in range(signin.ACCOUNT_FAILURES):
        sign_in(client, "root", "wrong", admin=True)
    response = sign_in(client, "root", PASSWORD, admin=True)
    assert response.status_code == 200 and not is_signed_in(client)
    assert "Too many failed sign-ins" in response.content.decode()
