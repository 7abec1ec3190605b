/* global window, document */
/**
 * The sign-in page as a small state machine driven by the server's view of this browser's session
 * (GET /login/:tenant/state): no session -> password; `mfa_enrollment_required` -> TOTP enrollment
 * (ID-4); `mfa_required` -> the second factor the account holds; `passkey_required` -> a passkey,
 * registering one first if needed (ID-5: TOTP alone never finishes a high-privilege sign-in);
 * `ok` -> on to the validated return path. After each API answer the page asks the server again
 * rather than trusting its own idea of the next step.
 */
(function () {
  'use strict';
  const R = window.RampartLogin;
  const { $, api, config } = R;
  const WebAuthn = window.SimpleWebAuthnBrowser;
  let current = { signedIn: false };

  function showAlternatives(list) {
    const nav = $('alternatives');
    for (const item of nav.querySelectorAll('[data-alternative]')) item.hidden = !list.includes(item.dataset.alternative);
    nav.hidden = list.length === 0;
  }

  function showFactor(step, state, reason) {
    R.showStep(step);
    const others = [];
    if (state.factors.includes('webauthn') && step !== 'passkey') others.push('passkey');
    if (state.factors.includes('totp') && step !== 'totp') others.push('totp');
    if (step !== 'recovery' && state.stage === 'mfa_required') others.push('recovery');
    showAlternatives(others);
    if (step === 'totp') $('totp-reason').textContent = reason || '';
  }

  /** Picks and shows the next step for a session state. */
  function route(state) {
    current = state;
    R.announce('');
    $('start-over').hidden = !state.signedIn || state.stage === 'ok';
    if (!state.signedIn) {
      showAlternatives([]);
      R.showStep('password', { keepFocus: true });
      $('email').focus();
      return;
    }
    switch (state.stage) {
      case 'ok':
        showAlternatives([]);
        R.showStep('done');
        R.go(config.returnTo);
        return;
      case 'mfa_enrollment_required':
        showAlternatives([]);
        startEnrollment();
        return;
      case 'mfa_required':
        showFactor(state.factors.includes('webauthn') ? 'passkey' : 'totp', state);
        return;
      case 'passkey_required':
        if (state.factors.includes('webauthn')) {
          showFactor('passkey', state);
          $('passkey-reason').textContent = 'Your role requires a passkey for every sign-in: confirm with the passkey you registered.';
        } else if (state.factors.includes('totp') && !state.mfaDone) {
          showFactor('totp', state, 'Your role requires a passkey. First confirm it is you with your authenticator app; next you will create a passkey.');
          showAlternatives([]);
        } else {
          showAlternatives([]);
          R.showStep('passkey-register');
          $('passkey-register-reason').textContent =
            'Your role can only sign in with a passkey: an authenticator app code alone is not enough. Create one now with this device.';
        }
        return;
      default:
        R.showError('This sign-in is in an unexpected state. Start over.');
    }
  }

  // OIDC `prompt=login` / `max_age` (the provider adds prompt=login): an existing session must not
  // satisfy the request, or the provider would send the browser straight back here in a loop. The
  // old session is ended and the user authenticates afresh, once per page load.
  let mustReauthenticate = R.queryParam('prompt') === 'login';

  async function refresh() {
    const state = await R.sessionState();
    if (mustReauthenticate && state.signedIn) {
      mustReauthenticate = false;
      await api('POST', '/api/v1/identity/sign-out');
      route({ signedIn: false });
      R.announce('For your security, sign in again to continue.');
      return;
    }
    mustReauthenticate = false;
    route(state);
  }

  /** After a factor call: on success ask the server what is next; when the sign-in itself expired, start over. */
  async function afterFactor(result, fallback, fields) {
    if (result.ok) return refresh();
    if (result.status === 401) {
      const state = await R.sessionState();
      if (!state.signedIn) {
        route(state);
        R.showError('Your sign-in expired. Please sign in again.');
        return undefined;
      }
    }
    R.showError(R.problemMessage(result, fallback), fields);
    return undefined;
  }

  $('form-password').addEventListener('submit', (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    R.clearError();
    R.busy(form, async () => {
      const result = await R.passwordSignIn($('email').value, $('password').value);
      $('password').value = '';
      if (!result.ok) return R.showError(R.problemMessage(result, 'Email or password is wrong.'), result.status === 401 ? ['email', 'password'] : []);
      return refresh();
    });
  });

  function codeForm(formId, inputId, url, fallback) {
    $(formId).addEventListener('submit', (event) => {
      event.preventDefault();
      const form = event.currentTarget;
      R.clearError();
      R.busy(form, async () => {
        const code = $(inputId).value.replace(/\s+/g, '');
        const result = await api('POST', url, { code });
        $(inputId).value = '';
        return afterFactor(result, fallback, [inputId]);
      });
    });
  }
  codeForm('form-totp', 'totp-code', '/api/v1/identity/totp/verify', 'That code is not right. Try the current one.');
  codeForm('form-recovery', 'recovery-code', '/api/v1/identity/recovery', 'That recovery code is not valid.');

  $('passkey-authenticate').addEventListener('click', (event) => {
    R.clearError();
    R.busy(event.currentTarget, async () => {
      const options = await api('POST', '/api/v1/identity/passkeys/authenticate/options');
      if (!options.ok) return afterFactor(options);
      let response;
      try {
        response = await WebAuthn.startAuthentication({ optionsJSON: options.body });
      } catch {
        return R.showError('The passkey was not used. Try again, or choose another way to verify.');
      }
      return afterFactor(await api('POST', '/api/v1/identity/passkeys/authenticate/verify', { response }), 'The passkey could not be verified.');
    });
  });

  async function registerPasskey(button) {
    R.clearError();
    return R.busy(button, async () => {
      const options = await api('POST', '/api/v1/identity/passkeys/register/options');
      if (!options.ok) return afterFactor(options);
      let response;
      try {
        response = await WebAuthn.startRegistration({ optionsJSON: options.body });
      } catch {
        return R.showError('No passkey was created. Try again when your device is ready.');
      }
      return afterFactor(await api('POST', '/api/v1/identity/passkeys/register/verify', { response, name: 'Passkey' }), 'The passkey could not be registered.');
    });
  }
  $('passkey-register').addEventListener('click', (event) => registerPasskey(event.currentTarget));
  $('enroll-passkey-instead').addEventListener('click', () => {
    R.showStep('passkey-register');
    $('passkey-register-reason').textContent = 'A passkey is a second factor too: your device confirms it is you with a fingerprint, face or PIN.';
  });

  async function startEnrollment() {
    R.showStep('enroll');
    $('enroll-details').hidden = true;
    R.announce('Preparing your QR code…');
    const result = await api('POST', '/api/v1/identity/totp/enroll');
    R.announce('');
    if (!result.ok) return afterFactor(result, 'Two-step verification could not be started.');
    // Only an image data URL from our own API goes into src (the CSP allows data: images).
    if (typeof result.body.qrDataUri === 'string' && result.body.qrDataUri.startsWith('data:image/')) $('enroll-qr').src = result.body.qrDataUri;
    $('enroll-secret').textContent = result.body.secret;
    $('enroll-details').hidden = false;
    return undefined;
  }

  $('form-enroll').addEventListener('submit', (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    R.clearError();
    R.busy(form, async () => {
      const code = $('enroll-code').value.replace(/\s+/g, '');
      const result = await api('POST', '/api/v1/identity/totp/confirm', { code });
      $('enroll-code').value = '';
      if (!result.ok) return R.showError(R.problemMessage(result, 'That code is not right. Try the current one.'), ['enroll-code']);
      $('enroll-secret').textContent = '';
      $('enroll-qr').removeAttribute('src');
      const list = $('recovery-codes');
      list.replaceChildren(
        ...(result.body.recoveryCodes || []).map((code) => {
          const item = document.createElement('li');
          item.textContent = code;
          return item;
        }),
      );
      R.showStep('recovery-codes');
      return undefined;
    });
  });

  $('form-saved').addEventListener('submit', (event) => {
    event.preventDefault();
    // The codes leave the page once the user confirms they are saved: they are shown only once.
    $('recovery-codes').replaceChildren();
    refresh();
  });

  $('alternatives').addEventListener('click', (event) => {
    const target = event.target.closest('[data-go]');
    if (!target) return;
    R.clearError();
    showFactor(target.dataset.go, current);
  });

  $('start-over-button').addEventListener('click', async () => {
    await api('POST', '/api/v1/identity/sign-out');
    R.clearError();
    refresh();
  });

  const usernameless = $('passkey-sign-in');
  if (usernameless && R.config.features.has('passkeySignIn')) {
    usernameless.addEventListener('click', (event) => {
      R.clearError();
      R.busy(event.currentTarget, async () => {
        const base = '/api/v1/identity/' + encodeURIComponent(config.tenant) + '/passkeys/sign-in/';
        const options = await api('POST', base + 'options');
        if (!options.ok) return R.showError(R.problemMessage(options));
        let response;
        try {
          response = await WebAuthn.startAuthentication({ optionsJSON: options.body });
        } catch {
          return R.showError('No passkey was used. Try again, or sign in with your email.');
        }
        const result = await api('POST', base + 'verify', { response });
        if (!result.ok) return R.showError(R.problemMessage(result, 'The passkey could not be verified.'));
        return refresh();
      });
    });
  }

  refresh();
})();
