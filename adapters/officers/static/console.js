/* surveybot officers' console. Plain JavaScript, no dependencies, no build step.
 * Everything works without it; with it: the live numbers refresh themselves, the editor numbers
 * its lines and checks the draft as the officer types, and the preview opens beside the editor.
 */
(function () {
  "use strict";

  // -- live results ------------------------------------------------------------------------------
  var live = document.querySelector("[data-live-url]");
  if (live && window.fetch) {
    var region = document.getElementById("live-region");
    var status = document.getElementById("live-status");
    var toggle = document.getElementById("live-toggle");
    var url = live.getAttribute("data-live-url");
    var paused = false;
    var timer = null;
    var EVERY = 2000;

    var stampOf = function () {
      var body = region.querySelector(".live-body");
      return body ? body.getAttribute("data-stamp") : "";
    };
    var number = function (key) {
      var el = region.querySelector('[data-key="' + key + '"]');
      return el ? el.textContent : "";
    };
    var schedule = function () {
      clearTimeout(timer);
      if (!paused) {
        timer = setTimeout(poll, EVERY);
      }
    };
    var poll = function () {
      if (document.hidden) {
        schedule();
        return;
      }
      fetch(url, {
        credentials: "same-origin",
        headers: { "Accept": "text/html", "If-None-Match": '"' + stampOf() + '"' }
      }).then(function (response) {
        if (response.status === 401) {
          status.textContent = "You have been signed out: reload the page to sign in again.";
          paused = true;
          return null;
        }
        if (response.status !== 200) {
          return null;
        }
        return response.text();
      }).then(function (html) {
        // Never pull the page from under a keyboard user reading a table: the next poll
        // brings the update once focus has left the numbers.
        if (html && !region.contains(document.activeElement)) {
          var before = [number("started"), number("complete")];
          region.innerHTML = html;
          var after = [number("started"), number("complete")];
          if (before[0] !== after[0] || before[1] !== after[1]) {
            status.textContent = "Updated: " + after[0] + " started, " + after[1] + " completed.";
          }
        }
        schedule();
      }).catch(function () {
        schedule();
      });
    };
    toggle.hidden = false;
    toggle.addEventListener("click", function () {
      paused = !paused;
      toggle.setAttribute("aria-pressed", paused ? "true" : "false");
      toggle.textContent = paused ? "Resume live updates" : "Pause live updates";
      status.textContent = paused ? "Live updates paused." : "Live updates on.";
      if (!paused) {
        poll();
      } else {
        clearTimeout(timer);
      }
    });
    schedule();
  }

  // -- the editor --------------------------------------------------------------------------------
  var form = document.getElementById("editor-form");
  var area = document.getElementById("yaml");
  var gutter = document.getElementById("gutter");
  if (!form || !area || !gutter) {
    return;
  }
  var list = document.getElementById("problem-list");
  var summary = document.getElementById("problem-summary");
  var csrf = form.getAttribute("data-csrf");
  var marks = {};
  var checkTimer = null;
  var sent = 0;

  var lineCount = function () {
    var text = area.value;
    var n = text.split("\n").length;
    return text.length && text.charAt(text.length - 1) === "\n" ? n - 1 : n;
  };
  var drawGutter = function () {
    var n = Math.max(1, lineCount());
    var spans = gutter.children;
    while (spans.length > n) {
      gutter.removeChild(gutter.lastChild);
    }
    for (var i = spans.length + 1; i <= n; i++) {
      var span = document.createElement("span");
      span.className = "ln";
      span.setAttribute("data-line", String(i));
      span.textContent = String(i);
      gutter.appendChild(span);
    }
    for (var j = 0; j < spans.length; j++) {
      var line = j + 1;
      var mark = marks[line];
      spans[j].className = "ln" + (mark ? " ln-" + mark : "");
    }
    gutter.scrollTop = area.scrollTop;
  };
  var goTo = function (line, column) {
    var lines = area.value.split("\n");
    var at = 0;
    for (var i = 0; i < line - 1 && i < lines.length; i++) {
      at += lines[i].length + 1;
    }
    at += Math.max(0, Math.min((column || 1) - 1, (lines[line - 1] || "").length));
    area.focus();
    area.setSelectionRange(at, at);
    var lineHeight = parseFloat(window.getComputedStyle(area).lineHeight) || 20;
    area.scrollTop = Math.max(0, (line - 3) * lineHeight);
    gutter.scrollTop = area.scrollTop;
  };
  var showProblems = function (data) {
    marks = {};
    while (list.firstChild) {
      list.removeChild(list.firstChild);
    }
    data.problems.forEach(function (p) {
      if (p.line && marks[p.line] !== "error") {
        marks[p.line] = p.severity;
      }
      var item = document.createElement("li");
      item.className = "problem problem-" + p.severity;
      item.setAttribute("data-line", p.line || "");
      if (p.line) {
        var link = document.createElement("a");
        link.href = "#yaml";
        link.className = "goto";
        link.setAttribute("data-line", String(p.line));
        link.setAttribute("data-column", String(p.column || 1));
        link.textContent = "Line " + p.line + (p.column ? ", column " + p.column : "");
        item.appendChild(link);
      } else {
        var whole = document.createElement("span");
        whole.textContent = "Whole file";
        item.appendChild(whole);
      }
      item.appendChild(document.createTextNode(": "));
      var sev = document.createElement("strong");
      sev.textContent = p.severity;
      item.appendChild(sev);
      item.appendChild(document.createTextNode((p.question ? " [" + p.question + "]" : "") + ": " + p.message));
      if (p.hint) {
        var hint = document.createElement("span");
        hint.className = "hint";
        hint.textContent = " (" + p.hint + ")";
        item.appendChild(hint);
      }
      list.appendChild(item);
    });
    var errors = data.errors === 1 ? "1 error" : data.errors ? data.errors + " errors" : "No errors";
    var warnings = data.warnings === 1 ? "1 warning" : data.warnings + " warnings";
    summary.textContent = errors + ", " + warnings + ".";
    drawGutter();
  };
  var check = function () {
    var mine = ++sent;
    fetch(form.getAttribute("data-check-url"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ text: area.value })
    }).then(function (response) {
      return response.status === 200 ? response.json() : null;
    }).then(function (data) {
      if (data && mine === sent) {
        showProblems(data);
      }
    }).catch(function () { /* the Check button still works */ });
  };

  list.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest("a.goto") : null;
    if (link) {
      event.preventDefault();
      goTo(parseInt(link.getAttribute("data-line"), 10), parseInt(link.getAttribute("data-column"), 10));
    }
  });
  area.addEventListener("scroll", function () {
    gutter.scrollTop = area.scrollTop;
  });
  if (area.readOnly) {
    return;
  }
  area.addEventListener("input", function () {
    drawGutter();
    clearTimeout(checkTimer);
    checkTimer = setTimeout(check, 600);
  });

  var previewButton = document.getElementById("preview-button");
  var panel = document.getElementById("preview-panel");
  var frame = document.getElementById("preview-frame");
  if (previewButton && panel && frame && window.fetch) {
    previewButton.addEventListener("click", function (event) {
      event.preventDefault();
      fetch(form.getAttribute("data-draft-url"), {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify({ text: area.value, base: form.querySelector('input[name="base"]').value })
      }).then(function (response) {
        return response.status === 200 ? response.json() : null;
      }).then(function (data) {
        if (!data) {
          summary.textContent = "The preview could not be opened: try again.";
          return;
        }
        panel.hidden = false;
        frame.src = data.chat;
        panel.scrollIntoView({ block: "nearest" });
        frame.focus();
      });
    });
  }
}());
