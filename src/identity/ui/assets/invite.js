/* global window */
/**
 * Invitation page: accept the invitation (name + password, policy enforced by the API), then sign
 * in with the same password and hand over to the login page, which forces MFA enrollment (ID-4).
 * The invitation token is read from this page's URL and sent only to the same-origin API.
 */
(function () {
  'use strict';
  const R = window.RampartLogin;
  const { $, api, config } = R;
  const token = R.queryParam('token');
  const form = $('form-invite');

  if (!token) {
    form.hidden = true;
    R.showError('This invitation link is incomplete. Open the full link from your invitation email, or ask for a new invitation.');
    return;
  }

  const FIELD = { '/password': 'new-password', '/displayName': 'display-name' };

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    R.clearError();
    R.busy(form, async () => {
      const password = $('new-password').value;
      const accepted = await api('POST', '/api/v1/identity/' + encodeURIComponent(config.tenant) + '/invitations/accept', { token, password, displayName: $('display-name').value });
      if (!accepted.ok) {
        const pointers = accepted.body && Array.isArray(accepted.body.errors) ? accepted.body.errors.map((e) => FIELD[e.pointer]).filter(Boolean) : [];
        return R.showError(R.problemMessage(accepted, 'The invitation could not be accepted.'), pointers);
      }
      R.announce('Account created. Signing you in…');
      const signedIn = await R.passwordSignIn(accepted.body.user.email, password);
      $('new-password').value = '';
      // Either way the login page takes over: it continues with enrollment, or asks for the password.
      if (!signedIn.ok) R.announce('Account created. Please sign in.');
      window.location.assign(config.loginUrl);
      return undefined;
    });
  });
})();
