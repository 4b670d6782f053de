// Debian's Chromium driven by playwright-core, with a virtual passkey authenticator.
// Playwright downloads no browser here: the system's /usr/bin/chromium runs headless
// in a fresh profile. WebAuthn needs a secure context: open pages at
// http://localhost:PORT (RP id `localhost`); Chromium refuses 127.0.0.1.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { chromium } from 'playwright-core';

// The browser: Debian's `chromium` package (`.ci/run` installs it).
const CHROMIUM = '/usr/bin/chromium';

// Playwright adds some of these itself; all are listed so that the set known to work
// does not depend on its defaults.
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** A passkey platform authenticator: resident keys, user verification always given,
 * presence confirmed without a gesture. */
const AUTHENTICATOR = {
  protocol: 'ctap2',
  ctap2Version: 'ctap2_1',
  transport: 'internal',
  hasResidentKey: true,
  hasUserVerification: true,
  isUserVerified: true,
  automaticPresenceSimulation: true,
};

/**
 * Launches headless Chromium in a new temporary profile.
 * @returns {Promise<import('playwright-core').BrowserContext>} the browser's context;
 *   its `close()` also removes the profile.
 */
export async function launch() {
  const profile = await mkdtemp(join(tmpdir(), 'eid-chromium-'));
  let context;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: FLAGS,
    });
  } catch (err) {
    await rm(profile, { recursive: true, force: true });
    throw err;
  }
  const close = context.close.bind(context);
  context.close = async (options) => {
    try {
      await close(options);
    } finally {
      await rm(profile, { recursive: true, force: true });
    }
  };
  return context;
}

/**
 * Gives `page` a virtual passkey authenticator (DevTools WebAuthn domain); its
 * credentials live until the session ends.
 * @param {import('playwright-core').Page} page
 * @returns {Promise<{cdp: import('playwright-core').CDPSession, authenticatorId: string}>}
 */
export async function addPasskeyAuthenticator(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: AUTHENTICATOR,
  });
  return { cdp, authenticatorId };
}

/**
 * The credentials the authenticator holds (`WebAuthn.getCredentials`). Their ids and
 * user handles are padded standard base64, where `PublicKeyCredential.toJSON()` gives
 * unpadded base64url.
 * @param {import('playwright-core').CDPSession} cdp
 * @param {string} authenticatorId
 * @returns {Promise<{credentials: Array<{credentialId: string, isResidentCredential: boolean,
 *   rpId: string, privateKey: string, userHandle: string, signCount: number}>}>}
 */
export async function credentials(cdp, authenticatorId) {
  return cdp.send('WebAuthn.getCredentials', { authenticatorId });
}
