"""Single sign-on end to end: Streamlit's `st.login` against a real OpenID Connect provider
(`oidc-provider-mock`) started here on loopback, in Debian's chromium. The identity's e-mail
maps to an account, created at the first sign-in with the default role and clearance."""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e_support import CHROMIUM, free_port, serve, wait_idle

EMAIL = "fatou.diallo@example.org"


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    mock = pytest.importorskip("oidc_provider_mock")
    pytest.importorskip("authlib")
    claims = [mock.User(sub="fatou", claims={"email": EMAIL, "name": "Fatou Diallo"})]
    with mock.run_server_in_thread(port=free_port(), user_claims=claims) as server:
        yield f"http://127.0.0.1:{server.server_port}"


@pytest.fixture(scope="module")
def sso_app(
    demo_dir: Path, provider: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: run `make setup` as root to install it")
    folder = tmp_path_factory.mktemp("sso")
    data = folder / "data"
    shutil.copytree(demo_dir, data, ignore=shutil.ignore_patterns(".lock"))
    port = free_port()
    secrets_file = folder / "secrets.toml"
    secrets_file.write_text(
        "[auth]\n"
        f'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
        f'cookie_secret = "{secrets.token_hex(16)}"\n'
        "[auth.oidc]\n"
        'client_id = "lessons-learned"\n'
        f'client_secret = "{secrets.token_hex(16)}"\n'
        f'server_metadata_url = "{provider}/.well-known/openid-configuration"\n'
    )
    with serve(data, port=port, extra=["--secrets.files", str(secrets_file)]) as url:
        yield url, data


def test_sso_sign_in_creates_the_account_at_first_sign_in(
    sso_app: tuple[str, Path], web_browser: Any
) -> None:
    from index.datadir import DataDir

    url, data = sso_app
    context = web_browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(120_000)
    try:
        page: Any = context.new_page()
        page.goto(url + "/")
        page.get_by_role("button", name="Sign in with single sign-on").click()
        page.get_by_role("button", name="fatou").click()  # the provider's own page
        page.get_by_role("button", name="Sign out").wait_for()
        wait_idle(page)
        assert page.get_by_label("Search the library").count() == 1
        assert "Fatou Diallo" in page.locator('[data-testid="stSidebar"]').inner_text()
    finally:
        context.close()
    with DataDir(data) as dd:
        user = dd.store.user_by_email(EMAIL)
        assert user is not None and user.roles == frozenset({"officer"})
        assert user.clearance == "unclassified" and not user.has_password
        events = [(e.event, e.detail) for e in dd.store.security_events()]
    assert ("sign_in", "single sign-on") in events
