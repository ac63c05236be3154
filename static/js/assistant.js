// The assistant page: streams each answer into its placeholder as server-sent events arrive.
// Without this script every question is answered before the page returns, and a question left
// unanswered shows an "Answer it now" button; that same button is the way back if a stream fails.
(function () {
  "use strict";

  var MAX_RETRIES = 3;

  function fail(pending, text) {
    pending.classList.add("chat-failed");
    pending.removeAttribute("aria-busy");
    pending.querySelector(".chat-status-text").textContent = text;
    var spinner = pending.querySelector(".chat-spinner");
    if (spinner) {
      spinner.remove();
    }
  }

  function stream(pending) {
    if (pending.dataset.streaming) {
      return;
    }
    pending.dataset.streaming = "1";
    var status = pending.querySelector(".chat-status-text");
    var failures = 0;
    var source = new EventSource(pending.dataset.streamUrl);

    source.addEventListener("status", function (event) {
      status.textContent = event.data;
    });
    source.addEventListener("answer", function (event) {
      source.close();
      var holder = document.createElement("template");
      holder.innerHTML = event.data.trim();
      var answer = holder.content.firstElementChild;
      pending.replaceWith(answer);
      if (window.htmx) {
        window.htmx.process(answer);
      }
    });
    source.addEventListener("failed", function (event) {
      source.close();
      fail(pending, event.data);
    });
    source.onerror = function () {
      // EventSource reconnects by itself; the server sends a stored answer rather than answering twice.
      failures += 1;
      if (failures >= MAX_RETRIES || source.readyState === EventSource.CLOSED) {
        source.close();
        fail(pending, "The connection dropped before the answer arrived. Your question is saved.");
      }
    };
  }

  function streamAll(root) {
    Array.prototype.forEach.call(root.querySelectorAll("[data-stream-url]"), stream);
  }

  // Ctrl+Enter (or Cmd+Enter) sends the question from the text box.
  document.addEventListener("keydown", function (event) {
    var box = event.target;
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && box.form && box.form.hasAttribute("data-ask-form")) {
      event.preventDefault();
      if (typeof box.form.requestSubmit === "function") {
        box.form.requestSubmit();
      } else {
        box.form.submit();
      }
    }
  });

  document.addEventListener("htmx:afterSettle", function (event) {
    var pending = event.detail.elt.querySelector ? event.detail.elt.querySelector("[data-stream-url]") : null;
    streamAll(document);
    if (pending) {
      pending.scrollIntoView({ block: "nearest", behavior: "smooth" });
      var box = document.getElementById("question");
      if (box) {
        box.focus();
      }
    }
  });

  streamAll(document);
})();
