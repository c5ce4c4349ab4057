"""A page that drives WebAuthn ceremonies from a real browser, for tests only.

Served at `/_test/webauthn` when `mfa.webauthn_test_page` is on (never in the
OpenAPI document). The browser test opens it on `http://localhost:<port>`,
gives the browser a virtual authenticator through the DevTools protocol, and
calls `registerKey(accessToken, name)` and `finishLogin(mfaToken)`: the same
requests a web vault would make, with the WebAuthn Level 3 JSON helpers
(`parseCreationOptionsFromJSON`, `toJSON`).
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

router = APIRouter(prefix="/_test", include_in_schema=False)

PAGE_CSP = "default-src 'none'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'"

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>vaultapi WebAuthn test page</title>
<script src="/_test/webauthn.js"></script></head>
<body><p>vaultapi WebAuthn test page</p></body></html>
"""

SCRIPT = """
async function call(path, body, token) {
  const headers = {"Content-Type": "application/json"};
  if (token) headers["Authorization"] = "Bearer " + token;
  const response = await fetch(path, {method: "POST", headers, body: JSON.stringify(body || {})});
  return {status: response.status, body: await response.json()};
}

async function registerKey(accessToken, name) {
  const ceremony = await call("/v1/account/mfa/webauthn/options", {}, accessToken);
  if (ceremony.status !== 200) return ceremony;
  const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(ceremony.body.options);
  const credential = await navigator.credentials.create({publicKey});
  return call("/v1/account/mfa/webauthn",
    {ceremony_id: ceremony.body.ceremony_id, name, credential: credential.toJSON()}, accessToken);
}

async function finishLogin(mfaToken) {
  const ceremony = await call("/v1/auth/mfa/webauthn/options", {mfa_token: mfaToken});
  if (ceremony.status !== 200) return ceremony;
  const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(ceremony.body.options);
  const credential = await navigator.credentials.get({publicKey});
  return call("/v1/auth/mfa/webauthn",
    {mfa_token: mfaToken, ceremony_id: ceremony.body.ceremony_id, credential: credential.toJSON()});
}
"""


@router.get("/webauthn")
async def page() -> HTMLResponse:
    return HTMLResponse(PAGE, headers={"Content-Security-Policy": PAGE_CSP})


@router.get("/webauthn.js")
async def script() -> Response:
    return Response(SCRIPT, media_type="text/javascript")
