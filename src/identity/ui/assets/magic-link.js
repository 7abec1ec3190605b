/* global window, URLSearchParams */
/**
 * Sign-in links (magic links). Requesting one may demand the bot check (ID-10); the answer is the
 * same whether or not the address has an account. The link carries its token in the URL fragment,
 * which browsers never send to a server or in a Referer; the page removes it from the address bar
 * and history at once, spends it, and hands over to the login page for the second factor (ID-4).
 */
(function () {
  'use strict';
  const R = window.RampartLogin;
  const { $, api, config } = R;
  const base = '/api/v1/identity/' + encodeURIComponent(config.tenant) + '/magic-link';

  async function consume(token) {
    R.showStep('consume');
    const result = await api('POST', base + '/consume', { token });
    if (result.ok) return window.location.assign(config.loginUrl);
    R.showStep('request', { keepFocus: true });
    R.showError(R.problemMessage(result, 'This sign-in link is not valid any more. Request a new one.'));
    return undefined;
  }

  $('form-magic-link').addEventListener('submit', (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    R.clearError();
    R.busy(form, async () => {
      const result = await R.postWithChallenge(base, { email: $('email').value });
      if (!result.ok) return R.showError(R.problemMessage(result, 'The link could not be sent.'), result.status === 400 ? ['email'] : []);
      R.showStep('sent');
      return undefined;
    });
  });

  const fragment = new URLSearchParams(window.location.hash.slice(1));
  const token = fragment.get('token');
  if (token) {
    window.history.replaceState(null, '', window.location.pathname + window.location.search);
    consume(token);
  } else {
    R.showStep('request', { keepFocus: true });
    $('email').focus();
  }
})();
