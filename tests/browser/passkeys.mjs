// Passkeys end to end in Chromium with a virtual authenticator, against a running
// eid-server: password login, enrolment on the account page, passwordless login, step-up
// for a relying party that demands a higher acr, and the refusals (a second enrolment of
// the same authenticator, a replayed or expired ceremony, a deleted passkey).
//
// Environment: EID_ISSUER, EID_CLIENT_ID, EID_CLIENT_SECRET (client_secret_basic),
// EID_REDIRECT_URI, EID_PERSONAL_ID, EID_PASSWORD, EID_CEREMONY_LIFETIME_SECS; optional
// EID_SCREENSHOTS (a directory for screenshots of the pages).
// Prints one line per step; exits non-zero at the first failed check.

import assert from 'node:assert/strict';
import { createHash, randomBytes, webcrypto } from 'node:crypto';
import { join } from 'node:path';

import { addPasskeyAuthenticator, credentials, launch } from './chromium.mjs';

const env = (name) => {
  const value = process.env[name];
  assert.ok(value, `${name} is not set`);
  return value;
};
const issuer = env('EID_ISSUER');
const clientId = env('EID_CLIENT_ID');
const clientSecret = env('EID_CLIENT_SECRET');
const redirectUri = env('EID_REDIRECT_URI');
const personalId = env('EID_PERSONAL_ID');
const password = env('EID_PASSWORD');
const lifetime = Number(env('EID_CEREMONY_LIFETIME_SECS'));
const shots = process.env.EID_SCREENSHOTS;

const SUBSTANTIAL = 'http://eidas.europa.eu/LoA/substantial';
const b64url = (bytes) => Buffer.from(bytes).toString('base64url');
const step = (text) => console.log(`ok ${text}`);

const context = await launch();
process.on('uncaughtException', async (err) => {
  console.log(`failed at ${page.url()}: ${err.stack}`);
  if (shots) await page.screenshot({ path: join(shots, 'failure.png'), fullPage: true }).catch(() => {});
  process.exit(1);
});
context.setDefaultTimeout(20_000);
const page = await context.newPage();
page.on('pageerror', (err) => console.log(`page error: ${err.message}`));
const { cdp, authenticatorId } = await addPasskeyAuthenticator(page);

// The relying party's redirect URI does not resolve: the browser stops there, and the
// address it was sent to is kept here.
let reached = null;
page.on('request', (request) => {
  if (request.url().startsWith(redirectUri)) reached = request.url();
});
/** `promise`, where a navigation that fails at the relying party counts as done. */
const tolerant = (promise) => promise.catch((err) => {
  if (!String(err).includes('ERR_NAME_NOT_RESOLVED')) throw err;
});

/** Waits until `condition()` holds (20 s at most). */
async function until(condition, what) {
  for (let i = 0; i < 400; i += 1) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

// The login page offers passkeys as autofill (conditional mediation), which the virtual
// authenticator answers at once: the steps that need the page to wait (a password login,
// a typed number, a late answer) turn it off in the page's script. (Routing disables the
// browser's cache, so every page load fetches the script.)
let autofill = false;
await page.route(`${issuer}/static/passkey.js`, async (route) => {
  const response = await route.fetch();
  let body = await response.text();
  if (!autofill) {
    const patched = body.replace("login.dataset.autofill !== 'on'", 'true');
    assert.notEqual(patched, body, 'the autofill switch of passkey.js');
    body = patched;
  }
  await route.fulfill({ response, body });
});

async function screenshot(name) {
  if (shots) await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

/** Clicks `selector` and waits for the page it submits to. */
async function submit(selector) {
  await Promise.all([tolerant(page.waitForNavigation()), page.click(selector)]);
}

/** Starts an authorization with PKCE; `extra` adds parameters (acr_values…). */
async function authorize(extra = {}) {
  const verifier = b64url(randomBytes(32));
  const state = b64url(randomBytes(16));
  const nonce = b64url(randomBytes(16));
  const url = new URL(`${issuer}/authorize`);
  const params = {
    client_id: clientId,
    response_type: 'code',
    scope: 'openid profile',
    redirect_uri: redirectUri,
    code_challenge: b64url(createHash('sha256').update(verifier).digest()),
    code_challenge_method: 'S256',
    state,
    nonce,
    ui_locales: 'en',
    ...extra,
  };
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  await tolerant(page.goto(url.href));
  return { verifier, state, nonce };
}

/** Allows the consent page if it is shown, then redeems the code; answers the ID token's
 * claims (signature checked against the JWKS). */
async function finish({ verifier, state, nonce }) {
  if (!reached && page.url().startsWith(`${issuer}/consent`)) await submit('button[value=allow]');
  await until(() => reached, `the redirect to the relying party (at ${page.url()})`);
  // Let the failed navigation end on the browser's error page, so that it cannot
  // interrupt the next one.
  await page.waitForURL((url) => url.protocol === 'chrome-error:', { waitUntil: 'commit' });
  const back = new URL(reached);
  reached = null;
  assert.equal(`${back.origin}${back.pathname}`, redirectUri);
  assert.equal(back.searchParams.get('state'), state);
  assert.equal(back.searchParams.get('iss'), issuer);
  const code = back.searchParams.get('code');
  assert.ok(code, `no code: ${back.search}`);
  const response = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: redirectUri,
      code_verifier: verifier,
    }),
  });
  const tokens = await response.json();
  assert.equal(response.status, 200, JSON.stringify(tokens));
  const claims = await verified(tokens.id_token);
  assert.equal(claims.nonce, nonce);
  assert.equal(claims.aud, clientId);
  return claims;
}

