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
