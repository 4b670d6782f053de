// Drives eid-server through a whole OpenID Connect session with openid-client, an
// independent and strict relying-party library: discovery, an authorization request with
// PKCE (optionally pushed, RFC 9126), the login and consent forms as a browser would post
// them, the code exchange with ID token validation, UserInfo, refresh token rotation,
// introspection, revocation and RP-initiated logout.
//
// Inputs come from the environment (see README.md). Prints one line per step and exits
// non-zero with the failing step and the reason on the first failure.

import { readFile } from 'node:fs/promises';
import * as oidc from 'openid-client';

/** The inputs, read once; missing required ones end the run before any request. */
function inputs() {
  const env = process.env;
  const missing = [];
  const need = (name) => {
    const value = env[name];
    if (!value) missing.push(name);
    return value;
  };
  const auth = env.EID_CLIENT_AUTH || 'client_secret_basic';
  const config = {
    issuer: need('EID_ISSUER'),
    clientId: need('EID_CLIENT_ID'),
    auth,
    secret: ['client_secret_basic', 'client_secret_post'].includes(auth)
      ? need('EID_CLIENT_SECRET')
      : undefined,
    keyFile: auth === 'private_key_jwt' ? need('EID_CLIENT_KEY_FILE') : undefined,
    redirectUri: need('EID_REDIRECT_URI'),
    postLogoutRedirectUri: need('EID_POST_LOGOUT_REDIRECT_URI'),
    personalId: need('EID_PERSONAL_ID'),
    password: need('EID_PASSWORD'),
    scope: env.EID_SCOPE || 'openid profile',
    par: env.EID_PAR === '1',
    expectedClaims: JSON.parse(env.EID_EXPECTED_CLAIMS || '{}'),
    expectedAcr: env.EID_EXPECTED_ACR || 'http://eidas.europa.eu/LoA/low',
  };
  if (missing.length > 0) {
    throw new Error(`missing environment variables: ${missing.join(', ')}`);
  }
  if (!['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'].includes(auth)) {
    throw new Error(`EID_CLIENT_AUTH: unknown method ${auth}`);
  }
  return config;
}

/** The claims each scope releases (eid-core's release table, OIDC Core 5.4). */
const SCOPE_CLAIMS = {
  openid: [],
  profile: ['name', 'family_name', 'middle_name', 'given_name'],
  birthdate: ['birthdate'],
  gender: ['gender'],
  address: ['address'],
  personal_id: ['personal_id'],
};

/** Masks personal ID numbers (12 digits) in anything printed. */
function redact(text) {
  return String(text).replace(/\d{12}/g, '[personal id]');
}

/** A readable one-line description of an error, with the OAuth error fields if any. */
function describe(err) {
  if (!(err instanceof Error)) return redact(JSON.stringify(err));
  const parts = [err.message];
  if (err.code) parts.push(`code=${err.code}`);
  if (err.status) parts.push(`status=${err.status}`);
  if (err.error) parts.push(`error=${err.error}`);
  if (err.error_description) parts.push(`error_description=${JSON.stringify(err.error_description)}`);
  if (err.cause !== undefined) {
    const cause = err.cause instanceof Error ? err.cause.message : JSON.stringify(err.cause);
    parts.push(`cause=${cause}`);
  }
  return redact(parts.join(' '));
}

class StepFailure extends Error {}

/** Fails the current step. */
function fail(message) {
  throw new StepFailure(message);
}

function check(condition, message) {
  if (!condition) fail(message);
}

/** Runs one step, printing `ok <name>: <detail>` or `FAIL <name>: <reason>` and exiting. */
async function step(name, run) {
  try {
    const result = await run();
    const detail = result?.detail ? `: ${redact(result.detail)}` : '';
    console.log(`ok   ${name}${detail}`);
    return result?.value;
  } catch (err) {
    console.log(`FAIL ${name}: ${describe(err)}`);
    process.exit(1);
  }
}

