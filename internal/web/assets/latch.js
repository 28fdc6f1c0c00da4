// latch's pages work without this file. With it, password fields gain a
// show/hide button.
"use strict";
document.querySelectorAll(".secret").forEach(function (box) {
  var input = box.querySelector("input");
  var button = box.querySelector("button.toggle");
  if (!input || !button) return;
  button.hidden = false;
  button.addEventListener("click", function () {
    var show = input.type === "password";
    input.type = show ? "text" : "password";
    button.textContent = show ? button.dataset.hide : button.dataset.show;
    button.setAttribute("aria-pressed", show ? "true" : "false");
    input.focus();
  });
});

// WebAuthn: a form with data-webauthn="get" (sign in with a passkey or a
// security key) or "create" (register one) carries its options as JSON
// in data-options, or names in data-options-url where to get fresh ones
// (a same-origin POST of the form's fields, answered with {options} and
// perhaps {challenge_id}, or {message}: a sentence to show). Its button runs
// the ceremony and the form posts the browser's answer
// (credential.toJSON()) in its "credential" field. With data-conditional
// the sign-in page also offers passkeys in the email field's autofill,
// in the background, until the button is pressed. Without WebAuthn the
// form says so; the pages never need it to sign in with a password.
(function () {
  var PKC = window.PublicKeyCredential;
  var supported = !!(PKC && navigator.credentials &&
    PKC.parseCreationOptionsFromJSON && PKC.parseRequestOptionsFromJSON);
  // A background request is renewed before its challenge (five minutes)
  // expires, so that a page left open still signs in.
  var renewAfter = 4 * 60 * 1000;

  function say(form, text) {
    var status = form.querySelector(".webauthn-status");
    if (!status) return;
    status.textContent = text;
    status.hidden = !text;
  }

  // refused is an error whose message is the server's sentence.
  function refused(text) {
    var err = new Error(text);
    err.name = "LatchRefused";
    return err;
  }

  function options(form, signal) {
    if (form.dataset.options) return Promise.resolve({ options: JSON.parse(form.dataset.options) });
    var fields = new URLSearchParams(new FormData(form));
    fields.delete("credential");
    return fetch(form.dataset.optionsUrl, {
      method: "POST", body: fields, signal: signal, credentials: "same-origin",
      headers: { Accept: "application/json" }
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (body) {
        if (!res.ok || !body.options) throw refused(body.message || "");
        return body;
      });
    });
  }

  function ceremony(form, mediation, signal) {
    return options(form, signal).then(function (got) {
      if (got.challenge_id) form.querySelector("input[name=challenge_id]").value = got.challenge_id;
      return form.dataset.webauthn === "create"
        ? navigator.credentials.create({ publicKey: PKC.parseCreationOptionsFromJSON(got.options) })
        : navigator.credentials.get({ publicKey: PKC.parseRequestOptionsFromJSON(got.options), mediation: mediation, signal: signal });
    }).then(function (credential) {
      if (!credential) return;
      form.querySelector("input[name=credential]").value = JSON.stringify(credential.toJSON());
      form.submit();
    });
  }

  document.querySelectorAll("form[data-webauthn]").forEach(function (form) {
    var button = form.querySelector("[data-webauthn-start]");
    var wrapper = form.closest(".passkey");
    if (!supported) {
      if (form.dataset.unsupported) say(form, form.dataset.unsupported);
      if (button) button.disabled = true;
      return;
    }
    if (wrapper) wrapper.hidden = false;
    var pending = null; // the background (conditional) request, if any
    var renew = 0;
    function stopBackground() {
      clearTimeout(renew);
      if (pending) { pending.abort(); pending = null; }
    }
    function background() {
      var mine = new AbortController();
      pending = mine;
      renew = setTimeout(function () {
        if (pending === mine) { stopBackground(); background(); }
      }, renewAfter);
      ceremony(form, "conditional", mine.signal).catch(function () {
        // Aborted, dismissed or refused: the button is still there.
      });
    }
    if (form.hasAttribute("data-conditional") && PKC.isConditionalMediationAvailable) {
      PKC.isConditionalMediationAvailable().then(function (yes) {
        if (yes) background();
      }, function () { /* no autofill: the button is still there */ });
    }
    if (!button) return;
    button.addEventListener("click", function () {
      stopBackground();
      say(form, "");
      button.disabled = true;
      ceremony(form, "optional").catch(function (err) {
        var name = err && err.name;
        if (name === "LatchRefused" && err.message) say(form, err.message);
        else if (name === "NotAllowedError" || name === "AbortError") say(form, form.dataset.cancelled);
        else say(form, form.dataset.failed);
      }).finally(function () { button.disabled = false; });
    });
  });
})();

// "Copy" buttons (the recovery codes, an authenticator app's key): the
// text of the element data-copy names goes on the clipboard; with
// data-copy-compact without its spaces (a key grouped for reading).
document.querySelectorAll("[data-copy]").forEach(function (button) {
  var source = document.getElementById(button.dataset.copy);
  if (!source || !navigator.clipboard) return;
  button.hidden = false;
  button.addEventListener("click", function () {
    var text = source.innerText.trim();
    if (button.hasAttribute("data-copy-compact")) text = text.replace(/\s+/g, "");
    else if (text.indexOf("\n") >= 0) text += "\n";
    navigator.clipboard.writeText(text).then(function () {
      button.textContent = button.dataset.done;
    }, function () { /* refused: the text can still be selected */ });
  });
});
