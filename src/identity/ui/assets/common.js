/* global window, document, fetch, location, Worker, URLSearchParams */
/**
 * Shared helpers of the hosted login pages (classic script, loaded with `defer`). Every call goes
 * to the same-origin JSON API with the session cookie; nothing here reads or stores a token (the
 * cookie is HttpOnly). Messages are written with textContent only, never as markup.
 */
(function () {
  'use strict';

  const data = document.body.dataset;
  const config = Object.freeze({
    page: data.page || '',
    tenant: data.tenant || '',
    returnTo: data.returnTo || '',
    loginUrl: data.loginUrl || '/',
    accountUrl: data.accountUrl || '/',
    altchaWorker: data.altchaWorker || '',
    features: new Set((data.features || '').split(' ').filter(Boolean)),
  });

  const $ = (id) => document.getElementById(id);

  /** JSON over fetch; never throws for an HTTP status, only for a network failure. */
  async function api(method, url, body) {
    const init = { method, credentials: 'same-origin', headers: { accept: 'application/json, application/problem+json' } };
    if (body !== undefined) {
      init.headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(url, init);
    } catch {
      return { ok: false, status: 0, body: { detail: 'The network request failed. Check your connection and try again.' } };
    }
    const text = await response.text();
    let json;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    return { ok: response.ok, status: response.status, body: json, retryAfter: response.headers.get('retry-after') };
  }

  /** A sentence for a failed call: the problem's detail (written by Rampart for users), or a fallback. */
  function problemMessage(result, fallback) {
    const body = result.body || {};
    if (result.status === 429) {
      const seconds = Number(result.retryAfter || body.retry_after_seconds || 0);
      return seconds > 0 ? `Too many attempts. Try again in ${seconds} seconds.` : 'Too many attempts. Try again later.';
    }
    if (Array.isArray(body.errors) && body.errors.length) return body.errors.map((e) => e.message).join(' ');
    if (typeof body.detail === 'string' && body.detail) return body.detail.charAt(0).toUpperCase() + body.detail.slice(1) + '.';
    return fallback || 'Something went wrong. Please try again.';
  }

  const invalidFields = new Set();

  function clearError() {
    $('error').textContent = '';
    for (const field of invalidFields) {
      field.removeAttribute('aria-invalid');
      field.removeAttribute('aria-errormessage');
    }
    invalidFields.clear();
  }

  /** Fills the alert region and moves focus to it, so keyboard and screen-reader users land on it. */
  function showError(message, fieldIds) {
    clearError();
    const region = $('error');
    region.textContent = message;
    for (const id of fieldIds || []) {
      const field = $(id);
      if (!field) continue;
      field.setAttribute('aria-invalid', 'true');
      field.setAttribute('aria-errormessage', 'error');
      invalidFields.add(field);
    }
    region.focus();
  }

  function announce(message) {
    $('status').textContent = message || '';
  }

  /** Shows one `[data-step]` section, hides the others, focuses its heading. */
  function showStep(name, options) {
    const loading = $('loading');
    if (loading) loading.hidden = true;
    for (const section of document.querySelectorAll('[data-step]')) section.hidden = section.dataset.step !== name;
    const heading = $('h-' + name);
    if (heading && !(options && options.keepFocus)) heading.focus();
  }

  /** Disables a form's or button's controls while a request runs (no double submits). */
  async function busy(element, work) {
    const controls = element.matches('button') ? [element] : Array.from(element.querySelectorAll('button, input'));
    for (const control of controls) control.disabled = true;
    element.setAttribute('aria-busy', 'true');
    try {
      return await work();
    } finally {
      for (const control of controls) control.disabled = false;
      element.removeAttribute('aria-busy');
    }
  }

  /** A same-origin relative path, or null (mirrors the server's safeReturnTo for defence in depth). */
  function safePath(path) {
    if (typeof path !== 'string' || path[0] !== '/' || path[1] === '/' || path[1] === '\\') return null;
    for (const char of path) {
      const code = char.charCodeAt(0);
      if (code < 0x20 || code === 0x7f || char === '\\') return null;
    }
    return path;
  }

  function go(path) {
    location.assign(safePath(path) || config.accountUrl);
  }

  const stateUrl = () => '/login/' + encodeURIComponent(config.tenant) + '/state';
  async function sessionState() {
    const result = await api('GET', stateUrl());
    return result.ok && result.body ? result.body : { signedIn: false };
  }

  /** Solves the ALTCHA proof of work in a Web Worker (the page stays responsive), returns the payload. */
  async function solveChallenge() {
    const issued = await api('GET', '/api/v1/identity/challenge');
    if (!issued.ok) throw new Error('could not fetch the bot check');
    const challenge = issued.body;
    const solution = await new Promise((resolve, reject) => {
      const worker = new Worker(config.altchaWorker);
      worker.addEventListener('message', (event) => {
        worker.terminate();
        if (event.data && event.data.solution) resolve(event.data.solution);
        else reject(new Error('bot check failed'));
      });
      worker.addEventListener('error', () => {
        worker.terminate();
        reject(new Error('bot check failed'));
      });
      worker.postMessage({ challenge });
    });
    return window.btoa(JSON.stringify({ challenge, solution }));
  }

  /** POSTs a form that may demand the bot check: solves it and retries once when the API asks (ID-10). */
  async function postWithChallenge(url, body) {
    let result = await api('POST', url, body);
    if (result.status === 403 && result.body && result.body.challenge_required) {
      announce('Checking that you are not a bot. This takes a few seconds…');
      let altcha;
      try {
        altcha = await solveChallenge();
      } catch {
        announce('');
        return { ok: false, status: 0, body: { detail: 'The bot check could not run in this browser' } };
      }
      announce('');
      result = await api('POST', url, Object.assign({}, body, { altcha }));
    }
    return result;
  }

  /** The password step of a sign-in. */
  function passwordSignIn(email, password) {
    return postWithChallenge('/api/v1/identity/' + encodeURIComponent(config.tenant) + '/sign-in', { email, password });
  }

  function queryParam(name) {
    return new URLSearchParams(location.search).get(name);
  }

  window.RampartLogin = Object.freeze({ config, $, api, problemMessage, showError, clearError, announce, showStep, busy, safePath, go, sessionState, postWithChallenge, passwordSignIn, queryParam });
})();
