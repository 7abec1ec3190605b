/* global window */
/**
 * First-admin setup: the one-time token is the last segment of this page's path (the link printed
 * by `npm start`). Creates the owner account, signs in with the same password and hands over to the
 * login page, which forces MFA enrollment and, for a high-privilege role, a passkey (ID-4, ID-5).
 */
(function () {
  'use strict';
  const R = window.RampartLogin;
  const { $, api, config } = R;
  const token = decodeURIComponent(window.location.pathname.split('/').pop() || '');
  const form = $('form-setup');
  const FIELD = { '/password': 'new-password', '/displayName': 'display-name', '/email': 'email' };

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    R.clearError();
    R.busy(form, async () => {
      const email = $('email').value;
      const password = $('new-password').value;
      const created = await api('POST', '/api/v1/identity/' + encodeURIComponent(config.tenant) + '/setup', { token, email, displayName: $('display-name').value, password });
      if (!created.ok) {
        const pointers = created.body && Array.isArray(created.body.errors) ? created.body.errors.map((e) => FIELD[e.pointer]).filter(Boolean) : [];
        return R.showError(R.problemMessage(created, 'The administrator could not be created.'), pointers);
      }
      R.announce('Administrator created. Signing you in…');
      await R.passwordSignIn(email, password);
      $('new-password').value = '';
      window.location.assign(config.loginUrl);
      return undefined;
    });
  });
})();
