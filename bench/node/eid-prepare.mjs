// Pre-mints authorization codes and refresh tokens on a running eid-server for bench/run.sh.
//
// It logs one citizen in once, as a browser would (GET /authorize with PKCE -> /login
// form -> /consent form -> redirect with a code), then repeats GET /authorize with the
// session cookie: with the session and the remembered consent, each answers 303 straight
// to the redirect URI with a new code. All requests use the same S256 challenge, so one
// code_verifier redeems every code. Codes are written one per line to OUT_DIR/codes.txt;
// the first BENCH_REFRESH extra codes are redeemed at /token and their refresh tokens
// written to OUT_DIR/refresh.txt. No token value is printed.
//
// Environment: BENCH_BASE_URL (http://127.0.0.1:PORT), BENCH_CLIENT_ID, BENCH_CLIENT_SECRET,
// BENCH_REDIRECT_URI, BENCH_CODE_VERIFIER, BENCH_PERSONAL_ID, BENCH_PASSWORD, BENCH_CODES,
// BENCH_REFRESH, BENCH_OUT_DIR.

import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';

function env(name) {
  const value = process.env[name];
  if (value === undefined || value === '') {
    throw new Error(`${name} is required`);
  }
  return value;
}

const base = new URL(env('BENCH_BASE_URL'));
const clientId = env('BENCH_CLIENT_ID');
const clientSecret = env('BENCH_CLIENT_SECRET');
const redirectUri = env('BENCH_REDIRECT_URI');
const verifier = env('BENCH_CODE_VERIFIER');
const personalId = env('BENCH_PERSONAL_ID');
const password = env('BENCH_PASSWORD');
const codeCount = Number(env('BENCH_CODES'));
const refreshCount = Number(env('BENCH_REFRESH'));
const outDir = env('BENCH_OUT_DIR');
const concurrency = 16;

const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
const cookies = new Map();

// One HTTP request; collects Set-Cookie into the jar and returns status, headers, body.
function request(method, path, { form, headers = {} } = {}) {
  const body = form ? new URLSearchParams(form).toString() : undefined;
  const jar = [...cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  return new Promise((resolve, reject) => {
    const req = http.request({
      agent,
      host: base.hostname,
      port: base.port,
      method,
      path,
      headers: {
        ...(jar ? { cookie: jar } : {}),
        ...(body ? { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) } : {}),
        ...headers,
      },
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        for (const line of res.headers['set-cookie'] ?? []) {
          const [pair] = line.split(';');
          const eq = pair.indexOf('=');
          cookies.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
        }
        resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() });
      });
    });
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

function expect(res, status, what) {
  if (res.status !== status) {
    throw new Error(`${what}: expected HTTP ${status}, got ${res.status}`);
  }
  return res;
}

function hidden(html, name) {
  const m = html.match(new RegExp(`name="${name}" value="([^"]*)"`));
  if (!m) throw new Error(`no hidden input ${name} in the page`);
  return m[1];
}

// The path and query of a 303's Location on this server.
function localPath(location) {
  const url = new URL(location, base);
  return url.pathname + url.search;
}

// The code of a redirect to the client.
function codeOf(location, what) {
  const url = new URL(location);
  const code = url.searchParams.get('code');
  if (!location.startsWith(redirectUri) || !code) {
    throw new Error(`${what}: the redirect carries no code (error=${url.searchParams.get('error')})`);
  }
  return code;
}

const challenge = createHash('sha256').update(verifier).digest('base64url');
const authorizePath = `/authorize?${new URLSearchParams({
  response_type: 'code',
  client_id: clientId,
  redirect_uri: redirectUri,
  scope: 'openid',
  code_challenge: challenge,
  code_challenge_method: 'S256',
  state: 'bench',
})}`;

async function submitForm(path, fields, what) {
  const page = expect(await request('GET', path), 200, `GET ${what}`);
  const form = { req: hidden(page.body, 'req'), csrf: hidden(page.body, 'csrf'), ...fields };
  const res = expect(await request('POST', path.split('?')[0], { form }), 303, `POST ${what}`);
  return res.headers.location;
}

// Log in once.
let res = expect(await request('GET', authorizePath), 303, 'GET /authorize');
let location = await submitForm(localPath(res.headers.location), { personal_id: personalId, password }, '/login');
if (!location.startsWith(redirectUri)) {
  location = await submitForm(localPath(location), { decision: 'allow' }, '/consent');
}
codeOf(location, 'login');

// Mint codes with the session cookie, `concurrency` requests at a time.
async function mint(count) {
  const codes = [];
  let next = 0;
  async function worker() {
    while (next < count) {
      next += 1;
      const r = expect(await request('GET', authorizePath), 303, 'GET /authorize (session)');
      codes.push(codeOf(r.headers.location, 'GET /authorize (session)'));
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  return codes;
}

const started = Date.now();
const codes = await mint(codeCount + refreshCount);
const basic = `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64')}`;
const refresh = [];
for (let i = 0; i < refreshCount; i += concurrency) {
  const batch = codes.slice(codeCount + i, Math.min(codeCount + refreshCount, codeCount + i + concurrency));
  const tokens = await Promise.all(batch.map(async (code) => {
    const r = expect(await request('POST', '/token', {
      form: { grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: verifier },
      headers: { authorization: basic },
    }), 200, 'POST /token (seed refresh token)');
    return JSON.parse(r.body).refresh_token;
  }));
  refresh.push(...tokens);
}
writeFileSync(join(outDir, 'codes.txt'), `${codes.slice(0, codeCount).join('\n')}\n`);
writeFileSync(join(outDir, 'refresh.txt'), `${refresh.join('\n')}\n`);
agent.destroy();
console.log(`minted ${codeCount} codes and ${refresh.length} refresh tokens in ${((Date.now() - started) / 1000).toFixed(1)} s`);