/** Expects `promise` to be refused with the OAuth error `code`. */
async function expectOAuthError(promise, code, what) {
  try {
    await promise;
  } catch (err) {
    const got = err?.error ?? err?.cause?.error;
    check(got === code, `${what}: expected error ${code}, got ${describe(err)}`);
    return;
  }
  fail(`${what}: accepted, expected error ${code}`);
}

/** The few cookies a browser would keep for the provider (all on one host). */
class CookieJar {
  #cookies = new Map();

  /** Stores the response's Set-Cookie headers (RFC 6265 5.2), dropping expired ones. */
  store(response) {
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attributes.some((attribute) => {
        const [key, val = ''] = attribute.split('=').map((s) => s.trim());
        if (key.toLowerCase() === 'max-age') return Number(val) <= 0;
        if (key.toLowerCase() === 'expires') return Date.parse(val) <= Date.now();
        return false;
      });
      if (expired) this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
  }

  has(name) {
    return this.#cookies.has(name);
  }

  header() {
    return [...this.#cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }
}

/** A browser-like request without following redirects; returns status, location, body. */
async function browse(jar, url, form) {
  const headers = { accept: 'text/html' };
  const cookie = jar.header();
  if (cookie) headers.cookie = cookie;
  const init = { method: 'GET', headers, redirect: 'manual' };
  if (form) {
    init.method = 'POST';
    headers['content-type'] = 'application/x-www-form-urlencoded';
    headers.origin = new URL(url).origin;
    init.body = new URLSearchParams(form).toString();
  }
  const response = await fetch(url, init);
  jar.store(response);
  const location = response.headers.get('location');
  return {
    status: response.status,
    location: location === null ? null : new URL(location, url),
    text: await response.text(),
  };
}

/** Checks `response` is a 303 redirect and returns its target. */
function seeOther(response, what) {
  check(
    response.status === 303 && response.location !== null,
    `${what}: expected a 303 redirect, got ${response.status}${response.location ? ` to ${response.location.pathname}` : ''}: ${response.text.slice(0, 200)}`,
  );
  return response.location;
}

const ENTITIES = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** Decodes the character references HTML attribute values may contain. */
function unescapeHtml(text) {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, ref) => {
    if (ref[0] === '#') {
      const hex = ref[1] === 'x' || ref[1] === 'X';
      return String.fromCodePoint(parseInt(ref.slice(hex ? 2 : 1), hex ? 16 : 10));
    }
    return ENTITIES[ref.toLowerCase()] ?? whole;
  });
}

