// The API keys and partners settings pages: copy buttons for a new key and its example command, and focus
// on what a response brought (the new key, or what was wrong). Progressive enhancement: without JavaScript
// the key is plain text, selectable with one click (the stylesheet sets user-select: all), and the copy
// buttons stay hidden.
(function () {
  "use strict";

  function enhance(root) {
    if (navigator.clipboard) {
      Array.prototype.forEach.call(root.querySelectorAll("[data-copy]"), function (button) {
        button.hidden = false;
      });
    }
    // A key shown once, or a refusal, must not be missed: move focus (and the view) to it, for screen
    // readers too.
    var target = root.matches && root.matches("[data-autofocus]") ? root : root.querySelector("[data-autofocus]");
    if (target) {
      target.focus();
    }
  }

  document.addEventListener("click", function (event) {
    var button = event.target instanceof Element ? event.target.closest("[data-copy]") : null;
    var source = button && document.getElementById(button.getAttribute("data-copy"));
    if (!source) {
      return;
    }
    var label = button.getAttribute("data-label") || button.textContent;
    button.setAttribute("data-label", label);
    navigator.clipboard.writeText(source.textContent.trim()).then(
      function () {
        button.textContent = "Copied";
      },
      function () {
        button.textContent = "Copy failed: select the text instead";
      }
    );
    window.setTimeout(function () {
      button.textContent = label;
    }, 3000);
  });

  // htmx swaps in the panel after a key is created or rotated.
  document.addEventListener("htmx:load", function (event) {
    if (event.target !== document.body) {
      enhance(event.target);
    }
  });

  enhance(document);
})();