/** The claims of an ES256 JWT issued by the daemon, after checking its signature. */
async function verified(jwt) {
  const [header, payload, signature] = jwt.split('.');
  const { kid, alg } = JSON.parse(Buffer.from(header, 'base64url'));
  assert.equal(alg, 'ES256');
  const jwks = await (await fetch(`${issuer}/jwks.json`)).json();
  const jwk = jwks.keys.find((k) => k.kid === kid);
  const key = await webcrypto.subtle.importKey('jwk', jwk, { name: 'ECDSA', namedCurve: 'P-256' },
    false, ['verify']);
  const ok = await webcrypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, key,
    Buffer.from(signature, 'base64url'), Buffer.from(`${header}.${payload}`));
  assert.ok(ok, 'ID token signature');
  const claims = JSON.parse(Buffer.from(payload, 'base64url'));
  assert.equal(claims.iss, issuer);
  return claims;
}

async function passwordLogin() {
  await page.fill('#personal_id', personalId);
  await page.fill('#password', password);
  await submit('#password-login button[type=submit]');
}

async function logout() {
  await page.goto(`${issuer}/logout`);
  await submit('main form button[type=submit]');
}

/** The account page's notice or problem text. */
async function notice() {
  return (await page.textContent('main p[role=status]')).trim();
}

/** Signs in to the account page with the password (a fresh sign-in). */
async function accountWithPassword() {
  await page.goto(`${issuer}/account?login`);
  await screenshot('login');
  await passwordLogin();
  assert.equal(new URL(page.url()).pathname, '/account');
}

// 1. Password login to the account page, then enrol a passkey.
await accountWithPassword();
step('password login to the account page');
await page.fill('#passkey-label', 'Laptop');
await screenshot('enrolment');
const enrolPost = page.waitForRequest((r) => r.url().endsWith('/account/passkeys') && r.method() === 'POST');
await submit('#passkey-add');
const enrolBody = (await enrolPost).postData();
assert.equal(await notice(), 'The passkey was added.');
assert.deepEqual(await page.$$eval('li.passkey .passkey-name', (els) => els.map((e) => e.textContent)), ['Laptop']);
const held = (await credentials(cdp, authenticatorId)).credentials;
assert.equal(held.length, 1);
assert.ok(held[0].isResidentCredential, 'a discoverable credential (resident key preferred)');
await screenshot('account');
step('passkey enrolled (discoverable)');

// 2. The same enrolment replayed: the ceremony was taken, nothing is added.
const replay = await page.evaluate(async (body) => {
  const r = await fetch('/account/passkeys', { method: 'POST', body: new URLSearchParams(body), redirect: 'follow' });
  return { url: r.url, text: await r.text() };
}, enrolBody);
assert.match(replay.url, /notice=expired$/);
assert.equal(await page.$$eval('li.passkey', (els) => els.length), 1);
step('replayed enrolment refused');

// 3. A second enrolment with the same authenticator: excludeCredentials stops it.
await page.fill('#passkey-label', 'Again');
await page.click('#passkey-add');
await page.waitForSelector('#passkey-status:not([hidden])');
assert.equal((await page.textContent('#passkey-status')).trim(), 'This passkey is registered already.');
assert.equal((await credentials(cdp, authenticatorId)).credentials.length, 1);
step('second enrolment of the same authenticator refused');

