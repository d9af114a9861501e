/* foldrag chat widget. Include it on any page:
 *   <script src="http://127.0.0.1:8000/widget.js" data-api-key="KEY" data-collection="docs"></script>
 * Attributes (all optional): data-api-key, data-collection, data-endpoint (default: where this
 * script came from), data-target (a CSS selector to render into; default: a floating box),
 * data-title. It streams answers from POST /v1/query and shows citations as clickable chips; the
 * header names the collection it asks, and a spinner shows the stage (retrieving, generating) until
 * the first words arrive. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) return;
  var cfg = {
    endpoint: (script.dataset.endpoint || new URL(script.src, location.href).origin).replace(/\/$/, ""),
    key: script.dataset.apiKey || "",
    collection: script.dataset.collection || null,
    title: script.dataset.title || "Ask your documents",
  };
  var target = script.dataset.target ? document.querySelector(script.dataset.target) : null;

  var css =
    ":host{all:initial;font:14px/1.45 system-ui,-apple-system,'Noto Sans KR',sans-serif;color:#1d232b}" +
    ".box{display:flex;flex-direction:column;width:100%;height:100%;min-height:360px;border:1px solid #d5dae1;" +
    "border-radius:12px;background:#fff;overflow:hidden;box-shadow:0 6px 24px rgba(0,0,0,.08)}" +
    ".floating{position:fixed;right:20px;bottom:20px;width:380px;height:540px;z-index:2147483000}" +
    "header{padding:10px 14px;background:#1f4e79;color:#fff;font-weight:600}" +
    ".log{flex:1;overflow-y:auto;padding:12px;display:flex;flex-direction:column;gap:10px}" +
    ".msg{max-width:88%;padding:8px 11px;border-radius:10px;white-space:pre-wrap;word-break:break-word}" +
    ".user{align-self:flex-end;background:#e7f0fa}.bot{align-self:flex-start;background:#f3f4f6}" +
    ".error{background:#fdecea;color:#8a1c14}.chips{display:flex;flex-wrap:wrap;gap:6px;margin-top:6px}" +
    ".chip{font:12px system-ui,sans-serif;border:1px solid #9fb3c8;background:#fff;color:#1f4e79;border-radius:999px;" +
    "padding:2px 9px;cursor:pointer}.chip[aria-expanded=true]{background:#1f4e79;color:#fff}" +
    ".snippet{font-size:12px;color:#444;border-left:3px solid #9fb3c8;padding:4px 8px;margin-top:6px;white-space:normal}" +
    "form{display:flex;gap:6px;padding:10px;border-top:1px solid #e5e7eb}" +
    "input{flex:1;font:inherit;padding:8px 10px;border:1px solid #c9d1db;border-radius:8px}" +
    "button.send{font:inherit;padding:8px 14px;border:0;border-radius:8px;background:#1f4e79;color:#fff;cursor:pointer}" +
    "button.send:disabled{opacity:.5;cursor:default}" +
    "header small{font-weight:400;opacity:.8;margin-left:6px}" +
    ".status{display:flex;align-items:center;gap:6px;font-size:12px;color:#555}" +
    ".spin{width:12px;height:12px;border:2px solid #c9d1db;border-top-color:#1f4e79;border-radius:50%;" +
    "animation:spin .8s linear infinite}@keyframes spin{to{transform:rotate(360deg)}}";

  var host = document.createElement("div");
  host.className = "foldrag-widget";
  (target || document.body).appendChild(host);
  var root = host.attachShadow({ mode: "open" });
  root.innerHTML =
    "<style>" + css + "</style>" +
    "<div class='box" + (target ? "" : " floating") + "' part='box'>" +
    "<header></header><div class='log' role='log' aria-live='polite'></div>" +
    "<form><input name='q' autocomplete='off' placeholder='Ask a question…' aria-label='Question'>" +
    "<button class='send' type='submit'>Send</button></form></div>";
  var header = root.querySelector("header");
  header.textContent = cfg.title;
  var where = document.createElement("small");
  where.textContent = "· " + (cfg.collection || "default collection");
  header.appendChild(where);

  var STAGES = { condensing: "Reading the conversation…", retrieving: "Searching the documents…",
                 generating: "Writing the answer…", quoting: "Quoting the sources…" };
  var log = root.querySelector(".log");
  var form = root.querySelector("form");
  var input = form.querySelector("input");
  var send = form.querySelector("button");
  var history = [];

  function bubble(kind, text) {
    var div = document.createElement("div");
    div.className = "msg " + kind;
    var body = document.createElement("div");
    body.className = "text";
    body.textContent = text || "";
    div.appendChild(body);
    log.appendChild(div);
    log.scrollTop = log.scrollHeight;
    return div;
  }

  function chips(div, citations) {
    if (!citations || !citations.length) return;
    var row = document.createElement("div");
    row.className = "chips";
    citations.forEach(function (c) {
      var chip = document.createElement("button");
      chip.type = "button";
      chip.className = "chip";
      chip.setAttribute("aria-expanded", "false");
      chip.textContent = "[" + c.n + "] " + c.source + (c.page ? " p." + c.page : "");
      chip.title = c.snippet || "";
      chip.addEventListener("click", function () {
        var open = div.querySelector(".snippet[data-n='" + c.n + "']");
        if (open) { open.remove(); chip.setAttribute("aria-expanded", "false"); return; }
        var snip = document.createElement("div");
        snip.className = "snippet";
        snip.dataset.n = String(c.n);
        snip.textContent = c.snippet || "";
        div.appendChild(snip);
        chip.setAttribute("aria-expanded", "true");
      });
      row.appendChild(chip);
    });
    div.appendChild(row);
  }

  // Server-Sent Events over a POST body: blocks split by a blank line, "event:" and "data:" lines.
  function parseBlock(block) {
    var event = "message", data = [];
    block.split(/\r?\n/).forEach(function (line) {
      if (line.indexOf("event:") === 0) event = line.slice(6).trim();
      else if (line.indexOf("data:") === 0) data.push(line.slice(5).replace(/^ /, ""));
    });
    return { event: event, data: data.length ? JSON.parse(data.join("\n")) : null };
  }

  async function ask(question) {
    bubble("user", question);
    var div = bubble("bot", "");
    var text = div.querySelector(".text");
    var status = document.createElement("div");
    status.className = "status";
    status.innerHTML = "<span class='spin' aria-hidden='true'></span><span class='stage'></span>";
    status.querySelector(".stage").textContent = "Sending…";
    div.insertBefore(status, text);
    function settled() { if (status.parentNode) status.remove(); }
    var headers = { "Content-Type": "application/json", Accept: "text/event-stream" };
    if (cfg.key) headers.Authorization = "Bearer " + cfg.key;
    var res;
    try {
      res = await fetch(cfg.endpoint + "/v1/query", {
        method: "POST", headers: headers,
        body: JSON.stringify({ question: question, collection: cfg.collection, history: history, stream: true }),
      });
    } catch (e) {
      settled(); div.classList.add("error"); text.textContent = "Cannot reach foldrag: " + e.message; return;
    }
    if (!res.ok) {
      var err = await res.json().catch(function () { return null; });
      settled();
      div.classList.add("error");
      text.textContent = (err && err.error && err.error.message) || ("HTTP " + res.status);
      return;
    }
    var reader = res.body.getReader(), decoder = new TextDecoder(), buffer = "";
    for (;;) {
      var step = await reader.read();
      if (step.done) break;
      buffer += decoder.decode(step.value, { stream: true });
      var parts = buffer.split(/\r?\n\r?\n/);
      buffer = parts.pop();
      parts.forEach(function (block) {
        if (!block.trim() || block.charAt(0) === ":") return;
        var ev = parseBlock(block);
        if (ev.event === "status") { status.querySelector(".stage").textContent = STAGES[ev.data.stage] || ev.data.stage; }
        else if (ev.event === "token") { settled(); text.textContent += ev.data.text; log.scrollTop = log.scrollHeight; }
        else if (ev.event === "done") {
          settled();
          text.textContent = ev.data.answer;
          chips(div, ev.data.citations);
          history.push({ role: "user", content: question }, { role: "assistant", content: ev.data.answer });
          if (history.length > 20) history = history.slice(-20);
        } else if (ev.event === "error") {
          settled();
          div.classList.add("error");
          text.textContent = ev.data.error.message;
        }
      });
    }
    settled();
  }

  form.addEventListener("submit", async function (e) {
    e.preventDefault();
    var q = input.value.trim();
    if (!q || send.disabled) return;
    input.value = "";
    send.disabled = true;
    try { await ask(q); } finally { send.disabled = false; input.focus(); }
  });
})();
