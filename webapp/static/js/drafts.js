/*
 * Task form drafts, saved while the worker types (templates/tasks/show.html).
 *
 * Progressive enhancement: without this script the form still completes, and "Save draft"
 * still saves. With it, the form's fields are posted to the draft address about 1.5 seconds
 * after typing stops, and when the page is hidden or left. When a save fails (no network,
 * signed out) a copy stays in this browser's localStorage, under the worker and the task,
 * and the next time the task is opened the worker is offered it if it is newer than the
 * draft on the server. The copy is removed as soon as the server has a draft again.
 *
 * It also moves focus to the error summary after a refused submit, so screen reader and
 * keyboard users start from the list of problems.
 */
(function () {
  "use strict";

  var summary = document.querySelector(".error-summary");
  if (summary) {
    summary.focus();
  }

  var form = document.querySelector("form[data-draft-url]");
  if (!form || !window.fetch || !window.FormData || !window.URLSearchParams) {
    return;
  }

  var DELAY_MS = 1500;
  var KEEP_LOCAL_DAYS = 14;
  var FAILED = "Draft not saved \u2014 check your connection. A copy is kept in this browser.";
  var SIGNED_OUT =
    "Draft not saved \u2014 you may have been signed out. A copy is kept in this browser: " +
    "sign in again and open this task to get it back.";
  var url = form.getAttribute("data-draft-url");
  var key = form.getAttribute("data-draft-key");
  var serverSavedAt = Date.parse(form.getAttribute("data-draft-saved-at") || "") || 0;
  var status = document.getElementById("draft-status");
  var timer = null;
  var leaving = false; // the form is being sent: nothing may save a draft after it
  var lastSent = JSON.stringify(fields());

  // The answers only: the token travels in a header, so a copy kept in this browser never
  // holds one (it would be stale by the time the copy is restored).
  function fields() {
    var pairs = [];
    new FormData(form).forEach(function (value, name) {
      if (name !== "__action" && name !== "csrf_token" && typeof value === "string") {
        pairs.push([name, value]);
      }
    });
    return pairs;
  }

  function say(text, failed) {
    if (!status) {
      return;
    }
    status.textContent = text;
    status.classList.toggle("draft-failed", Boolean(failed));
  }

  function token() {
    var input = form.querySelector('input[name="csrf_token"]');
    return input ? input.value : "";
  }

  // A refusal the server explained (too large, already completed) is shown as it said it;
  // anything else (no network, signed out) gets the standard message.
  function refused(message) {
    var error = new Error(message || FAILED);
    error.fromServer = Boolean(message);
    return error;
  }

  function signedOut(response) {
    return response.redirected || response.status === 400 || response.status === 401;
  }

  function reason(error) {
    return error && error.fromServer ? error.message : FAILED;
  }

  function post(pairs, keepalive) {
    var body = new URLSearchParams();
    pairs.forEach(function (pair) {
      body.append(pair[0], pair[1]);
    });
    return fetch(url, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      keepalive: Boolean(keepalive),
      headers: { "X-CSRFToken": token(), Accept: "application/json" }
    }).then(function (response) {
      var type = response.headers.get("Content-Type") || "";
      // Signed out, the session gone: the answer is a page (sign-in, or the form expired).
      if (type.indexOf("application/json") === -1) {
        throw signedOut(response) ? refused(SIGNED_OUT) : refused();
      }
      return response.json().then(function (answer) {
        if (!response.ok || !answer.saved_at) {
          throw refused(answer.message);
        }
        return answer;
      });
    });
  }

  // -- the copy kept in this browser when the server could not be reached ----------------

  function storage() {
    try {
      return window.localStorage;
    } catch (error) {
      return null; // storage switched off: saving on the server still works
    }
  }

  function keepLocally(pairs) {
    var store = storage();
    if (!store || !key) {
      return;
    }
    try {
      store.setItem(key, JSON.stringify({ saved: Date.now(), fields: pairs }));
    } catch (error) {
      // Full or refused: the status line already says the draft is not saved.
    }
  }

  function forgetLocal() {
    var store = storage();
    if (store && key) {
      store.removeItem(key);
    }
  }

  function readLocal() {
    var store = storage();
    if (!store || !key) {
      return null;
    }
    try {
      var copy = JSON.parse(store.getItem(key) || "null");
      return copy && Array.isArray(copy.fields) && typeof copy.saved === "number" ? copy : null;
    } catch (error) {
      return null;
    }
  }

  function dropOldCopies() {
    var store = storage();
    if (!store || !key) {
      return;
    }
    var prefix = key.slice(0, key.lastIndexOf(":") + 1);
    var oldest = Date.now() - KEEP_LOCAL_DAYS * 24 * 3600 * 1000;
    for (var i = store.length - 1; i >= 0; i -= 1) {
      var name = store.key(i);
      if (name && name.indexOf(prefix) === 0) {
        try {
          var copy = JSON.parse(store.getItem(name) || "null");
          if (!copy || copy.saved < oldest) {
            store.removeItem(name);
          }
        } catch (error) {
          store.removeItem(name);
        }
      }
    }
  }

  // -- saving ----------------------------------------------------------------------------

  function save(leavingPage) {
    window.clearTimeout(timer);
    if (leaving) {
      return;
    }
    var pairs = fields();
    var snapshot = JSON.stringify(pairs);
    if (snapshot === lastSent) {
      return;
    }
    if (leavingPage) {
      // The answer may never be read once the page is gone: keep a copy until it is.
      keepLocally(pairs);
    }
    post(pairs, leavingPage)
      .then(function (answer) {
        lastSent = snapshot;
        serverSavedAt = Date.parse(answer.saved_at) || Date.now();
        forgetLocal();
        say("Draft saved at " + answer.saved_at_text + (answer.notice ? ". " + answer.notice : ""));
      })
      .catch(function (error) {
        keepLocally(pairs);
        say(reason(error), true);
      });
  }

  function later() {
    window.clearTimeout(timer);
    timer = window.setTimeout(save, DELAY_MS);
  }

  form.addEventListener("input", later);
  form.addEventListener("change", later);
  form.addEventListener("submit", function () {
    // Completing, saving or adding an entry: the server keeps the draft from this post.
    leaving = true;
    window.clearTimeout(timer);
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
      leaving = false; // back from the browser's cache after a send that did not finish
    }
  });
  Array.prototype.forEach.call(document.querySelectorAll("form[data-discard-draft]"), function (f) {
    f.addEventListener("submit", function () {
      leaving = true;
      forgetLocal();
    });
  });

  // -- offering the copy kept in this browser ----------------------------------------------

  function offer(copy) {
    var box = document.createElement("div");
    box.className = "draft-offer";
    box.setAttribute("role", "region");
    box.setAttribute("aria-label", "Answers kept in this browser");
    var when = new Date(copy.saved);
    var text = document.createElement("p");
    text.textContent =
      "This browser kept a copy of your answers from " +
      when.toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit" }) +
      " on " +
      when.toLocaleDateString("en-GB", { day: "numeric", month: "short" }) +
      " that was not saved as a draft. It is newer than the form below.";
    var restore = document.createElement("button");
    restore.type = "button";
    restore.textContent = "Restore that copy";
    var drop = document.createElement("button");
    drop.type = "button";
    drop.textContent = "Throw that copy away";
    box.appendChild(text);
    box.appendChild(restore);
    box.appendChild(drop);
    form.parentNode.insertBefore(box, form);

    restore.addEventListener("click", function () {
      restore.disabled = true;
      // Saved as the server draft, the page then shows it with every entry it had.
      post(copy.fields, false)
        .then(function () {
          forgetLocal();
          leaving = true;
          window.location.reload();
        })
        .catch(function (error) {
          restore.disabled = false;
          say(reason(error), true);
        });
    });
    drop.addEventListener("click", function () {
      forgetLocal();
      box.parentNode.removeChild(box);
      say("The copy kept in this browser is thrown away.");
    });
  }

  dropOldCopies();
  var copy = readLocal();
  if (copy) {
    if (copy.saved > serverSavedAt && JSON.stringify(copy.fields) !== lastSent) {
      offer(copy);
    } else {
      forgetLocal(); // the server's draft is as new: nothing to offer
    }
  }
})();