// 4. Rename.
await page.fill('li.passkey input[name=label]', 'My laptop');
await submit('li.passkey form[action$=rename] button');
assert.equal(await notice(), 'The passkey was renamed.');
assert.equal(await page.textContent('li.passkey .passkey-name'), 'My laptop');
step('passkey renamed');

// 5. Log out; passwordless login (autofill) for a relying party that demands substantial.
await logout();
autofill = true;
let flow = await authorize({ acr_values: SUBSTANTIAL });
// The autofill request answers by itself and posts the login form.
await until(() => reached || page.url().startsWith(`${issuer}/consent`), 'the autofill login');
autofill = false;
let claims = await finish(flow);
assert.equal(claims.acr, SUBSTANTIAL);
assert.deepEqual([...claims.amr].sort(), ['hwk', 'mfa', 'user']);
step(`passwordless login: acr=${claims.acr} amr=${claims.amr}`);

// 6. Step-up: a password session (low), then a request for substantial.
await logout();
flow = await authorize();
await passwordLogin();
claims = await finish(flow);
assert.equal(claims.acr, 'http://eidas.europa.eu/LoA/low');
assert.deepEqual(claims.amr, ['pwd']);
flow = await authorize({ acr_values: SUBSTANTIAL });
assert.ok(page.url().startsWith(`${issuer}/login`), 'asked to step up');
assert.equal((await page.textContent('h1')).trim(), 'Confirm with your passkey');
await screenshot('step-up');
await submit('#passkey-login');
claims = await finish(flow);
assert.equal(claims.acr, SUBSTANTIAL);
assert.deepEqual([...claims.amr].sort(), ['hwk', 'mfa', 'pwd', 'user']);
step(`step-up: acr=${claims.acr} amr=${claims.amr}`);

// 7. "A passkey for this personal ID": the number typed, then the passkey.
await logout();
flow = await authorize({ acr_values: SUBSTANTIAL });
await page.fill('#personal_id', personalId);
await submit('#passkey-login');
claims = await finish(flow);
assert.equal(claims.acr, SUBSTANTIAL);
step('passkey for a typed personal ID');

// 8. A login ceremony finished after its lifetime fails.
await logout();
await authorize();
const late = await page.evaluate(async (wait) => {
  const form = document.getElementById('passkey-form');
  const r = await fetch('/passkey/options', {
    method: 'POST',
    body: new URLSearchParams({ req: form.elements.req.value, csrf: form.elements.csrf.value }),
  });
  const { ceremony, publicKey } = await r.json();
  await new Promise((resolve) => setTimeout(resolve, wait));
  const credential = await navigator.credentials.get({
    publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(publicKey),
  });
  return { ceremony, credential: JSON.stringify(credential.toJSON()) };
}, (lifetime + 1) * 1000);
await page.evaluate(({ ceremony, credential }) => {
  const form = document.getElementById('passkey-form');
  form.elements.ceremony.value = ceremony;
  form.elements.credential.value = credential;
}, late);
await Promise.all([page.waitForNavigation(), page.evaluate(() => document.getElementById('passkey-form').submit())]);
assert.equal((await page.textContent('main p.error')).trim(), 'The passkey request has expired. Please try again.');
step('login ceremony finished after its lifetime refused');

// 9. The account page in Vietnamese; then delete the passkey (the password remains):
// it no longer logs in.
await accountWithPassword();
await page.setExtraHTTPHeaders({ 'Accept-Language': 'vi' });
await page.reload();
assert.equal((await page.textContent('h1')).trim(), 'Tài khoản định danh điện tử');
await screenshot('account-vi');
await page.setExtraHTTPHeaders({ 'Accept-Language': 'en' });
await page.reload();
await submit('li.passkey form[action$=delete] button');
assert.equal(await notice(), 'The passkey was deleted.');
assert.equal(await page.$$eval('li.passkey', (els) => els.length), 0);
await logout();
flow = await authorize();
await submit('#passkey-login');
assert.ok(page.url().startsWith(`${issuer}/passkey/login`) || page.url().startsWith(`${issuer}/login`));
assert.equal((await page.textContent('main p.error')).trim(), 'The passkey was not accepted.');
step('deleted passkey refused');

await context.close();
console.log('done');
