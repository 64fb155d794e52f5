/*
 * The form editor (templates/form_editor/edit.html): a live preview and autosave.
 *
 * Progressive enhancement: without this script "Preview" and "Save" post the text and the
 * page comes back with the preview. With it, the text is sent to /forms/preview about 400 ms
 * after typing stops, and the answer (the worker's form as the task page renders it, or the
 * problems a deploy would report) replaces the preview and the checks beside the text. The
 * draft is saved every few seconds while there are changes, and when the page is hidden or
 * left. Saves go one at a time, each with the revision the last one returned, so only a
 * save from another window is reported as a conflict.
 */
(function () {
  "use strict";

  var form = document.getElementById("form-editor");
  var text = document.getElementById("schema-text");
  var check = document.getElementById("schema-check");
  var preview = document.getElementById("form-preview");
  var status = document.getElementById("save-status");
  if (!form || !text || !check || !preview || !window.fetch || !window.URLSearchParams) {
    return;
  }

  var PREVIEW_DELAY_MS = 400;
  var SAVE_EVERY_MS = 3000;
  var FAILED = "Not saved \u2014 check your connection; your text is still here.";
  var SIGNED_OUT = "Not saved \u2014 you may have been signed out. Copy your text before leaving.";
  var revision = form.querySelector('input[name="revision"]');
  var token = form.querySelector('input[name="csrf_token"]').value;
  var previewUrl = form.getAttribute("data-preview-url");
  var saveUrl = form.getAttribute("action");
  var previewTimer = null;
  var saveTimer = null;
  var asked = 0; // the number of the latest preview request: older answers are dropped
  var saving = null; // the save in flight, if any
  var savedText = text.value;
  var stopped = false; // a conflict: saving again would overwrite another window's work
  var submitting = false;

  function say(message, failed) {
    if (status) {
      status.textContent = message;
      status.classList.toggle("draft-failed", Boolean(failed));
    }
  }

  function post(url, fields, keepalive) {
    var body = new URLSearchParams();
    Object.keys(fields).forEach(function (name) {
      body.append(name, fields[name]);
    });
    return fetch(url, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      keepalive: Boolean(keepalive),
      headers: { "X-CSRFToken": token, Accept: "application/json" }
    }).then(function (response) {
      var type = response.headers.get("Content-Type") || "";
      if (type.indexOf("application/json") === -1) {
        throw new Error(response.redirected || response.status === 400 ? SIGNED_OUT : FAILED);
      }
      return response.json().then(function (answer) {
        answer.status = response.status;
        return answer;
      });
    });
  }

  // -- checking as the owner types ----------------------------------------------------------

  function showLines() {
    Array.prototype.forEach.call(check.querySelectorAll(".go-to-line"), function (button) {
      button.hidden = false;
    });
  }

  function goTo(line, column) {
    var lines = text.value.split("\n");
    var at = 0;
    for (var i = 0; i < line - 1 && i < lines.length; i += 1) {
      at += lines[i].length + 1;
    }
    at += Math.max(column - 1, 0);
    text.focus();
    text.setSelectionRange(at, at);
    // Bring the line into view: the share of the text before it, in scroll height.
    text.scrollTop = Math.max(0, (text.scrollHeight * (line - 1)) / lines.length - 40);
  }

  check.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest(".go-to-line") : null;
    if (button) {
      goTo(Number(button.getAttribute("data-line")), Number(button.getAttribute("data-column")));
    }
  });

  function refreshPreview() {
    window.clearTimeout(previewTimer);
    asked += 1;
    var mine = asked;
    post(previewUrl, { schema: text.value })
      .then(function (answer) {
        if (mine !== asked || answer.problems_html === undefined) {
          return;
        }
        check.innerHTML = answer.problems_html;
        showLines();
        if (answer.ok) {
          text.removeAttribute("aria-invalid");
          preview.innerHTML = answer.html;
          preview.removeAttribute("data-stale");
        } else {
          text.setAttribute("aria-invalid", "true");
          // Keep the last good preview, marked out of date, while the text is mid-edit.
          if (preview.querySelector(".form-preview-body")) {
            preview.setAttribute("data-stale", "true");
          }
        }
      })
      .catch(function () {
        if (mine === asked) {
          check.textContent = "The check could not run \u2014 use the Preview button.";
        }
      });
  }

  // -- saving -------------------------------------------------------------------------------

  function save(leaving) {
    window.clearTimeout(saveTimer);
    saveTimer = null;
    if (stopped || submitting || text.value === savedText) {
      return saving || Promise.resolve();
    }
    if (saving) {
      // One save at a time: the next one needs the revision this one returns.
      return saving.then(function () {
        return save(leaving);
      });
    }
    var sent = text.value;
    saving = post(saveUrl, { schema: sent, revision: revision.value, action: "save" }, leaving)
      .then(function (answer) {
        if (answer.status === 409) {
          stopped = true;
          say(answer.message + " Use Save to see your choices.", true);
          status.setAttribute("role", "alert");
          return;
        }
        if (answer.status !== 200 || !answer.revision) {
          throw new Error(answer.message || FAILED);
        }
        revision.value = answer.revision;
        savedText = sent;
        say(answer.saved_at_text);
      })
      .catch(function (error) {
        say(error.message || FAILED, true);
      })
      .then(function () {
        saving = null;
      });
    return saving;
  }

  text.addEventListener("input", function () {
    window.clearTimeout(previewTimer);
    previewTimer = window.setTimeout(refreshPreview, PREVIEW_DELAY_MS);
    if (!saveTimer && !stopped) {
      saveTimer = window.setTimeout(save, SAVE_EVERY_MS);
    }
  });

  form.addEventListener("submit", function (event) {
    var button = event.submitter;
    if (submitting) {
      return;
    }
    if (saving) {
      // Wait for the autosave, so the post carries the revision it returned.
      event.preventDefault();
      saving.then(function () {
        if (form.requestSubmit) {
          form.requestSubmit(button || undefined);
        } else {
          form.submit();
        }
      });
      return;
    }
    submitting = true;
    window.clearTimeout(saveTimer);
  });

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") {
      save(true);
    }
  });
  window.addEventListener("pagehide", function () {
    save(true);
  });
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) {
      submitting = false; // back from the browser's cache
    }
  });

  showLines();
})();
