/* surveybot web chat. Plain JavaScript, no dependencies, no build step.
 *
 * Talks to POST <endpoint> (JSON). Every message carries a message id made here and reused on a
 * retry, so the server answers it once however often it arrives, and the page's source and
 * language; a typed answer also says which question it answers (the server stores nothing until
 * the first answer, and then replays the start before it).
 */
(function () {
  "use strict";

  var root = document.getElementById("chat");
  if (!root || !window.fetch) {
    return;
  }
  var endpoint = root.getAttribute("data-endpoint");
  var source = root.getAttribute("data-source") || "";
  var askLang = root.getAttribute("data-lang") || "";
  var log = document.getElementById("log");
  var statusLine = document.getElementById("status");
  var choices = document.getElementById("choices");
  var finished = document.getElementById("finished");
  var form = document.getElementById("composer");
  var input = document.getElementById("answer");
  var sendButton = document.getElementById("send");

  form.hidden = false; // without JavaScript the page shows a note instead of a dead form

  var TRY_AGAIN = "Sorry, please try again in a minute.";
  var RETRY_SECONDS = [3, 5, 10, 20, 30, 60];
  var busy = false;
  var lang = "";
  var bubbles = 0;
  var asked = "";
  var retryTimer = null;
  var reduceMotion = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;

  function messageId() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") {
      return window.crypto.randomUUID();
    }
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = "";
    for (var i = 0; i < bytes.length; i++) {
      hex += (bytes[i] + 0x100).toString(16).slice(1);
    }
    return hex.slice(0, 8) + "-" + hex.slice(8, 12) + "-" + hex.slice(12, 16) + "-" +
      hex.slice(16, 20) + "-" + hex.slice(20);
  }

  function setStatus(text, isError) {
    statusLine.textContent = text || "";
    statusLine.className = isError ? "status status-error" : "status";
  }

  function addBubble(who, text, kind, question) {
    bubbles += 1;
    var item = document.createElement("div");
    item.id = "msg-" + bubbles;
    item.className = "msg msg-" + who + (kind ? " msg-" + kind : "");
    if (question) {
      item.setAttribute("data-question", question);
    }
    var speaker = document.createElement("span");
    speaker.className = "visually-hidden";
    speaker.textContent = who === "me" ? "You said: " : "Survey: ";
    var body = document.createElement("span");
    body.className = "msg-text";
    body.textContent = text;
    if (who === "bot" && lang) {
      body.setAttribute("lang", lang);
    }
    item.appendChild(speaker);
    item.appendChild(body);
    log.appendChild(item);
    return item;
  }

  function choiceLabel(choice, keysShown) {
    if (!choice.label) {
      return choice.key;
    }
    return keysShown ? choice.key + " - " + choice.label : choice.label;
  }

  function clearChoices() {
    choices.textContent = "";
    choices.hidden = true;
    choices.removeAttribute("data-question");
  }

  function renderChoices(reply, labelledBy) {
    clearChoices();
    // A scale with labels only at its ends reads better as "1 - Poor", "2", ... "5 - Excellent".
    var keysShown = reply.choices.some(function (c) { return !c.label; });
    var group = document.createElement(reply.multi ? "fieldset" : "div");
    group.className = reply.multi ? "choice-group multi" : "choice-group";
    if (reply.multi) {
      var legend = document.createElement("legend");
      legend.className = "visually-hidden";
      legend.textContent = "Choose all that apply, then press Send choices";
      group.appendChild(legend);
    } else {
      group.setAttribute("role", "group");
    }
    group.setAttribute("aria-labelledby", labelledBy);
    reply.choices.forEach(function (choice, i) {
      var text = choiceLabel(choice, keysShown);
      if (reply.multi) {
        var id = "pick-" + bubbles + "-" + i;
        var wrap = document.createElement("div");
        wrap.className = "check";
        var box = document.createElement("input");
        box.type = "checkbox";
        box.id = id;
        box.value = choice.value;
        box.setAttribute("data-label", text);
        var label = document.createElement("label");
        label.setAttribute("for", id);
        label.textContent = text;
        if (lang) {
          label.setAttribute("lang", lang);
        }
        wrap.appendChild(box);
        wrap.appendChild(label);
        group.appendChild(wrap);
      } else {
        var button = document.createElement("button");
        button.type = "button";
        button.className = "choice";
        button.textContent = text;
        if (lang) {
          button.setAttribute("lang", lang);
        }
        button.addEventListener("click", function () {
          if (busy) {
            return;
          }
          if (reply.question) {
            send({ button: { question: reply.question, value: choice.value }, id: messageId() }, text);
          } else {
            send({ text: choice.key, id: messageId() }, text);
          }
        });
        group.appendChild(button);
      }
    });
    if (reply.multi) {
      var go = document.createElement("button");
      go.type = "button";
      go.className = "send send-choices";
      go.textContent = "Send choices";
      go.addEventListener("click", function () {
        if (busy) {
          return;
        }
        var picked = Array.prototype.filter.call(
          group.querySelectorAll("input[type=checkbox]"), function (b) { return b.checked; });
        if (!picked.length) {
          setStatus("Please choose at least one, or type your answer.", true);
          return;
        }
        var values = picked.map(function (b) { return b.value; });
        var labels = picked.map(function (b) { return b.getAttribute("data-label"); });
        send({ button: { question: reply.question, value: values }, id: messageId() }, labels.join(", "));
      });
      group.appendChild(go);
    }
    choices.setAttribute("data-question", reply.question || "");
    choices.appendChild(group);
    choices.hidden = false;
  }

  function setBusy(value) {
    busy = value;
    log.setAttribute("aria-busy", value ? "true" : "false");
    sendButton.disabled = value;
    input.readOnly = value;
    Array.prototype.forEach.call(choices.querySelectorAll("button, input"), function (el) {
      el.disabled = value;
    });
  }

  function scrollToNew(first) {
    if (!first) {
      return;
    }
    var behaviour = reduceMotion ? "auto" : "smooth";
    var bottom = form.getBoundingClientRect().bottom;
    var top = first.getBoundingClientRect().top;
    if (bottom - top <= window.innerHeight) {
      form.scrollIntoView({ block: "end", behavior: behaviour });
    } else {
      first.scrollIntoView({ block: "start", behavior: behaviour });
    }
  }

  function render(data, moveFocus) {
    if (data.lang) {
      lang = data.lang;
    }
    var first = null;
    var asking = null;
    (data.replies || []).forEach(function (reply) {
      if (reply.question) {
        asked = reply.question;
      }
      var bubble = addBubble("bot", reply.text, reply.kind, reply.question);
      first = first || bubble;
      if (reply.choices && reply.choices.length) {
        asking = { reply: reply, id: bubble.id };
      } else if (reply.kind === "question" || reply.kind === "error") {
        asking = null;
      }
    });
    if (data.replies && data.replies.length) {
      if (asking && !data.done) {
        renderChoices(asking.reply, asking.id);
      } else {
        clearChoices();
      }
    }
    finished.hidden = !data.done;
    root.classList.toggle("is-done", !!data.done);
    scrollToNew(first);
    if (moveFocus) {
      // The first answer button, else the text box; at the end, the "finished" note (so a phone
      // does not pop its keyboard up for nothing, and a screen reader reads the note).
      var target = data.done ? finished : choices.hidden ? input : choices.querySelector("button, input");
      (target || input).focus({ preventScroll: true });
    }
  }

  function send(payload, echo, attempt, mine) {
    attempt = attempt || 0;
    if (attempt === 0 && echo) {
      mine = addBubble("me", echo);
    }
    setBusy(true);
    if (attempt === 0 && payload.start && !bubbles) {
      setStatus("Loading...", false);
    }
    fetch(endpoint, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(withPage(payload))
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        return { status: response.status, data: data };
      });
    }).then(function (result) {
      if (result.status === 200) {
        setBusy(false);
        setStatus("", false);
        if (result.data.duplicate && !(result.data.replies || []).length) {
          // Answered already (a retry after a lost response): show where we are now.
          send(startPayload(), null);
          return;
        }
        render(result.data, !payload.start || attempt > 0);
        return;
      }
      if (result.status >= 500 || result.status === 429) {
        // Down for a moment, or busy (too many people starting at once): try again later.
        retry(payload, echo, attempt, mine, result.data && result.data.message);
        return;
      }
      // Not accepted (and not worth retrying): take back their bubble and say why.
      if (mine && mine.parentNode) {
        mine.parentNode.removeChild(mine);
      }
      setBusy(false);
      setStatus((result.data && result.data.message) || "Sorry, that could not be sent.", true);
      if (payload.text && !input.value) {
        input.value = payload.text;
      }
      input.focus();
    }).catch(function () {
      retry(payload, echo, attempt, mine);
    });
  }

  function retry(payload, echo, attempt, mine, message) {
    var wait = RETRY_SECONDS[Math.min(attempt, RETRY_SECONDS.length - 1)];
    setStatus((message || TRY_AGAIN) + " Trying again in " + wait + " seconds.", true);
    clearTimeout(retryTimer);
    retryTimer = setTimeout(function () {
      send(payload, echo, attempt + 1, mine);
    }, wait * 1000);
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (busy) {
      return;
    }
    var text = input.value.trim();
    if (!text) {
      setStatus("Please type an answer first.", true);
      input.focus();
      return;
    }
    input.value = "";
    var payload = { text: text, id: messageId() };
    if (asked) {
      payload.question = asked;
    }
    send(payload, text);
  });

  function withPage(payload) {
    // The page's source and language go with every message (a first answer replays the start).
    if (source) {
      payload.source = source;
    }
    if (askLang) {
      payload.lang = askLang;
    }
    return payload;
  }

  function startPayload() {
    return { start: true, id: messageId() };
  }

  send(startPayload(), null);
}());
