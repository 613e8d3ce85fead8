"""The shell pages render in both languages without external assets, and the schema is served."""

from __future__ import annotations

from django.test import Client


def test_home_page_renders_in_korean_by_default(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    page = response.content.decode()
    assert '<html lang="ko">' in page
    assert "블록체인 전자투표" in page
    assert "/static/css/site.css" in page
    assert "https://" not in page


def test_home_page_follows_browser_language(client: Client) -> None:
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="en")
    assert '<html lang="en">' in response.content.decode()
    assert "Blockchain e-voting for municipalities" in response.content.decode()


def test_language_switcher_sets_cookie_and_redirects(client: Client) -> None:
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert response.status_code == 302
    assert response.cookies["django_language"].value == "en"
    assert '<html lang="en">' in client.get("/").content.decode()


def test_openapi_schema_is_served(client: Client) -> None:
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    assert response.json()["info"]["title"] == "Blockchain e-voting API"
