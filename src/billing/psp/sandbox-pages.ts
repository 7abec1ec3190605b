/**
 * The sandbox PSP's pages. They are served from the PSP's own origin, never from Rampart, which
 * is what keeps Rampart out of card-data scope (BI-1, PCI DSS SAQ A): the card number goes from
 * the browser straight to the PSP's token endpoint, and only the token travels on.
 */

const escapeHtml = (value: string) => value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function hostedFieldsPage(sessionId: string): string {
  const session = escapeHtml(sessionId.replace(/[^A-Za-z0-9_]/g, '').slice(0, 64));
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sandbox PSP: card details</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 28rem; margin: 2rem auto">
<p><strong>Sandbox payments.</strong> Test cards only: 4242 4242 4242 4242 succeeds, 4000 0000 0000 0002 is declined,
4000 0000 0000 9995 has insufficient funds, 4000 0000 0000 3220 asks for 3-D Secure, 4000 0000 0000 0069 is expired.</p>
<form id="card" data-session="${session}" autocomplete="off">
  <label>Card number <input name="number" inputmode="numeric" autocomplete="cc-number" required></label><br>
  <label>Expiry month <input name="exp_month" inputmode="numeric" size="2" required></label>
  <label>year <input name="exp_year" inputmode="numeric" size="4" required></label><br>
  <label>CVC <input name="cvc" inputmode="numeric" size="4" required></label><br>
  <button type="submit">Save card</button>
</form>
<p id="status" role="status"></p>
<script src="/hosted-fields.js"></script>
</body></html>`;
}

export const hostedFieldsScript = `'use strict';
const form = document.getElementById('card');
const status = document.getElementById('status');
form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const data = Object.fromEntries(new FormData(form));
  const tokenResponse = await fetch('/v1/tokens', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(data) });
  const token = await tokenResponse.json();
  if (!tokenResponse.ok) { status.textContent = 'Card refused: ' + (token.error && token.error.message); return; }
  const done = await fetch('/v1/setup_sessions/' + form.dataset.session + '/complete', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: token.id }) });
  const result = await done.json();
  status.textContent = done.ok ? 'Card saved (' + token.card.brand + ' ending ' + token.card.last4 + ')' : 'Could not save the card';
  if (done.ok && result.return_url) location.assign(result.return_url);
});
`;

export function threeDsPage(intentId: string): string {
  const intent = escapeHtml(intentId.replace(/[^A-Za-z0-9_]/g, '').slice(0, 64));
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sandbox 3-D Secure</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 28rem; margin: 2rem auto">
<p>Sandbox 3-D Secure challenge for payment ${intent}. POST {"result":"pass"} or {"result":"fail"} to this URL.</p>
</body></html>`;
}
