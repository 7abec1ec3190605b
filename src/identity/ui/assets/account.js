/* global window, document */
/**
 * Account page: who am I, my sessions (revoke one, sign out everywhere; ID-6), my passkeys, sign
 * out. Only a full session gets here; anything else is sent to the login page first (ID-4).
 */
(function () {
  'use strict';
  const R = window.RampartLogin;
  const { $, api, config } = R;
  const WebAuthn = window.SimpleWebAuthnBrowser;
  let state = null;

  const toLogin = () => window.location.assign(config.loginUrl);
  const when = (value) => (value ? new Date(value).toLocaleString() : '');

  function text(tag, value, className) {
    const element = document.createElement(tag);
    element.textContent = value;
    if (className) element.className = className;
    return element;
  }

  function button(label, className, onClick) {
    const element = text('button', label, className);
    element.type = 'button';
    element.addEventListener('click', () => R.busy(element, onClick));
    return element;
  }

  async function loadSessions() {
    const result = await api('GET', '/api/v1/me/sessions');
    if (result.status === 401) return toLogin();
    if (!result.ok) return R.showError(R.problemMessage(result, 'Your sessions could not be loaded.'));
    $('session-list').replaceChildren(
      ...result.body.items.map((session) => {
        const item = document.createElement('li');
        const isCurrent = session.id === state.sessionId;
        const meta = document.createElement('div');
        meta.className = 'meta';
        meta.append(text('p', isCurrent ? 'This browser' : session.user_agent || 'Unknown device', isCurrent ? 'current' : ''));
        meta.append(text('p', 'Signed in ' + when(session.created_at) + (session.ip ? ' from ' + session.ip : ''), 'hint'));
        meta.append(text('p', 'Last active ' + when(session.last_seen_at), 'hint'));
        item.append(meta);
        item.append(
          button(isCurrent ? 'Sign out' : 'Revoke', 'danger', async () => {
            const revoked = await api('DELETE', '/api/v1/me/sessions/' + encodeURIComponent(session.id));
            if (!revoked.ok) return R.showError(R.problemMessage(revoked, 'The session could not be revoked.'));
            if (isCurrent) return toLogin();
            R.announce('Session revoked.');
            return loadSessions();
          }),
        );
        item.lastChild.setAttribute('aria-label', (isCurrent ? 'Sign out this browser' : 'Revoke session started ' + when(session.created_at)));
        return item;
      }),
    );
    $('sessions').hidden = false;
    return undefined;
  }

  /**
   * Runs a factor change; when the API asks for a fresh passkey (ID-7, supabase/auth#1615) it
   * performs the step-up ceremony and retries once. A fresh sign-in (factor `any`) cannot be done
   * from here: the user is told to sign in again.
   */
  async function withStepUp(call) {
    let result = await call();
    if (result.status !== 401 || !result.body || result.body.code !== 'step_up_required') return result;
    if (result.body.factor !== 'webauthn') return { ok: false, status: 401, body: { detail: 'for your security, sign out and sign in again before changing your sign-in methods' } };
    R.announce('Confirm it is you with your passkey…');
    const options = await api('POST', '/api/v1/identity/step-up/options');
    if (!options.ok) return options;
    let response;
    try {
      response = await WebAuthn.startAuthentication({ optionsJSON: options.body });
    } catch {
      return { ok: false, status: 0, body: { detail: 'the passkey was not used, so nothing was changed' } };
    }
    const verified = await api('POST', '/api/v1/identity/step-up/verify', { response });
    R.announce('');
    if (!verified.ok) return verified;
    result = await call();
    return result;
  }

  async function loadPasskeys() {
    const list = $('passkey-list');
    if (!list) return undefined;
    const result = await api('GET', '/api/v1/me/passkeys');
    if (!result.ok) return R.showError(R.problemMessage(result, 'Your passkeys could not be loaded.'));
    const items = result.body && Array.isArray(result.body.items) ? result.body.items : [];
    list.replaceChildren(
      ...items.map((passkey) => {
        const item = document.createElement('li');
        const meta = document.createElement('div');
        meta.className = 'meta';
        meta.append(text('p', passkey.name || 'Passkey', 'current'));
        meta.append(text('p', 'Added ' + when(passkey.createdAt) + (passkey.lastUsedAt ? ', last used ' + when(passkey.lastUsedAt) : ''), 'hint'));
        item.append(meta);
        const rename = button('Rename', 'secondary', async () => {
          const name = window.prompt('New name for this passkey', passkey.name || '');
          if (name === null || !name.trim()) return undefined;
          const renamed = await api('PATCH', '/api/v1/me/passkeys/' + encodeURIComponent(passkey.id), { name: name.trim() });
          if (!renamed.ok) return R.showError(R.problemMessage(renamed, 'The passkey could not be renamed.'));
          R.announce('Passkey renamed.');
          return loadPasskeys();
        });
        rename.setAttribute('aria-label', 'Rename passkey ' + (passkey.name || ''));
        const remove = button('Remove', 'danger', async () => {
          if (!window.confirm('Remove the passkey "' + (passkey.name || 'Passkey') + '"? You will no longer be able to sign in with it.')) return undefined;
          const removed = await withStepUp(() => api('DELETE', '/api/v1/me/passkeys/' + encodeURIComponent(passkey.id)));
          if (!removed.ok) return R.showError(R.problemMessage(removed, 'The passkey could not be removed.'));
          R.announce('Passkey removed.');
          return loadPasskeys();
        });
        remove.setAttribute('aria-label', 'Remove passkey ' + (passkey.name || ''));
        item.append(rename, remove);
        return item;
      }),
    );
    return undefined;
  }

  $('form-add-passkey').addEventListener('submit', (event) => {
    event.preventDefault();
    R.clearError();
    const form = event.currentTarget;
    R.busy(form, async () => {
      const options = await withStepUp(() => api('POST', '/api/v1/identity/passkeys/register/options'));
      if (!options.ok) return R.showError(R.problemMessage(options, 'A passkey cannot be added right now.'));
      let response;
      try {
        response = await WebAuthn.startRegistration({ optionsJSON: options.body });
      } catch {
        return R.showError('No passkey was created. Try again when your device is ready.');
      }
      const name = $('passkey-name').value.trim() || 'Passkey';
      const verified = await api('POST', '/api/v1/identity/passkeys/register/verify', { response, name });
      if (!verified.ok) return R.showError(R.problemMessage(verified, 'The passkey could not be registered.'));
      R.announce('Passkey "' + name + '" added.');
      return loadPasskeys();
    });
  });

  $('sign-out').addEventListener('click', (event) =>
    R.busy(event.currentTarget, async () => {
      await api('POST', '/api/v1/identity/sign-out');
      toLogin();
    }),
  );

  $('sign-out-everywhere').addEventListener('click', (event) =>
    R.busy(event.currentTarget, async () => {
      const result = await api('POST', '/api/v1/me/sessions/revoke-all');
      if (!result.ok) return R.showError(R.problemMessage(result, 'Could not sign out everywhere.'));
      return toLogin();
    }),
  );

  (async () => {
    state = await R.sessionState();
    if (!state.signedIn || state.stage !== 'ok') return toLogin();
    $('loading').hidden = true;
    $('who-name').textContent = state.user.displayName;
    $('who-email').textContent = state.user.email;
    $('who-roles').textContent = state.user.roles.join(', ') || 'none';
    $('account').hidden = false;
    $('passkeys').hidden = false;
    await loadSessions();
    await loadPasskeys();
    return undefined;
  })();
})();
