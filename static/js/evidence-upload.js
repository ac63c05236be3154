// Evidence forms: several files uploaded at once, each posted on its own with real progress and a
// duplicate check first; a new version of an item's file with progress; and the valid-until hint kept in
// step with the chosen type and date. Every form also works without this script, as a plain form post.
// CSP-safe: a static file, no eval, no inline handlers; server HTML is only ever our own escaped fragments.
(function () {
  "use strict";

  var LONG_DATE = { day: "numeric", month: "long", year: "numeric" };
  var XHR_HEADER = "X-Requested-With";

  // --- The valid-until hint --------------------------------------------------------------------------
  function longDate(start, days) {
    var day = new Date(start.getTime());
    day.setDate(day.getDate() + days);
    return day.toLocaleDateString("en-GB", LONG_DATE);
  }

  function collectedDate(form) {
    var input = form.querySelector("[name='collected_on']");
    var value = input && input.value;
    var parsed = value ? new Date(value + "T00:00:00") : new Date();
    return isNaN(parsed.getTime()) ? new Date() : parsed;
  }

  function updateHint(form) {
    var hint = form.querySelector("[data-valid-until-hint]");
    var select = form.querySelector("[data-evidence-type]");
    if (!hint || !select) {
      return;
    }
    var start = collectedDate(form);
    var option = select.options[select.selectedIndex];
    if (option && option.getAttribute("data-days")) {
      hint.textContent = "Leave blank: defaults to " + longDate(start, Number(option.getAttribute("data-days"))) +
        " for " + option.getAttribute("data-plural") + ".";
      return;
    }
    var screenshot = select.querySelector("option[value='screenshot']");
    if (screenshot) {
      hint.textContent = "Leave blank to use each type's usual period, for example " +
        longDate(start, Number(screenshot.getAttribute("data-days"))) + " for screenshots.";
    }
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.form && (target.hasAttribute("data-evidence-type") || target.name === "collected_on")) {
      updateHint(target.form);
    }
  });

  // --- The control picker ---------------------------------------------------------------------------
  // A ticked match moves to the chosen list, so the next search (which replaces the matches) keeps it;
  // unticking a chosen control lets it go, and the search can offer it again.
  document.addEventListener("change", function (event) {
    var box = event.target;
    if (!(box instanceof HTMLInputElement) || box.type !== "checkbox" || box.name !== "controls") {
      return;
    }
    var picker = box.closest("[data-control-picker]");
    var choice = box.closest("[data-control-choice]");
    var chosen = picker && picker.querySelector("[data-control-chosen] .choices");
    if (!chosen || !choice) {
      return;
    }
    if (box.checked && !chosen.contains(choice)) {
      chosen.appendChild(choice);
      box.focus();
    } else if (!box.checked && chosen.contains(choice)) {
      var next = choice.nextElementSibling || choice.previousElementSibling;
      choice.remove();
      var focus = next ? next.querySelector("input") : picker.querySelector("input[type='search']");
      if (focus) {
        focus.focus();
      }
    }
  });

  // --- Shared pieces ---------------------------------------------------------------------------------
  function sizeText(bytes) {
    if (bytes < 1024) {
      return bytes + " bytes";
    }
    if (bytes < 1024 * 1024) {
      return Math.round(bytes / 1024) + " KB";
    }
    return (bytes / (1024 * 1024)).toFixed(1) + " MB";
  }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text) {
      node.textContent = text;
    }
    return node;
  }

  function tooLarge(name, maxMb) {
    return "“" + name + "” is larger than the " + maxMb + " MB limit. Nothing was stored.";
  }

  function failure(status, name, maxMb) {
    if (status === 413) {
      return tooLarge(name, maxMb);
    }
    if (status === 403) {
      return "Your role cannot add evidence. Ask an owner or admin.";
    }
    if (status === 0) {
      return "The upload stopped: check your connection and try again.";
    }
    return "The upload failed (error " + status + "). Try again in a moment.";
  }

  // One row per file: name, size, progress bar, a spoken status and the server's answer.
  function makeRow(file, removable) {
    var row = element("li", "upload-row");
    var head = element("div", "upload-row-head");
    head.appendChild(element("span", "upload-name", file.name));
    head.appendChild(element("span", "upload-size", sizeText(file.size)));
    if (removable) {
      var remove = element("button", "link-button upload-remove", "Remove");
      remove.type = "button";
      remove.setAttribute("data-remove", "");
      remove.appendChild(element("span", "visually-hidden", " " + file.name));
      head.appendChild(remove);
    }
    row.appendChild(head);
    var bar = element("progress", "upload-progress");
    bar.max = 100;
    bar.value = 0;
    bar.hidden = true;
    bar.setAttribute("aria-label", "Upload of " + file.name);
    row.appendChild(bar);
    var status = element("p", "upload-status", "Ready to upload");
    status.setAttribute("aria-live", "polite");
    row.appendChild(status);
    row.appendChild(element("div", "upload-result"));
    return row;
  }

  function setStatus(entry, text, state) {
    entry.row.querySelector(".upload-status").textContent = text;
    if (state) {
      entry.row.setAttribute("data-state", state);
    }
  }

  // The answer replaces the status on screen; the status stays for screen readers, who heard it change.
  function showResult(entry, html) {
    entry.row.querySelector(".upload-result").innerHTML = html;
    entry.row.querySelector(".upload-status").classList.toggle("visually-hidden", Boolean(html));
  }

  function showMessage(entry, text) {
    showResult(entry, "");
    entry.row.querySelector(".upload-result").appendChild(element("p", "upload-outcome upload-outcome-refused", text));
    entry.row.querySelector(".upload-status").classList.add("visually-hidden");
  }

  // POST with progress. `onProgress(percent)`; `onDone(status, text)` also for network failures (status 0).
  function send(url, data, onProgress, onDone) {
    var request = new XMLHttpRequest();
    request.open("POST", url);
    request.setRequestHeader(XHR_HEADER, "XMLHttpRequest");
    if (onProgress) {
      request.upload.addEventListener("progress", function (event) {
        if (event.lengthComputable) {
          onProgress(Math.floor((event.loaded / event.total) * 100));
        }
      });
    }
    request.addEventListener("load", function () { onDone(request.status, request.responseText); });
    request.addEventListener("error", function () { onDone(0, ""); });
    request.addEventListener("abort", function () { onDone(0, ""); });
    request.send(data);
  }

  function uploadProgress(entry) {
    var bar = entry.row.querySelector(".upload-progress");
    var spoken = -10;
    bar.hidden = false;
    return function (percent) {
      bar.value = percent;
      // Screen readers hear every tenth percent, not a flood of updates.
      if (percent - spoken >= 10 || percent === 100) {
        spoken = percent;
        setStatus(entry, "Uploading " + percent + "%");
      }
    };
  }

  function sha256(file) {
    if (!window.crypto || !window.crypto.subtle || typeof file.arrayBuffer !== "function") {
      return Promise.resolve(null);
    }
    return file.arrayBuffer().then(function (buffer) {
      return window.crypto.subtle.digest("SHA-256", buffer);
    }).then(function (digest) {
      return Array.prototype.map.call(new Uint8Array(digest), function (byte) {
        return ("0" + byte.toString(16)).slice(-2);
      }).join("");
    }).catch(function () { return null; });
  }

  // --- Adding files: a batch, one request per file ---------------------------------------------------
  function setupBatch(form) {
    var input = form.querySelector("[data-file-input]");
    var list = form.querySelector("[data-upload-list]");
    var zone = form.querySelector("[data-drop-zone]");
    var summary = form.querySelector("[data-upload-summary]");
    var start = form.querySelector("[data-upload-start]");
    var maxBytes = Number(form.getAttribute("data-max-bytes"));
    var maxMb = form.getAttribute("data-max-mb");
    var entries = [];
    var running = false;

    input.multiple = true;
    zone.classList.add("drop-zone-ready");

    function addFiles(files) {
      Array.prototype.forEach.call(files, function (file) {
        var entry = { file: file, row: makeRow(file, true), state: "waiting" };
        entry.row.setAttribute("data-entry", String(entries.length));
        entries.push(entry);
        list.appendChild(entry.row);
      });
      list.hidden = entries.length === 0;
      var waiting = count("waiting");
      start.textContent = waiting > 1 ? "Upload " + waiting + " files" : "Upload";
      summary.textContent = files.length + " file" + (files.length === 1 ? "" : "s") + " added to the list.";
    }

    function count(state) {
      return entries.filter(function (entry) { return entry.state === state; }).length;
    }

    function entryOf(node) {
      var row = node.closest(".upload-row");
      return row ? entries[Number(row.getAttribute("data-entry"))] : null;
    }

    function finish(entry, state, text, html) {
      entry.state = state;
      setStatus(entry, text, state);
      if (html !== undefined) {
        showResult(entry, html);
      }
      var remove = entry.row.querySelector("[data-remove]");
      if (remove && state !== "waiting") {
        remove.remove();
      }
    }

    function upload(entry, allowDuplicate, next) {
      var data = new FormData(form);
      data.delete("file");
      data.delete("q");
      data.append("file", entry.file, entry.file.name);
      if (allowDuplicate) {
        data.set("allow_duplicate", "1");
      }
      entry.state = "uploading";
      showResult(entry, "");
      send(form.action, data, uploadProgress(entry), function (status, text) {
        entry.row.querySelector(".upload-progress").hidden = true;
        if (status === 201) {
          finish(entry, "stored", "Added", text);
        } else if (status === 409) {
          finish(entry, "paused", "Waiting for your choice", text);
        } else if (status === 400) {
          finish(entry, "refused", "Not added", text);
        } else {
          finish(entry, "refused", "Not added");
          showMessage(entry, failure(status, entry.file.name, maxMb));
        }
        if (next) {
          next();
        }
      });
    }

    function check(entry, next) {
      if (entry.file.size > maxBytes) {
        finish(entry, "refused", "Not added");
        showMessage(entry, tooLarge(entry.file.name, maxMb));
        next();
        return;
      }
      entry.state = "checking";
      setStatus(entry, "Checking whether you already have it…", "checking");
      sha256(entry.file).then(function (digest) {
        if (!digest) {
          upload(entry, false, next);
          return;
        }
        var url = form.getAttribute("data-check-url") + "?sha256=" + digest + "&name=" + encodeURIComponent(entry.file.name);
        fetch(url, { headers: { "X-Requested-With": "XMLHttpRequest" }, credentials: "same-origin" })
          .then(function (response) {
            if (response.status !== 200) {
              upload(entry, false, next);
              return null;
            }
            return response.text().then(function (html) {
              finish(entry, "paused", "Waiting for your choice", html);
              next();
            });
          })
          .catch(function () { upload(entry, false, next); });
      });
    }

    // Files go one after another: the first results show sooner, and the server is not flooded.
    function run() {
      var entry = entries.filter(function (item) { return item.state === "waiting"; })[0];
      if (!entry) {
        running = false;
        start.disabled = false;
        start.textContent = "Upload";
        summary.textContent = report();
        return;
      }
      check(entry, run);
    }

    function report() {
      var parts = [];
      var stored = count("stored");
      var refused = count("refused");
      var paused = count("paused");
      if (stored) {
        parts.push(stored + " added");
      }
      if (refused) {
        parts.push(refused + " not added");
      }
      if (paused) {
        parts.push(paused + " waiting for your choice");
      }
      return parts.length ? "Finished: " + parts.join(", ") + "." : "";
    }

    input.addEventListener("change", function () {
      addFiles(input.files);
      input.value = "";
    });

    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function (event) {
        event.preventDefault();
        zone.classList.add("drop-zone-over");
      });
    });
    ["dragleave", "drop"].forEach(function (name) {
      zone.addEventListener(name, function () { zone.classList.remove("drop-zone-over"); });
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      if (event.dataTransfer && event.dataTransfer.files.length) {
        addFiles(event.dataTransfer.files);
      }
    });
    // A file dropped beside the zone would otherwise open in the tab and lose the uploads in progress.
    ["dragover", "drop"].forEach(function (name) {
      window.addEventListener(name, function (event) {
        if (!zone.contains(event.target)) {
          event.preventDefault();
        }
      });
    });

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (running) {
        return;
      }
      if (!count("waiting")) {
        summary.textContent = "Choose at least one file first.";
        input.focus();
        return;
      }
      running = true;
      start.disabled = true;
      start.textContent = "Uploading…";
      run();
    });

    list.addEventListener("click", function (event) {
      var target = event.target.closest("button");
      var entry = target && entryOf(target);
      if (!entry) {
        return;
      }
      if (target.hasAttribute("data-remove")) {
        entry.state = "removed";
        entry.row.remove();
        list.hidden = !list.querySelector(".upload-row");
      } else if (target.hasAttribute("data-upload-anyway")) {
        upload(entry, true, null);
      } else if (target.hasAttribute("data-keep-both")) {
        target.closest("[data-near]").replaceWith(element("p", "hint", "Kept both."));
      } else if (target.hasAttribute("data-reuse")) {
        reuse(entry, target);
      }
    });

    // “Use X instead”: the item already held takes the chosen controls (and, for a near duplicate just
    // added, that item's controls, the new copy being deleted). Posted here so other uploads carry on.
    function reuse(entry, button) {
      var data = new FormData();
      data.append("csrfmiddlewaretoken", form.querySelector("[name='csrfmiddlewaretoken']").value);
      Array.prototype.forEach.call(form.querySelectorAll("[name='controls']:checked"), function (box) {
        data.append("controls", box.value);
      });
      if (button.hasAttribute("data-discard")) {
        data.append("discard", button.getAttribute("data-discard"));
      }
      button.disabled = true;
      setStatus(entry, "Using the item you already have…");
      send(button.getAttribute("data-reuse"), data, null, function (status, text) {
        if (status === 200) {
          finish(entry, "reused", "Used the item you already have", text);
        } else {
          button.disabled = false;
          setStatus(entry, status === 400 ? "Not changed" : failure(status, entry.file.name, maxMb));
          if (status === 400) {
            button.closest(".upload-prompt").insertAdjacentHTML("beforeend", text);
          }
        }
        summary.textContent = report();
      });
    }
  }

  // --- A new version of one item's file --------------------------------------------------------------
  function setupSingle(form) {
    var input = form.querySelector("[data-file-input]");
    var list = form.querySelector("[data-upload-list]");
    var start = form.querySelector("[data-upload-start]");
    var maxBytes = Number(form.getAttribute("data-max-bytes"));
    var maxMb = form.getAttribute("data-max-mb");

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var file = input.files && input.files[0];
      if (!file) {
        input.focus();
        return;
      }
      var entry = { file: file, row: makeRow(file, false), state: "uploading" };
      list.textContent = "";
      list.appendChild(entry.row);
      list.hidden = false;
      if (file.size > maxBytes) {
        setStatus(entry, "Not uploaded", "refused");
        showMessage(entry, tooLarge(file.name, maxMb));
        return;
      }
      var data = new FormData(form);
      start.disabled = true;
      send(form.action, data, uploadProgress(entry), function (status, text) {
        entry.row.querySelector(".upload-progress").hidden = true;
        start.disabled = false;
        if (status === 201) {
          setStatus(entry, "Uploaded. Showing the new version…", "stored");
          showResult(entry, text);
          var done = entry.row.querySelector("[data-next]");
          window.location.assign(done ? done.getAttribute("data-next") : window.location.href);
        } else if (status === 400) {
          setStatus(entry, "Not uploaded", "refused");
          showResult(entry, text);
        } else {
          setStatus(entry, "Not uploaded", "refused");
          showMessage(entry, failure(status, file.name, maxMb));
        }
      });
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll("form[data-upload-batch]"), setupBatch);
  Array.prototype.forEach.call(document.querySelectorAll("form[data-upload-single]"), setupSingle);
})();
