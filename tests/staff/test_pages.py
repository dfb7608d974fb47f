"""The back-office shells (P1, P2): no personal data, no token, no inline script, every
script and style from this origin, never stored; the access log keeps their templates."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from quietshop.app import AssembledApp, log_policy
from quietshop.web.privacy import CONTENT_SECURITY_POLICY

PAGES = ["/staff", "/staff/sign-in", "/staff/enrol"]
SCRIPTS = ["staff-api.js", "lock-screen.js", "shell.js", "sign-in.js", "enrol.js"]


@pytest.mark.parametrize("path", PAGES)
def test_a_shell_is_same_origin_and_never_stored(api: TestClient, path: str) -> None:
    response = api.get(path)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "set-cookie" not in response.headers
    html = response.text
    scripts = re.findall(r"<script\b[^>]*>", html)
    assert scripts and all('type="module"' in tag and 'src="/static/' in tag for tag in scripts)
    assert re.findall(r"<script\b[^>]*>\s*[^<\s]", html) == []  # nothing inline
    assert not re.search(r"""(src|href)=["'](https?:)?//""", html)  # nothing from elsewhere
    assert not re.search(r"\son[a-z]+=", html)  # no inline handlers
    assert "/static/staff/staff.css" in html


def test_the_shell_has_the_lock_screen_and_the_forms_need_their_script(api: TestClient) -> None:
    html = api.get("/staff").text
    assert 'data-lock-screen role="dialog" aria-modal="true"' in html
    assert "data-staff-page" in html and "data-staff-content" in html
    assert "data-lock-now" in html and "data-sign-out" in html
    # Until the script enables it, the unlock form cannot be sent (no password in a URL).
    assert re.search(r"data-unlock-form method=\"post\"[^>]*><fieldset[^>]*disabled", html)


@pytest.mark.parametrize("name", SCRIPTS)
def test_the_scripts_are_served_from_this_origin(api: TestClient, name: str) -> None:
    response = api.get(f"/static/staff/{name}")
    assert response.status_code == 200
    assert "javascript" in response.headers["content-type"]
    for imported in re.findall(r'from "([^"]+)"', response.text):
        assert imported.startswith(("/static/", "./")), imported


def test_the_token_is_kept_in_session_storage_only(api: TestClient) -> None:
    source = api.get("/static/staff/staff-api.js").text
    assert 'const TOKEN_KEY = "quietshop.staff.token";' in source
    assert "sessionStorage" in source
    code = "\n".join(line for line in source.splitlines() if not line.startswith("//"))
    assert "localStorage." not in code and "document.cookie" not in code
    assert 'credentials: "omit"' in source
    assert "export async function staffFetch(path" in source


def test_a_page_sent_without_its_script_reads_nothing(api: TestClient) -> None:
    response = api.post("/staff/needs-javascript", data={"password": "not read 12"})
    assert response.status_code == 200 and "needs JavaScript" in response.text
    assert "not read 12" not in response.text


def test_the_access_log_keeps_staff_paths_by_template(assembled: AssembledApp) -> None:
    prefixes = log_policy().private_prefixes
    assert "/staff" in prefixes and "/api/v1/staff" in prefixes
