"""The mobile page: strict CSP, no inline code, Korean and English, and the officials' mobile-voting option."""

from __future__ import annotations

import json
import re
from datetime import datetime

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils.timezone import localtime

from voting.models import Election, Region

from tests.voting.factories import make_election

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("language", "heading", "script_text", "next_steps", "resume"), [
    ("ko", "휴대전화로 투표", "인증번호를 보내는 중…", "다음 순서", "투표 마치기"),
    ("en", "Vote by phone", "Sending the code…", "What happens next", "Finish my vote"),
])
def test_the_page_is_translated_and_has_a_strict_policy(language: str, heading: str, script_text: str,
                                                         next_steps: str, resume: str) -> None:
    response = Client().get("/m/", HTTP_ACCEPT_LANGUAGE=language)
    html = response.content.decode()
    policy = response["Content-Security-Policy"]
    assert response.status_code == 200 and heading in html
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    executable = [attrs for attrs, body in scripts if "application/json" not in attrs]
    assert executable == [' type="module" src="/static/mobile/mobile.js"']  # no inline script
    assert not [body for attrs, body in scripts if "application/json" not in attrs and body.strip()]
    (strings,) = [json.loads(body) for attrs, body in scripts if "mobile-strings" in attrs]
    assert strings["sending_code"] == script_text and strings["resume_send"] == resume
    assert next_steps in html  # the confirmation screen says what happens after the code
    assert html.index('id="screen-ballot"') < html.index('id="screen-confirm"') < html.index('id="screen-identity"')
    assert " style=" not in html and "<style" not in html
    assert 'data-mint-delay-max-ms="1000"' in html  # the random pause before the mint, from settings


def test_api_errors_follow_the_requested_language(transport: object) -> None:
    body = {"challenge": "unknown", "code": "12345678"}
    korean = Client().post("/api/v1/mobile/otp/verify", body, content_type="application/json",
                           HTTP_ACCEPT_LANGUAGE="ko").json()
    english = Client().post("/api/v1/mobile/otp/verify", body, content_type="application/json",
                            HTTP_ACCEPT_LANGUAGE="en").json()
    assert korean["code"] == english["code"] == "otp_challenge_unknown"
    assert english["message"] == "This code request is unknown. Ask for a new code."
    assert korean["message"] == "알 수 없는 인증 요청입니다. 인증번호를 다시 받으세요."


def test_officials_can_offer_mobile_voting(official: User, suwon: Region, now: datetime) -> None:
    client = Client()
    client.force_login(official)
    election = make_election(official, suwon, now)
    page = client.get(reverse("voting:election_edit", args=[election.pk]), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'name="mobile_voting"' in page and "Offer mobile voting" in page
    form = {
        "title": election.title, "kind": "single", "max_choices": "1", "region": str(suwon.pk),
        "opens_at": localtime(election.opens_at).strftime("%Y-%m-%dT%H:%M"),
        "closes_at": localtime(election.closes_at).strftime("%Y-%m-%dT%H:%M"),
        "mobile_voting": "on", "candidates-TOTAL_FORMS": "2", "candidates-INITIAL_FORMS": "0",
        "candidates-0-name": "Kim", "candidates-1-name": "Lee",
    }
    response = client.post(reverse("voting:election_edit", args=[election.pk]), form)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Election.objects.get(pk=election.pk).mobile_voting is True
    dashboard = client.get(reverse("voting:dashboard", args=[election.pk]), HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert "모바일 투표" in dashboard and "제공 (문자 인증과 익명 자격증명)" in dashboard
