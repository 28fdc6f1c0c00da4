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
// in data-options; its button runs the ceremony and the form posts the
// browser's answer (credential.toJSON()) in its "credential" field.
// Without WebAuthn the form says so; the pages never need it to sign in
// with a password.
(function () {
  var PKC = window.PublicKeyCredential;
  var supported = !!(PKC && navigator.credentials &&
    PKC.parseCreationOptionsFromJSON && PKC.parseRequestOptionsFromJSON);

  function say(form, text) {
    var status = form.querySelector(".webauthn-status");
    if (!status) return;
    status.textContent = text;
    status.hidden = !text;
  }

  function ceremony(form, mediation, signal) {
    var options = JSON.parse(form.dataset.options);
    var call = form.dataset.webauthn === "create"
      ? navigator.credentials.create({ publicKey: PKC.parseCreationOptionsFromJSON(options) })
      : navigator.credentials.get({ publicKey: PKC.parseRequestOptionsFromJSON(options), mediation: mediation, signal: signal });
    return call.then(function (credential) {
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
    if (form.hasAttribute("data-conditional") && PKC.isConditionalMediationAvailable) {
      PKC.isConditionalMediationAvailable().then(function (yes) {
        if (!yes) return;
        pending = new AbortController();
        ceremony(form, "conditional", pending.signal).catch(function () { /* aborted or dismissed: the button stays */ });
      });
    }
    if (!button) return;
    button.addEventListener("click", function () {
      if (pending) { pending.abort(); pending = null; }
      say(form, "");
      button.disabled = true;
      ceremony(form, "optional").catch(function (err) {
        say(form, err && err.name === "NotAllowedError" ? form.dataset.cancelled : form.dataset.failed);
      }).finally(function () { button.disabled = false; });
    });
  });
})();

// Recovery codes: "Copy" puts them on the clipboard.
document.querySelectorAll("[data-copy]").forEach(function (button) {
  var source = document.getElementById(button.dataset.copy);
  if (!source || !navigator.clipboard) return;
  button.hidden = false;
  button.addEventListener("click", function () {
    navigator.clipboard.writeText(source.innerText.trim() + "\n").then(function () {
      button.textContent = button.dataset.done;
    });
  });
});
