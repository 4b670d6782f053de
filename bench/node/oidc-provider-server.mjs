// panva's oidc-provider configured like eid-server for bench/run.sh, the side-by-side
// benchmark: one ES256 signing key, a client_secret_basic client, PKCE (S256) required,
// refresh token rotation on every use, JWT (RFC 9068, ES256) access tokens with the issuer
// as audience, and oidc-provider's own in-memory adapter with its capacity raised from
// 1,000 entries so that pre-minted codes are not evicted.
//
// At start it mints BENCH_CODES authorization codes and BENCH_REFRESH refresh tokens
// in-process through the provider's models (each from its own Grant, as an authorization
// would make them), writes them one per line to BENCH_OUT_DIR/{codes,refresh}.txt, then
// listens and prints "ready".
//
// Environment: BENCH_PORT, BENCH_ISSUER, BENCH_CLIENT_ID, BENCH_CLIENT_SECRET,
// BENCH_REDIRECT_URI, BENCH_CODE_CHALLENGE (S256 challenge of the verifier the load
// generator sends), BENCH_CODES, BENCH_REFRESH, BENCH_OUT_DIR.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateKeyPairSync } from 'node:crypto';

import { Provider } from 'oidc-provider';
import MemoryAdapter from 'oidc-provider/lib/adapters/memory_adapter.js';
import LRU from 'oidc-provider/lib/helpers/lru.js';

function env(name) {
  const value = process.env[name];
  if (value === undefined || value === '') {
    throw new Error(`${name} is required`);
  }
  return value;
}

const port = Number(env('BENCH_PORT'));
const issuer = env('BENCH_ISSUER');
const clientId = env('BENCH_CLIENT_ID');
const clientSecret = env('BENCH_CLIENT_SECRET');
const redirectUri = env('BENCH_REDIRECT_URI');
const codeChallenge = env('BENCH_CODE_CHALLENGE');
const codeCount = Number(env('BENCH_CODES'));
const refreshCount = Number(env('BENCH_REFRESH'));
const outDir = env('BENCH_OUT_DIR');

// The stock memory adapter keeps 1,000 entries (an LRU); the benchmark holds far more, so
// the same adapter class gets a larger store.
const store = new LRU({ maxSize: 10_000_000 });

const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'bench-es256', alg: 'ES256', use: 'sig' };

// eid-server's defaults: access and ID tokens 300 s, refresh tokens 1 day; codes 600 s
// (the bench sets eid-server's authorization_code_lifetime_secs to 600 too).
const resourceServer = {
  scope: '',
  audience: issuer,
  accessTokenFormat: 'jwt',
  accessTokenTTL: 300,
  jwt: { sign: { alg: 'ES256' } },
};

const provider = new Provider(issuer, {
  adapter: (model) => new MemoryAdapter(model, store),
  jwks: { keys: [signingKey] },
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
    response_types: ['code'],
    redirect_uris: [redirectUri],
    id_token_signed_response_alg: 'ES256',
    subject_type: 'public',
  }],
  clientDefaults: { id_token_signed_response_alg: 'ES256' },
  enabledJWA: { idTokenSigningAlgValues: ['ES256'] },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => issuer,
      useGrantedResource: () => true,
      getResourceServerInfo: () => resourceServer,
    },
  },
  pkce: { required: () => true },
  rotateRefreshToken: true,
  issueRefreshToken: () => true,
  ttl: {
    AccessToken: 300,
    ClientCredentials: 300,
    IdToken: 300,
    AuthorizationCode: 600,
    RefreshToken: 86400,
    Grant: 86400,
  },
  findAccount: (_ctx, accountId) => ({ accountId, claims: () => ({ sub: accountId }) }),
});

// A benchmark with errors is invalid: say why (the first few), without token values.
let reported = 0;
for (const event of ['grant.error', 'server_error']) {
  provider.on(event, (_ctx, err) => {
    if (reported < 5) {
      reported += 1;
      console.error(`${event}: ${err.message} (${err.error_detail ?? 'no detail'})`);
    }
  });
}

const client = await provider.Client.find(clientId);
const authTime = Math.floor(Date.now() / 1000);

// One Grant per token, as each authorization would make one.
async function newGrant(accountId) {
  const grant = new provider.Grant({ accountId, clientId });
  grant.addOIDCScope('openid');
  grant.addResourceScope(issuer, '');
  return grant.save();
}

const shared = {
  client,
  scope: 'openid',
  resource: issuer,
  authTime,
  acr: 'urn:bench:loa',
  amr: ['pwd'],
  expiresWithSession: false,
};

async function mintCode(i) {
  const accountId = `citizen-${i % 1000}`;
  const grantId = await newGrant(accountId);
  return new provider.AuthorizationCode({
    ...shared,
    accountId,
    grantId,
    redirectUri,
    codeChallenge,
    codeChallengeMethod: 'S256',
  }).save();
}

async function mintRefresh(i) {
  const accountId = `citizen-${i % 1000}`;
  const grantId = await newGrant(accountId);
  return new provider.RefreshToken({
    ...shared,
    accountId,
    grantId,
    gty: 'authorization_code',
    rotations: 0,
  }).save();
}

async function mintAll(count, mint) {
  const values = [];
  for (let i = 0; i < count; i += 1) {
    values.push(await mint(i));
  }
  return values;
}

const codes = await mintAll(codeCount, mintCode);
const refresh = await mintAll(refreshCount, mintRefresh);
writeFileSync(join(outDir, 'codes.txt'), `${codes.join('\n')}\n`);
writeFileSync(join(outDir, 'refresh.txt'), `${refresh.join('\n')}\n`);

provider.listen(port, '127.0.0.1', () => {
  console.log(`ready ${issuer} (${codeCount} codes, ${refreshCount} refresh tokens minted)`);
});