/** The attributes of a start tag's attribute text, in any order and quoting. */
function attributes(text) {
  const out = {};
  const pattern = /([^\s"'=<>/]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g;
  for (const [, name, dq, sq, bare] of text.matchAll(pattern)) {
    out[name.toLowerCase()] = unescapeHtml(dq ?? sq ?? bare ?? '');
  }
  return out;
}

/** The POST form whose action is `path` on `page`: its hidden inputs and its controls. */
function findForm(html, page, path) {
  for (const [, formAttributes, body] of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const form = attributes(formAttributes);
    const action = new URL(form.action ?? '', page);
    if ((form.method ?? 'get').toLowerCase() !== 'post' || action.pathname !== path) continue;
    const hidden = {};
    const controls = [];
    for (const [, tag, attrs] of body.matchAll(/<(input|button)\b([^>]*)>/gi)) {
      const control = { tag: tag.toLowerCase(), ...attributes(attrs) };
      if (control.tag === 'input' && control.type === 'hidden' && control.name) {
        hidden[control.name] = control.value ?? '';
      }
      controls.push(control);
    }
    return { action, hidden, controls };
  }
  fail(`no <form method="post" action="${path}"> on ${page.pathname}`);
}

/** True when `url` is a redirect to the RP's `redirectUri` (same URI, any query). */
function isCallback(url, redirectUri) {
  return `${url.origin}${url.pathname}` === redirectUri;
}

/** Loads the private JWK of a private_key_jwt client for WebCrypto signing. */
async function privateKey(file) {
  const jwk = JSON.parse(await readFile(file, 'utf8'));
  check(jwk.kty === 'EC' && jwk.crv === 'P-256' && jwk.d, `${file}: not a private P-256 JWK`);
  const { kid, alg, use, key_ops, ...material } = jwk;
  const key = await crypto.subtle.importKey(
    'jwk',
    material,
    { name: 'ECDSA', namedCurve: 'P-256' },
    false,
    ['sign'],
  );
  return { key, kid };
}

async function clientAuthentication(input) {
  switch (input.auth) {
    case 'client_secret_basic':
      return oidc.ClientSecretBasic(input.secret);
    case 'client_secret_post':
      return oidc.ClientSecretPost(input.secret);
    case 'private_key_jwt':
      return oidc.PrivateKeyJwt(await privateKey(input.keyFile));
    default:
      return oidc.None();
  }
}

/**
 * Checks the scope claims of `claims` against the requested scopes and the register: none
 * without its scope, each equal to the register's value, and (if `complete`) each one the
 * register holds for a requested scope present.
 */
function checkReleasedClaims(claims, scopes, expected, where, complete) {
  for (const [scope, names] of Object.entries(SCOPE_CLAIMS)) {
    for (const name of names) {
      const value = claims[name];
      if (!scopes.has(scope)) {
        check(value === undefined, `${where}: claim ${name} released without scope ${scope}`);
      } else if (expected[name] !== undefined && (complete || value !== undefined)) {
        check(
          value === expected[name],
          `${where}: claim ${name} is ${JSON.stringify(value)}, the register says ${JSON.stringify(expected[name])}`,
        );
      }
    }
  }
}

const input = await step('inputs', async () => {
  const value = inputs();
  const mode = value.par ? 'PAR' : 'query';
  return { value, detail: `client ${value.clientId} (${value.auth}), ${mode}, scope "${value.scope}"` };
});
const scopes = new Set(input.scope.split(' '));
const confidential = input.auth !== 'none';

const config = await step('discovery', async () => {
  const value = await oidc.discovery(
    new URL(input.issuer),
    input.clientId,
    undefined,
    await clientAuthentication(input),
    { execute: [oidc.allowInsecureRequests] },
  );
  const meta = value.serverMetadata();
  check(meta.issuer === input.issuer, `issuer ${meta.issuer}, expected ${input.issuer}`);
  for (const endpoint of [
    'authorization_endpoint',
    'token_endpoint',
    'userinfo_endpoint',
    'jwks_uri',
    'end_session_endpoint',
    'introspection_endpoint',
    'revocation_endpoint',
    'pushed_authorization_request_endpoint',
  ]) {
    check(typeof meta[endpoint] === 'string', `${endpoint} missing from discovery`);
  }
  // RFC 7636 4.3 / OIDC Discovery 3: S256 advertised; the code flow is the only flow.
  check(meta.code_challenge_methods_supported?.includes('S256'), 'S256 not in code_challenge_methods_supported');
  check(meta.response_types_supported?.includes('code'), 'code not in response_types_supported');
  check(
    meta.token_endpoint_auth_methods_supported?.includes(input.auth),
    `${input.auth} not in token_endpoint_auth_methods_supported`,
  );
  check(meta.subject_types_supported?.includes('pairwise'), 'pairwise not in subject_types_supported');
  check(
    meta.id_token_signing_alg_values_supported?.includes('ES256'),
    'ES256 not in id_token_signing_alg_values_supported',
  );
  // RFC 9207 3: the iss authorization response parameter is announced (openid-client then
  // requires it in every authorization response).
  check(
    meta.authorization_response_iss_parameter_supported === true,
    'authorization_response_iss_parameter_supported is not true',
  );
  for (const scope of scopes) {
    check(meta.scopes_supported?.includes(scope), `${scope} not in scopes_supported`);
  }
  return { value, detail: `issuer ${meta.issuer}` };
});

/**
 * A new authorization request (PKCE S256, state, nonce), pushed first if the run uses PAR;
 * returns its URL and the values the callback is checked against.
 */
async function authorizationRequest() {
  const pkceCodeVerifier = oidc.randomPKCECodeVerifier();
  const expectedState = oidc.randomState();
  const expectedNonce = oidc.randomNonce();
  const parameters = {
    redirect_uri: input.redirectUri,
    scope: input.scope,
    code_challenge: await oidc.calculatePKCECodeChallenge(pkceCodeVerifier),
    code_challenge_method: 'S256',
    state: expectedState,
    nonce: expectedNonce,
  };
  const url = input.par
    ? await oidc.buildAuthorizationUrlWithPAR(config, parameters)
    : oidc.buildAuthorizationUrl(config, parameters);
  return { url, checks: { pkceCodeVerifier, expectedState, expectedNonce } };
}

const jar = new CookieJar();

const { url: authorizationUrl, checks } = await step(
  input.par ? 'pushed authorization request' : 'authorization URL',
  async () => {
    const value = await authorizationRequest();
    if (!input.par) return { value, detail: 'PKCE S256, state, nonce' };
    // RFC 9126 4: the authorization request then carries only client_id and request_uri.
    const requestUri = value.url.searchParams.get('request_uri');
    check(requestUri?.startsWith('urn:ietf:params:oauth:request_uri:'), 'no request_uri URN from /par');
    check(!value.url.searchParams.has('scope'), 'PAR URL still carries the request parameters');
    return { value, detail: 'request_uri received' };
  },
);

const loginUrl = await step('authorize', async () => {
  const response = await browse(jar, authorizationUrl);
  const value = seeOther(response, 'GET authorization_endpoint');
  check(value.pathname === '/login' && value.searchParams.has('req'), `redirected to ${value.pathname}, expected /login?req=…`);
  check(jar.has('eid_flow'), 'no eid_flow cookie set');
  return { value, detail: 'redirected to /login' };
});

const afterLogin = await step('login', async () => {
  const page = await browse(jar, loginUrl);
  check(page.status === 200, `GET /login answered ${page.status}`);
  const form = findForm(page.text, loginUrl, '/login');
  for (const name of ['req', 'csrf']) {
    check(form.hidden[name], `login form has no hidden ${name}`);
  }
  for (const name of ['personal_id', 'password']) {
    check(form.controls.some((c) => c.name === name), `login form has no ${name} input`);
  }
  const response = await browse(jar, form.action, {
    ...form.hidden,
    personal_id: input.personalId,
    password: input.password,
  });
  const value = seeOther(response, 'POST /login');
  check(jar.has('eid_session'), 'no eid_session cookie after a successful login');
  return { value, detail: `redirected to ${isCallback(value, input.redirectUri) ? 'the client' : value.pathname}` };
});

const callbackUrl = isCallback(afterLogin, input.redirectUri)
  ? afterLogin
  : await step('consent', async () => {
      check(afterLogin.pathname === '/consent', `after login: redirected to ${afterLogin.pathname}`);
      const page = await browse(jar, afterLogin);
      check(page.status === 200, `GET /consent answered ${page.status}`);
      const form = findForm(page.text, afterLogin, '/consent');
      for (const name of ['req', 'csrf']) {
        check(form.hidden[name], `consent form has no hidden ${name}`);
      }
      check(
        form.controls.some((c) => c.name === 'decision' && c.value === 'allow'),
        'consent form has no decision=allow button',
      );
      const response = await browse(jar, form.action, { ...form.hidden, decision: 'allow' });
      const value = seeOther(response, 'POST /consent');
      check(isCallback(value, input.redirectUri), `after consent: redirected to ${value.origin}${value.pathname}`);
      return { value, detail: 'allowed' };
    });

const tokens = await step('code exchange', async () => {
  // openid-client checks iss (RFC 9207), state, the code, then the token response and the
  // ID token: signature against jwks_uri, iss, aud, exp, iat, nonce (OIDC Core 3.1.3.7).
  const value = await oidc.authorizationCodeGrant(config, callbackUrl, checks);
  check(value.refresh_token, 'no refresh_token');
  if (value.scope !== undefined) {
    const granted = new Set(value.scope.split(' '));
    check(
      granted.size === scopes.size && [...scopes].every((s) => granted.has(s)),
      `granted scope "${value.scope}", requested "${input.scope}"`,
    );
  }
  return { value, detail: `token_type ${value.token_type}, expires_in ${value.expires_in}` };
});

const idToken = await step('ID token claims', async () => {
  const claims = tokens.claims();
  check(claims, 'no ID token');
  check(typeof claims.sub === 'string' && claims.sub.length > 0, 'no sub');
  check(!claims.sub.includes(input.personalId), 'sub reveals the personal ID');
  check(claims.acr === input.expectedAcr, `acr ${JSON.stringify(claims.acr)}, expected ${input.expectedAcr}`);
  check(Array.isArray(claims.amr) && claims.amr.includes('pwd'), `amr ${JSON.stringify(claims.amr)} lacks pwd`);
  check(Number.isInteger(claims.auth_time) && claims.auth_time <= claims.iat, 'auth_time missing or after iat');
  // OIDC Core 5.4: with an access token the scope claims come from UserInfo; any in the ID
  // token must still be right.
  checkReleasedClaims(claims, scopes, input.expectedClaims, 'ID token', false);
  return { value: claims, detail: `sub ${claims.sub} acr ${claims.acr} amr ${claims.amr.join(',')}` };
});

await step('userinfo', async () => {
  const claims = await oidc.fetchUserInfo(config, tokens.access_token, idToken.sub);
  // OIDC Core 5.4: every claim of a requested scope that the register holds is released.
  checkReleasedClaims(claims, scopes, input.expectedClaims, 'UserInfo', true);
  const released = Object.keys(claims).filter((k) => k !== 'sub').sort();
  return { detail: `claims ${released.join(' ') || '(none)'}` };
});

const refreshed = await step('refresh', async () => {
  const value = await oidc.refreshTokenGrant(config, tokens.refresh_token);
  check(value.access_token !== tokens.access_token, 'the same access token again');
  // The refresh token rotates (OAuth 2.0 Security BCP, RFC 9700 4.14.2).
  check(value.refresh_token && value.refresh_token !== tokens.refresh_token, 'the refresh token did not rotate');
  const claims = value.claims();
  if (claims) check(claims.sub === idToken.sub, 'refreshed ID token has another sub');
  return { value, detail: 'new access and refresh tokens' };
});

if (confidential) {
  await step('introspection (active)', async () => {
    const access = await oidc.tokenIntrospection(config, refreshed.access_token, {
      token_type_hint: 'access_token',
    });
    check(access.active === true, 'the new access token is not active');
    if (access.client_id !== undefined) {
      check(access.client_id === input.clientId, `client_id ${access.client_id}`);
    }
    if (access.sub !== undefined) check(access.sub === idToken.sub, 'introspected sub differs from the ID token');
    const refresh = await oidc.tokenIntrospection(config, refreshed.refresh_token, {
      token_type_hint: 'refresh_token',
    });
    check(refresh.active === true, 'the new refresh token is not active');
    return { detail: 'access and refresh tokens active' };
  });

  await step('revocation (access token)', async () => {
    await oidc.tokenRevocation(config, refreshed.access_token, { token_type_hint: 'access_token' });
    const after = await oidc.tokenIntrospection(config, refreshed.access_token);
    // RFC 7662 2.2: an inactive token is reported with active false.
    check(after.active === false, 'still active after revocation');
    try {
      await oidc.fetchUserInfo(config, refreshed.access_token, idToken.sub);
    } catch (err) {
      // RFC 6750 3.1: a revoked token gets invalid_token in WWW-Authenticate.
      const challenge = err?.cause?.[0];
      check(
        err instanceof oidc.WWWAuthenticateChallengeError && challenge?.parameters?.error === 'invalid_token',
        `UserInfo with the revoked token: expected a 401 invalid_token challenge, got ${describe(err)}`,
      );
      return { detail: 'inactive; UserInfo refuses it with invalid_token' };
    }
    fail('UserInfo accepted the revoked access token');
  });
}

await step('rotated refresh token refused', () =>
  // RFC 6749 5.2 / RFC 9700 4.14.2: a refresh token replaced by rotation is invalid_grant.
  expectOAuthError(
    oidc.refreshTokenGrant(config, tokens.refresh_token),
    'invalid_grant',
    'the old refresh token',
  ),
);

if (confidential) {
  await step('revocation (refresh token)', async () => {
    // RFC 7009 2.2: 200 even if reuse detection already invalidated it.
    await oidc.tokenRevocation(config, refreshed.refresh_token, { token_type_hint: 'refresh_token' });
    const after = await oidc.tokenIntrospection(config, refreshed.refresh_token);
    check(after.active === false, 'still active after revocation');
    await expectOAuthError(
      oidc.refreshTokenGrant(config, refreshed.refresh_token),
      'invalid_grant',
      'the revoked refresh token',
    );
    return { detail: 'inactive and refused by the token endpoint' };
  });
}

await step('authorization code replay refused', () =>
  // RFC 6749 4.1.2: an authorization code is used at most once.
  expectOAuthError(
    oidc.authorizationCodeGrant(config, callbackUrl, checks),
    'invalid_grant',
    'the used code',
  ),
);

await step('single sign-on', async () => {
  // The session and the consent on file let a new request through without the forms; the
  // ID token names the same authentication (OIDC Core 2, auth_time).
  const { url, checks: again } = await authorizationRequest();
  const target = seeOther(await browse(jar, url), 'GET authorization_endpoint with a session');
  check(isCallback(target, input.redirectUri), `redirected to ${target.pathname}, expected the client`);
  const second = await oidc.authorizationCodeGrant(config, target, again);
  const claims = second.claims();
  check(claims.sub === idToken.sub, 'another sub in the same session');
  check(claims.auth_time === idToken.auth_time, 'another auth_time in the same session');
  return { detail: 'code issued without login, same sub and auth_time' };
});

await step('PKCE mismatch refused', async () => {
  // RFC 7636 4.6: a code_verifier that does not match the code_challenge is invalid_grant.
  const { url, checks: again } = await authorizationRequest();
  const target = seeOther(await browse(jar, url), 'GET authorization_endpoint with a session');
  check(isCallback(target, input.redirectUri), `redirected to ${target.pathname}, expected the client`);
  await expectOAuthError(
    oidc.authorizationCodeGrant(config, target, {
      ...again,
      pkceCodeVerifier: oidc.randomPKCECodeVerifier(),
    }),
    'invalid_grant',
    'another code_verifier',
  );
  return { detail: 'invalid_grant' };
});

await step('logout to an unregistered URI refused', async () => {
  const elsewhere = 'https://elsewhere.example/logged-out';
  const url = oidc.buildEndSessionUrl(config, {
    id_token_hint: tokens.id_token,
    post_logout_redirect_uri: elsewhere,
    state: oidc.randomState(),
  });
  const response = await browse(new CookieJar(), url);
  // OIDC RP-Initiated Logout 1.0, 3: no redirection to a URI not registered for the client.
  check(
    !response.location?.href.startsWith(elsewhere),
    `redirected to the unregistered ${elsewhere}`,
  );
  return { detail: `answered ${response.status} without redirecting there` };
});

await step('logout', async () => {
  const state = oidc.randomState();
  const url = oidc.buildEndSessionUrl(config, {
    id_token_hint: tokens.id_token,
    post_logout_redirect_uri: input.postLogoutRedirectUri,
    state,
  });
  const target = seeOther(await browse(jar, url), 'GET end_session_endpoint');
  // OIDC RP-Initiated Logout 1.0, 3: back to the registered URI with the RP's state.
  check(
    `${target.origin}${target.pathname}` === input.postLogoutRedirectUri,
    `redirected to ${target.origin}${target.pathname}, expected ${input.postLogoutRedirectUri}`,
  );
  check(target.searchParams.get('state') === state, 'state not returned');
  return { detail: 'redirected to the post-logout URI with state' };
});

await step('session ended', async () => {
  const { url } = await authorizationRequest();
  const target = seeOther(await browse(jar, url), 'GET authorization_endpoint after logout');
  check(target.pathname === '/login', `redirected to ${target.pathname}, expected /login`);
  return { detail: 'a new request asks for the login again' };
});

console.log(`done ${input.clientId} sub=${idToken.sub}`);
