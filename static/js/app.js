// Greenlight's only script of its own. Every page works without it; this adds small comforts.
// CSP-safe: a static file, no eval, no inline handlers.
(function () {
  "use strict";

  // Lets the stylesheet hide fallbacks (`.js-hidden`) that only matter without JavaScript.
  document.documentElement.classList.add("js");

  // On narrow screens the navigation and tabs become sideways-scrolling strips: show the current item.
  Array.prototype.forEach.call(document.querySelectorAll(".sidebar ul, .tabs"), function (strip) {
    var current = strip.querySelector("[aria-current]");
    if (current && strip.scrollWidth > strip.clientWidth) {
      var offset = current.getBoundingClientRect().left - strip.getBoundingClientRect().left;
      strip.scrollLeft += offset - (strip.clientWidth - current.offsetWidth) / 2;
    }
  });

  function submitForm(form) {
    // requestSubmit fires the submit event, so htmx-driven forms and data-confirm still apply.
    if (typeof form.requestSubmit === "function") {
      form.requestSubmit();
    } else {
      form.submit();
    }
  }

  // <select data-autosubmit> submits its form as soon as the choice changes.
  document.addEventListener("change", function (event) {
    var select = event.target;
    if (select instanceof HTMLSelectElement && select.hasAttribute("data-autosubmit") && select.form) {
      submitForm(select.form);
    }
  });

  // The question to ask, if any: a submit button's own data-confirm wins over its form's.
  function confirmation(form, submitter) {
    var holder = submitter && submitter.hasAttribute("data-confirm") ? submitter : form;
    return holder && holder.getAttribute ? holder.getAttribute("data-confirm") : null;
  }

  // <form data-confirm="Question?"> asks before a plain submit. htmx forms are handled below:
  // htmx's own submit listener runs first and cancels the native submit, so skip those here.
  document.addEventListener("submit", function (event) {
    var question = confirmation(event.target, event.submitter);
    if (question && !event.defaultPrevented && !window.confirm(question)) {
      event.preventDefault();
    }
  });

  // htmx asks before every request; hold the request until the person confirms.
  document.addEventListener("htmx:confirm", function (event) {
    var detail = event.detail || {};
    var trigger = detail.triggeringEvent;
    var question = confirmation(detail.elt, trigger && trigger.submitter);
    if (!question) {
      return;
    }
    event.preventDefault();
    if (window.confirm(question)) {
      detail.issueRequest(true);
    }
  });
})();
