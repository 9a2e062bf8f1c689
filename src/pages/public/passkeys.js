/*
 * Passkeys on the server-rendered pages: the pages' only JavaScript, loaded from
 * /assets (the CSP allows no inline script) after @simplewebauthn/browser
 * (global SimpleWebAuthnBrowser). Without JavaScript, or in a browser without
 * WebAuthn, the passkey controls stay hidden and every other form works as before.
 *
 * - /login: "Sign in with a passkey" asks the JSON API for request options (bound to
 *   the email when one is typed), lets the browser sign them, posts the result to
 *   POST /api/auth/passkeys/session (which sets the session cookie), then opens `next`.
 * - /security: "Add a passkey" asks for creation options with this session's CSRF
 *   token, lets the browser create the credential, posts it with its name, reloads.
 */
/* global document, window */
(function () {
  'use strict';

  var webauthn = window.SimpleWebAuthnBrowser;
  var REAUTHENTICATION_REQUIRED = 'reauthentication required';

  function supported() {
    return Boolean(webauthn && webauthn.browserSupportsWebAuthn && webauthn.browserSupportsWebAuthn());
  }

  /** POSTs JSON; the status and the parsed body (null when there is none). */
  async function postJson(url, body, csrfToken) {
    var headers = { 'Content-Type': 'application/json', Accept: 'application/json' };
    if (csrfToken) headers['X-CSRF-Token'] = csrfToken;
    var response = await fetch(url, {
      method: 'POST',
      headers: headers,
      credentials: 'same-origin',
      body: JSON.stringify(body),
    });
    var data = await response.json().catch(function () {
      return null;
    });
    return { status: response.status, data: data };
  }

  function messageOf(data) {
    var message = data && data.message;
    return Array.isArray(message) ? message[0] : typeof message === 'string' ? message : '';
  }

  /** What a failed step means to a person, whichever side it failed on. */
  function describe(error) {
    var name = error && error.name;
    if (name === 'NotAllowedError' || name === 'AbortError')
      return 'The passkey request was cancelled or timed out: try again.';
    if (name === 'InvalidStateError') return 'This device holds a passkey for your account already.';
    if (name === 'SecurityError') return 'This site cannot use passkeys at this address.';
    if (error && error.status === 429) return 'Too many attempts: wait a little and try again.';
    var message = error && error.message ? String(error.message) : '';
    return message ? message.replace(/\.?$/, '.') : 'Something went wrong: try again.';
  }

  function refusal(result) {
    var error = new Error(messageOf(result.data) || 'The service refused (' + result.status + ')');
    error.status = result.status;
    return error;
  }

  function show(element, text) {
    element.textContent = text;
    element.hidden = false;
  }

  /** A local path only, as the server's safeNext: never another site. */
  function safeNext(next) {
    // eslint-disable-next-line no-control-regex -- refusing control characters is the point
    return typeof next === 'string' && /^\/(?!\/)/.test(next) && !/[\\\u0000-\u001f\u007f]/.test(next)
      ? next
      : '/profile';
  }

  function setUpSignIn() {
    var button = document.getElementById('passkey-sign-in');
    var section = document.getElementById('passkey-sign-in-section');
    var errorBox = document.getElementById('passkey-sign-in-error');
    if (!button || !section || !errorBox || !supported()) return;
    section.hidden = false;
    button.addEventListener('click', async function () {
      errorBox.hidden = true;
      button.disabled = true;
      try {
        var emailField = document.getElementById('email');
        var email = emailField ? emailField.value.trim() : '';
        var options = await postJson(
          '/api/auth/passkeys/authentication/options',
          email ? { email: email } : {},
        );
        if (options.status !== 200) throw refusal(options);
        var response = await webauthn.startAuthentication({ optionsJSON: options.data });
        var signedIn = await postJson('/api/auth/passkeys/session', { response: response });
        if (signedIn.status !== 200) throw refusal(signedIn);
        window.location.assign(safeNext(button.getAttribute('data-next')));
      } catch (error) {
        show(errorBox, describe(error));
        button.disabled = false;
      }
    });
  }

  function setUpRegistration() {
    var form = document.getElementById('passkey-add');
    var errorBox = document.getElementById('passkey-add-error');
    var needsJs = document.getElementById('passkey-needs-js');
    if (!form || !errorBox) return;
    if (!supported()) {
      if (needsJs) needsJs.textContent = 'This browser cannot use passkeys.';
      return;
    }
    if (needsJs) needsJs.hidden = true;
    form.hidden = false;
    var csrfToken = form.getAttribute('data-csrf-token') || '';
    var button = form.querySelector('button[type="submit"]');
    form.addEventListener('submit', async function (event) {
      event.preventDefault();
      errorBox.hidden = true;
      button.disabled = true;
      try {
        var options = await postJson('/api/auth/passkeys/registration/options', {}, csrfToken);
        if (options.status === 403 && messageOf(options.data) === REAUTHENTICATION_REQUIRED) {
          window.location.assign('/security?status=confirm-first');
          return;
        }
        if (options.status !== 200) throw refusal(options);
        var response = await webauthn.startRegistration({ optionsJSON: options.data });
        var name = form.elements.namedItem('name').value.trim();
        var saved = await postJson(
          '/api/auth/passkeys/registration',
          name ? { response: response, name: name } : { response: response },
          csrfToken,
        );
        if (saved.status === 403 && messageOf(saved.data) === REAUTHENTICATION_REQUIRED) {
          window.location.assign('/security?status=confirm-first');
          return;
        }
        if (saved.status !== 201) throw refusal(saved);
        window.location.assign('/security?status=passkey-added');
      } catch (error) {
        show(errorBox, describe(error));
        button.disabled = false;
      }
    });
  }

  setUpSignIn();
  setUpRegistration();
})();
