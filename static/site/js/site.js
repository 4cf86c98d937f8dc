/* The prepatient site's small script. Everything works without it; with it:
   - a read-aloud button speaks the page's main content with the browser's
     speech synthesis, in the page's language;
   - a form is sent once: its submit buttons are disabled after the first
     submit (the server refuses a repeated submission token as well);
   - what a person types in a form marked data-keep-draft is kept in this
     tab's sessionStorage until the form is sent, so a reload or a lost
     connection does not lose it. Fields marked data-private (personnummer)
     and passwords are never stored. */
(function () {
  "use strict";

  function readAloud() {
    var holder = document.querySelector(".read-aloud");
    var button = document.querySelector("[data-read-aloud]");
    if (!holder || !button || !("speechSynthesis" in window)) { return; }
    holder.hidden = false;
    var lang = document.documentElement.lang === "en" ? "en-GB" : "sv-SE";
    function stop() {
      window.speechSynthesis.cancel();
      button.setAttribute("aria-pressed", "false");
      button.textContent = button.dataset.labelStart;
    }
    button.addEventListener("click", function () {
      if (button.getAttribute("aria-pressed") === "true") { stop(); return; }
      var main = document.getElementById("main");
      var copy = main.cloneNode(true);
      copy.querySelectorAll(".read-aloud, script, [aria-hidden='true'], .visually-hidden-from-speech").forEach(function (node) { node.remove(); });
      var text = copy.innerText || copy.textContent || "";
      var utterance = new SpeechSynthesisUtterance(text.replace(/\s+/g, " ").trim());
      utterance.lang = lang;
      utterance.onend = stop;
      utterance.onerror = stop;
      window.speechSynthesis.cancel();
      window.speechSynthesis.speak(utterance);
      button.setAttribute("aria-pressed", "true");
      button.textContent = button.dataset.labelStop;
    });
  }

  function sendOnce() {
    document.querySelectorAll("form[method='post'], form[method='POST']").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (form.dataset.sent === "1") { event.preventDefault(); return; }
        form.dataset.sent = "1";
        // Disable after the submit event, so the clicked button's name/value is still sent.
        window.setTimeout(function () {
          form.querySelectorAll("button[type='submit'], input[type='submit']").forEach(function (b) {
            b.setAttribute("aria-disabled", "true");
            b.disabled = true;
          });
        }, 0);
      });
    });
    // Coming back with the browser's back button re-enables the form.
    window.addEventListener("pageshow", function (event) {
      if (!event.persisted) { return; }
      document.querySelectorAll("form[data-sent='1']").forEach(function (form) {
        form.dataset.sent = "";
        form.querySelectorAll("button[disabled], input[type='submit'][disabled]").forEach(function (b) {
          b.disabled = false; b.removeAttribute("aria-disabled");
        });
      });
    });
  }

  function keepDrafts() {
    var storage;
    try { storage = window.sessionStorage; } catch (error) { return; }
    document.querySelectorAll("form[data-keep-draft]").forEach(function (form) {
      var key = "draft:" + location.pathname + ":" + form.dataset.keepDraft;
      var hasErrors = !!form.querySelector("[aria-invalid='true']");
      function keepable(field) {
        return field.name && field.name !== "csrfmiddlewaretoken" && field.name !== "once" &&
          field.type !== "password" && field.type !== "hidden" && field.type !== "submit" &&
          !field.hasAttribute("data-private") && !field.closest("[data-private]");
      }
      var saved = null;
      try { saved = JSON.parse(storage.getItem(key) || "null"); } catch (error) { saved = null; }
      // The server's copy wins when it re-renders the form with errors.
      if (saved && !hasErrors) {
        Array.prototype.forEach.call(form.elements, function (field) {
          if (!keepable(field) || !(field.name in saved)) { return; }
          if (field.type === "checkbox" || field.type === "radio") {
            if (form.querySelector("[name='" + field.name + "']:checked")) { return; }
            field.checked = saved[field.name].indexOf(field.value) !== -1;
          } else if (!field.value) {
            field.value = saved[field.name][0] || "";
          }
        });
      }
      function save() {
        var data = {};
        Array.prototype.forEach.call(form.elements, function (field) {
          if (!keepable(field)) { return; }
          data[field.name] = data[field.name] || [];
          if ((field.type === "checkbox" || field.type === "radio") && !field.checked) { return; }
          data[field.name].push(field.value);
        });
        try { storage.setItem(key, JSON.stringify(data)); } catch (error) { /* storage full or off */ }
      }
      form.addEventListener("input", save);
      form.addEventListener("change", save);
      form.addEventListener("submit", function () { storage.removeItem(key); });
    });
  }

  function focusErrorSummary() {
    var summary = document.querySelector(".error-summary");
    if (summary) { summary.focus(); }
  }

  document.addEventListener("DOMContentLoaded", function () {
    readAloud();
    sendOnce();
    keepDrafts();
    focusErrorSummary();
  });
}());
