"""The one bearer-token guard: the right token passes, a missing or wrong one is a 401
asking for the credential, and a service without any token answers 503 (off, not open)."""

from __future__ import annotations

from fastapi import Depends, FastAPI, Request
from fastapi.testclient import TestClient

from services.common.auth import BearerGuard, matches_any

TOKENS = ["first-token-for-the-guard-test", "second-token-for-the-guard-test"]


def app_with(tokens: list[str]) -> TestClient:
    def tokens_of(request: Request) -> list[str]:
        return tokens

    guard = BearerGuard(
        tokens_of, setting="TEST_TOKENS", credential="a valid test token", routes="test routes"
    )
    app = FastAPI()

    @app.get("/guarded", dependencies=[Depends(guard)])
    def guarded() -> dict[str, bool]:
        return {"ok": True}

    return TestClient(app)


def test_each_configured_token_passes() -> None:
    client = app_with(TOKENS)
    for token in TOKENS:
        assert client.get("/guarded", headers={"Authorization": f"Bearer {token}"}).json() == {
            "ok": True
        }


def test_a_missing_wrong_or_other_scheme_credential_is_a_401_naming_what_to_present() -> None:
    client = app_with(TOKENS)
    for headers in (
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Bearer {TOKENS[0]}x"},
        {"Authorization": f"Bearer {TOKENS[0][:-1]}"},
        {"Authorization": f"Basic {TOKENS[0]}"},
    ):
        answer = client.get("/guarded", headers=headers)
        assert answer.status_code == 401, headers
        assert answer.headers["www-authenticate"] == "Bearer"
        assert answer.json()["detail"] == (
            "a valid test token is required (Authorization: Bearer <token>)"
        )


def test_without_any_token_the_routes_are_off_not_open() -> None:
    for tokens in ([], [""]):
        answer = app_with(tokens).get("/guarded", headers={"Authorization": "Bearer "})
        assert answer.status_code == 503
        assert answer.json()["detail"] == "test routes are disabled: TEST_TOKENS is not set"


def test_matching_compares_whole_tokens() -> None:
    assert matches_any("abc", ["x", "abc"])
    assert not matches_any("ab", ["abc"]) and not matches_any("abcd", ["abc"])
    assert not matches_any("", [])
