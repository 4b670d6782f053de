// Passkeys on the eID pages: the login page (a passkey, autofill, step-up) and the account
// page (adding one). No inline code: the pages' Content-Security-Policy allows scripts from
// this origin only. The server speaks webauthn-rs's JSON, which the browser's
// PublicKeyCredential.parse*OptionsFromJSON and credential.toJSON() read and write.
'use strict';
(function () {
  const status = document.getElementById('passkey-status');
  const say = (text) => {
    status.textContent = text;
    status.hidden = false;
  };
  const supported = typeof PublicKeyCredential !== 'undefined' &&
    typeof PublicKeyCredential.parseRequestOptionsFromJSON === 'function';

  // A refusal from the server, whose message is written for the citizen.
  class Refusal extends Error {}

  // Starts a ceremony: POSTs `fields` to `url`, answers { ceremony, publicKey }.
  async function start(url, fields, signal) {
    const response = await fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      body: new URLSearchParams(fields),
      signal,
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Refusal(body.error || status.dataset.failed);
    return body;
  }

  // Posts the browser's answer to the ceremony with `form`.
  function finish(form, ceremony, credential) {
    form.elements.ceremony.value = ceremony;
    form.elements.credential.value = JSON.stringify(credential.toJSON());
    form.submit();
  }

  // What to tell the citizen when a ceremony fails: the server's message, else ours (the
  // browser's own messages are technical and in its language).
  function explain(error) {
    if (error.name === 'AbortError') return;
    say(error instanceof Refusal ? error.message : status.dataset.failed);
  }

  const login = document.getElementById('passkey-form');
  if (login) {
    let autofill = null; // the AbortController of the pending autofill request
    // Asks for a passkey: for the typed `personalId`, or any; `signal` makes it the
    // autofill (conditional) request.
    const get = async (personalId, signal) => {
      const fields = { req: login.elements.req.value, csrf: login.elements.csrf.value };
      if (personalId) fields.personal_id = personalId;
      const { ceremony, publicKey } = await start(login.dataset.options, fields, signal);
      const request = { publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(publicKey) };
      if (signal) {
        request.mediation = 'conditional';
        request.signal = signal;
      }
      const credential = await navigator.credentials.get(request);
      if (credential) finish(login, ceremony, credential);
    };
    // Conditional UI: the browser offers this site's passkeys in the number's autofill.
    const offerAutofill = async () => {
      if (!supported || login.dataset.autofill !== 'on' ||
          !PublicKeyCredential.isConditionalMediationAvailable ||
          !(await PublicKeyCredential.isConditionalMediationAvailable())) return;
      autofill = new AbortController();
      await get('', autofill.signal);
    };
    document.getElementById('passkey-login').addEventListener('click', () => {
      if (!supported) return say(status.dataset.unsupported);
      if (autofill) autofill.abort();
      autofill = null;
      const typed = document.getElementById('personal_id');
      get(typed ? typed.value.trim() : '', null)
        .catch((error) => {
          explain(error);
          return offerAutofill(); // after a refusal or a cancel, offer autofill again
        })
        .catch(() => {});
    });
    offerAutofill().catch(() => {});
  }

  const enrol = document.getElementById('passkey-enrol');
  if (enrol) {
    enrol.addEventListener('submit', (event) => event.preventDefault());
    document.getElementById('passkey-add').addEventListener('click', async () => {
      if (!supported) return say(status.dataset.unsupported);
      const label = enrol.elements.label.value.trim();
      if (!label) return say(status.dataset.label);
      try {
        const { ceremony, publicKey } =
          await start(enrol.dataset.options, { csrf: enrol.elements.csrf.value });
        const credential = await navigator.credentials.create({
          publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(publicKey),
        });
        finish(enrol, ceremony, credential);
      } catch (error) {
        // create() refuses an authenticator that holds one of excludeCredentials.
        if (error.name === 'InvalidStateError') say(status.dataset.duplicate);
        else explain(error);
      }
    });
  }
})();
