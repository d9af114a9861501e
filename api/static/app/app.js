/* foldrag web app: conversations, a streaming chat with citation chips, the source pane (a PDF page
 * with the chunk's boxes stored at ingest, or the text as indexed), and collections with uploads.
 * Plain browser JavaScript, no build step; Markdown by marked, sanitised by DOMPurify (vendor/). */
(function () {
  "use strict";
  var I = window.foldragI18n;
  var t = I.t;
  var $ = function (sel) { return document.querySelector(sel); };

  var state = {
    key: "", collections: [], conversation: null, conversations: [], busy: null,
    source: null, // {passage, citation, page}
  };

  // ---- the API ---------------------------------------------------------------------------------

  function headers(extra) {
    var h = Object.assign({}, extra || {});
    if (state.key) h.Authorization = "Bearer " + state.key;
    return h;
  }

  function ApiError(status, type, message) {
    this.status = status; this.type = type; this.message = message;
  }

  async function api(method, path, body) {
    var init = { method: method, headers: headers(body !== undefined ? { "Content-Type": "application/json" } : {}) };
    if (body !== undefined) init.body = JSON.stringify(body);
    var res = await fetch(path, init);
    var data = null;
    try { data = await res.json(); } catch (e) { data = null; }
    if (!res.ok) {
      var err = (data && data.error) || {};
      throw new ApiError(res.status, err.type || "error", explain(res.status, err));
    }
    return data;
  }

  function explain(status, err) {
    if (status === 401) return t("needKey");
    if (status === 403 && /query_keys/.test(err.message || "")) return t("queryKeyOnly");
    return err.message || ("HTTP " + status);
  }

  function collectionParam(name) { return "collection=" + encodeURIComponent(name); }

  // ---- words on the page -----------------------------------------------------------------------

  function applyWords() {
    document.documentElement.lang = I.lang();
    document.querySelectorAll("[data-t]").forEach(function (el) { el.textContent = t(el.dataset.t); });
    $("#question").placeholder = t("placeholder");
    $("#new-name").placeholder = t("newName");
    $("#new-path").placeholder = t("newPath");
    $("#lang").value = I.lang();
    renderConversations();
    if (!$("#collections-view").hidden) renderCollections();
  }

  // ---- conversations ---------------------------------------------------------------------------

  async function loadConversations() {
    try {
      state.conversations = (await api("GET", "/v1/conversations")).conversations;
    } catch (e) {
      state.conversations = [];
    }
    renderConversations();
  }

  function renderConversations() {
    var list = $("#conversations");
    list.textContent = "";
    state.conversations.forEach(function (c) {
      var li = document.createElement("li");
      li.dataset.id = c.id;
      if (state.conversation && state.conversation.id === c.id) li.className = "active";
      var open = document.createElement("button");
      open.className = "title";
      open.textContent = c.title || t("untitled");
      open.title = c.title || "";
      open.addEventListener("click", function () { openConversation(c.id); });
      var rename = iconButton("✎", t("rename"), async function () {
        var title = prompt(t("renamePrompt"), c.title || "");
        if (title === null) return;
        await api("PATCH", "/v1/conversations/" + c.id, { title: title });
        await loadConversations();
      });
      var del = iconButton("✕", t("delete"), async function () {
        if (!confirm(t("confirmDelete", c.title || t("untitled")))) return;
        await api("DELETE", "/v1/conversations/" + c.id);
        if (state.conversation && state.conversation.id === c.id) newChat();
        await loadConversations();
      });
      li.append(open, rename, del);
      list.appendChild(li);
    });
  }

  function iconButton(text, label, onClick) {
    var b = document.createElement("button");
    b.className = "icon"; b.textContent = text; b.title = label; b.setAttribute("aria-label", label);
    b.addEventListener("click", function (e) { e.stopPropagation(); onClick().catch(showError); });
    return b;
  }

  function newChat() {
    state.conversation = null;
    $("#messages").textContent = "";
    emptyNote();
    closeSource();
    renderConversations();
    showView("chat");
    $("#question").focus();
  }

  function emptyNote() {
    var p = document.createElement("p");
    p.className = "muted empty"; p.textContent = t("empty");
    $("#messages").appendChild(p);
  }

  async function openConversation(id) {
    var c = await api("GET", "/v1/conversations/" + id);
    state.conversation = c;
    showView("chat");
    closeSource();
    if (c.collections && c.collections[0]) $("#collection").value = c.collections[0];
    renderAlso((c.collections || []).slice(1));
    var box = $("#messages");
    box.textContent = "";
    c.messages.forEach(function (m) {
      if (m.role === "user") addUser(m.content);
      else {
        var view = addAssistant(m.answer && m.answer.collection);
        view.finish(m.answer || { answer: m.content, citations: [], sources: [] }, m.status);
      }
    });
    renderConversations();
    box.scrollTop = box.scrollHeight;
  }

  // ---- chat ------------------------------------------------------------------------------------

  function addUser(text) {
    var empty = $("#messages .empty");
    if (empty) empty.remove();
    var div = document.createElement("div");
    div.className = "msg user"; div.textContent = text;
    $("#messages").appendChild(div);
    return div;
  }

  function markdown(text) {
    var html = window.marked.parse(text || "", { gfm: true, breaks: true });
    return window.DOMPurify.sanitize(html, { USE_PROFILES: { html: true } });
  }

  /* An assistant message: the stage while it waits, the text as it streams, then chips. */
  function addAssistant(collection) {
    var div = document.createElement("div");
    div.className = "msg assistant";
    var stage = document.createElement("div"); stage.className = "stage";
    var body = document.createElement("div"); body.className = "body";
    var meta = document.createElement("div"); meta.className = "meta";
    div.append(stage, body, meta);
    $("#messages").appendChild(div);
    var text = "", sources = [], pending = false, cited = null; // cited: the final answer's citations

    function draw() {
      pending = false;
      body.innerHTML = markdown(text);
      chips(body, cited ? cited.concat(sources) : sources, collection);
      var log = $("#messages");
      log.scrollTop = log.scrollHeight;
    }

    return {
      element: div,
      stage: function (name) {
        stage.textContent = "";
        var spin = document.createElement("span"); spin.className = "spin";
        var label = document.createElement("span"); label.textContent = t("stage_" + name);
        stage.append(spin, label);
      },
      sources: function (list) { sources = list; },
      token: function (piece) {
        if (stage.firstChild) stage.textContent = "";
        text += piece;
        if (!pending) { pending = true; requestAnimationFrame(draw); }
      },
      finish: function (answer, status) {
        stage.textContent = "";
        sources = answer.sources || sources;
        text = answer.answer || text;
        cited = answer.citations || [];
        draw();
        div.dataset.text = text; // the answer as the server wrote it: what a follow-up sends back as history
        div.dataset.status = status || "done";
        if (status === "stopped" || status === "failed") {
          var note = document.createElement("div"); note.className = "note";
          note.textContent = status === "stopped" ? t("stopped") : t("failed", answer.error || "");
          div.appendChild(note);
        }
        if (answer.model || answer.engine) {
          var total = answer.timings && answer.timings.total_s;
          meta.textContent = t("answeredBy", answer.model || "", answer.engine || "",
                               total === undefined ? "–" : total.toFixed(1));
        }
      },
      fail: function (message) {
        stage.textContent = "";
        var note = document.createElement("div"); note.className = "note"; note.textContent = message;
        div.appendChild(note);
        div.dataset.status = "failed";
      }
    };
  }

  /* Every [n] in the rendered answer becomes a chip for citation n (text nodes only, after sanitising). */
  function chips(root, citations, collection) {
    var byN = {};
    citations.forEach(function (c) { if (!byN[c.n]) byN[c.n] = c; });
    var walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    var nodes = [];
    while (walker.nextNode()) nodes.push(walker.currentNode);
    nodes.forEach(function (node) {
      if (!/\[\d{1,3}\]/.test(node.nodeValue)) return;
      var frag = document.createDocumentFragment();
      node.nodeValue.split(/(\[\d{1,3}\])/).forEach(function (part) {
        var m = /^\[(\d{1,3})\]$/.exec(part);
        var c = m && byN[+m[1]];
        if (!c) { frag.appendChild(document.createTextNode(part)); return; }
        var chip = document.createElement("button");
        chip.type = "button"; chip.className = "chip"; chip.textContent = m[1];
        chip.dataset.n = m[1]; chip.dataset.chunk = c.chunk_id;
        chip.setAttribute("aria-label", c.source + (c.page ? " p." + c.page : ""));
        chip.addEventListener("mouseenter", function () { showTip(chip, c); });
        chip.addEventListener("mouseleave", hideTip);
        chip.addEventListener("focus", function () { showTip(chip, c); });
        chip.addEventListener("blur", hideTip);
        chip.addEventListener("click", function () {
          document.querySelectorAll(".chip.open").forEach(function (x) { x.classList.remove("open"); });
          chip.classList.add("open");
          openSource(c, c.collection || collection || $("#collection").value).catch(showError);
        });
        frag.appendChild(chip);
      });
      node.parentNode.replaceChild(frag, node);
    });
  }

  function showTip(anchor, c) {
    var tip = $("#tip");
    tip.textContent = "";
    var file = document.createElement("div"); file.className = "file";
    file.textContent = c.source + (c.page ? " · p." + c.page : "");
    var snip = document.createElement("div"); snip.className = "snip"; snip.textContent = c.snippet;
    tip.append(file, snip);
    (c.signals || []).forEach(function (s) {
      var line = document.createElement("div"); line.className = "sig";
      var name = s.name === "fused" ? t("fused") : s.name === "rerank" ? t("rerank") : s.name;
      line.textContent = name + " #" + s.rank + " · " + Number(s.score).toFixed(4);
      tip.appendChild(line);
    });
    tip.hidden = false;
    var r = anchor.getBoundingClientRect();
    var top = r.bottom + 6;
    tip.style.left = Math.min(r.left, window.innerWidth - tip.offsetWidth - 8) + "px";
    if (top + tip.offsetHeight > window.innerHeight) top = r.top - tip.offsetHeight - 6;
    tip.style.top = top + "px";
  }

  function hideTip() { $("#tip").hidden = true; }

  function setBusy(controller) {
    state.busy = controller;
    $("#send").hidden = !!controller;
    $("#stop").hidden = !controller;
  }

  /* The collections a question goes to: the one picked, and those ticked beside it. */
  function askedCollections() {
    var first = $("#collection").value;
    var more = Array.prototype.map.call(document.querySelectorAll("#also input:checked"), function (x) { return x.value; });
    return [first].concat(more.filter(function (n) { return n !== first; }));
  }

  function renderAlso(checked) {
    var box = $("#also");
    box.textContent = "";
    var others = state.collections.filter(function (c) { return c.name !== $("#collection").value; });
    if (!others.length) return;
    var label = document.createElement("span"); label.textContent = t("also"); box.appendChild(label);
    others.forEach(function (c) {
      var l = document.createElement("label");
      var input = document.createElement("input"); input.type = "checkbox"; input.value = c.name;
      input.checked = (checked || []).indexOf(c.name) >= 0;
      l.append(input, c.name);
      box.appendChild(l);
    });
  }

  async function ask(question) {
    var asked = askedCollections();
    var collection = asked[0];
    if (!state.conversation) {
      state.conversation = await api("POST", "/v1/conversations", { title: "", collections: asked });
    }
    addUser(question);
    var view = addAssistant(collection);
    view.stage("retrieving");
    var controller = new AbortController();
    setBusy(controller);
    var history = historyOf(view.element);
    try {
      var res = await fetch("/v1/query", {
        method: "POST", signal: controller.signal,
        headers: headers({ "Content-Type": "application/json", Accept: "text/event-stream" }),
        body: JSON.stringify({ question: question, collections: asked, mode: $("#mode").value, stream: true,
                               conversation: state.conversation.id, history: history })
      });
      if (!res.ok) {
        var data = null;
        try { data = await res.json(); } catch (e) { data = null; }
        view.fail(explain(res.status, (data && data.error) || {}));
        return;
      }
      await readEvents(res.body, function (kind, data) {
        if (kind === "status") view.stage(data.stage);
        else if (kind === "sources") view.sources(data.sources);
        else if (kind === "token") view.token(data.text);
        else if (kind === "done") {
          view.finish(Object.assign({}, data, { sources: data.sources || null }), "done");
          if (data.model || data.engine) $("#model-info").textContent = t("answering", data.model, data.engine);
        }
        else if (kind === "error") view.fail(t("failed", (data.error && data.error.message) || ""));
      });
    } catch (e) {
      if (e.name === "AbortError") view.finish({ answer: "", citations: [] }, "stopped");
      else view.fail(t("failed", e.message || String(e)));
    } finally {
      setBusy(null);
      loadConversations();
    }
  }

  function historyOf(current) {
    var turns = [];
    document.querySelectorAll("#messages .msg").forEach(function (el) {
      if (el === current || el.dataset.status === "failed" || el.dataset.status === "stopped") return;
      var text = el.classList.contains("user") ? el.textContent
        : el.dataset.text !== undefined ? el.dataset.text : (el.querySelector(".body") || el).textContent;
      if (text.trim()) turns.push({ role: el.classList.contains("user") ? "user" : "assistant", content: text });
    });
    turns.pop(); // the question just added is the question, not history
    return turns.slice(-10);
  }

  /* Server-Sent Events from a fetch body (EventSource cannot POST nor send a key). */
  async function readEvents(stream, onEvent) {
    var reader = stream.getReader();
    var decoder = new TextDecoder();
    var buffer = "";
    for (;;) {
      var step = await reader.read();
      if (step.done) break;
      buffer += decoder.decode(step.value, { stream: true }).replace(/\r\n/g, "\n");
      var cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        var block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        var kind = "message", data = [];
        block.split("\n").forEach(function (line) {
          if (line.indexOf("event:") === 0) kind = line.slice(6).trim();
          else if (line.indexOf("data:") === 0) data.push(line.slice(5).replace(/^ /, ""));
        });
        if (data.length) onEvent(kind, JSON.parse(data.join("\n")));
      }
    }
  }

  // ---- the source pane -------------------------------------------------------------------------

  function closeSource() {
    state.source = null;
    $("#source").hidden = true;
    document.querySelectorAll(".chip.open").forEach(function (x) { x.classList.remove("open"); });
  }

  async function openSource(citation, collection) {
    var pane = $("#source");
    pane.hidden = false;
    $("#source-title").textContent = citation.source + (citation.page ? " · p." + citation.page : "");
    var note = $("#source-note");
    note.hidden = true;
    var passage = null;
    try {
      passage = await api("GET", "/v1/passages/" + citation.chunk_id + "?" + collectionParam(collection));
    } catch (e) {
      if (e.status !== 404) throw e;
    }
    if (!passage) { // re-ingested since: the answer's own snippet is what is left
      note.textContent = t("goneFromIndex"); note.hidden = false;
      var body = $("#source-body"); body.textContent = "";
      var p = document.createElement("p"); p.textContent = citation.snippet; body.appendChild(p);
      pageControls(null);
      return;
    }
    var spans = (citation.spans && citation.spans.length ? citation.spans : passage.spans) || [];
    // open at the page of the sentence that supports the answer, else where the chunk starts
    var support = citation.support && spans.find(function (sp) {
      return sp.start === citation.support[0] && sp.end === citation.support[1];
    });
    var page = support && support.boxes.length ? support.boxes[0].page : (citation.page || passage.page || 1);
    state.source = { passage: passage, citation: citation, collection: collection, spans: spans, page: page };
    var doc = passage.document;
    if (doc.status !== "same") {
      note.textContent = t({ changed: "changed", missing: "missing" }[doc.status] || "textOnly");
      note.hidden = false;
    }
    else if (passage.ocr) { note.textContent = t("ocrNote"); note.hidden = false; }
    if (doc.view === "page") await showPage(state.source.page);
    else await showText();
  }

  function pageControls(doc) {
    var paged = doc && doc.view === "page";
    $("#prev-page").hidden = $("#next-page").hidden = !paged;
    $("#page-no").textContent = paged ? t("page", state.source.page, doc.pages) : "";
    if (paged) {
      $("#prev-page").disabled = state.source.page <= 1;
      $("#next-page").disabled = state.source.page >= doc.pages;
    }
  }

  async function showPage(page) {
    var src = state.source;
    src.page = page;
    var doc = src.passage.document;
    pageControls(doc);
    var body = $("#source-body");
    var width = Math.min(2400, Math.round((body.clientWidth - 24) * (window.devicePixelRatio || 1)));
    var res = await fetch("/v1/documents/" + doc.id + "/pages/" + page + "?width=" + Math.max(200, width) + "&" +
                          collectionParam(src.collection), { headers: headers() });
    if (!res.ok) throw new ApiError(res.status, "error", "HTTP " + res.status);
    var url = URL.createObjectURL(await res.blob());
    var frame = document.createElement("div"); frame.className = "page"; frame.dataset.page = page;
    var img = document.createElement("img"); img.alt = doc.source + " p." + page;
    await new Promise(function (resolve, reject) { img.onload = resolve; img.onerror = reject; img.src = url; });
    frame.appendChild(img);
    var support = src.citation.support;
    var first = null;
    src.spans.forEach(function (span) {
      var strong = support && span.start === support[0] && span.end === support[1];
      (span.boxes || []).forEach(function (pb) {
        if (pb.page !== page) return;
        pb.boxes.forEach(function (b) {
          var hl = document.createElement("div");
          hl.className = "hl" + (strong ? " support" : "");
          hl.style.left = (100 * b[0] / pb.width) + "%";
          hl.style.top = (100 * b[1] / pb.height) + "%";
          hl.style.width = (100 * (b[2] - b[0]) / pb.width) + "%";
          hl.style.height = (100 * (b[3] - b[1]) / pb.height) + "%";
          frame.appendChild(hl);
          if (!first) first = hl;
        });
      });
    });
    body.textContent = "";
    body.appendChild(frame);
    if (first) first.scrollIntoView({ block: "center" });
    document.dispatchEvent(new CustomEvent("foldrag:page-shown", { detail: { page: page } }));
  }

  async function showText() {
    var src = state.source;
    pageControls(null);
    var doc = src.passage.document;
    var data = await api("GET", "/v1/documents/" + doc.id + "/text?" + collectionParam(src.collection));
    var body = $("#source-body");
    body.textContent = "";
    var view = document.createElement("div"); view.className = "text-view";
    var target = null;
    var support = src.citation.support;
    var placed = data.chunks.find(function (c) { return c.id === src.passage.id; });
    data.sections.forEach(function (section, index) {
      var sec = document.createElement("section");
      if (section.page) {
        var h = document.createElement("h4"); h.textContent = "p. " + section.page; sec.appendChild(h);
      }
      var here = placed && placed.section === index;
      var s = here ? placed.start : -1, e = here ? placed.end : -1;
      var a = here && support ? s + support[0] : -1, b = here && support ? s + support[1] : -1;
      var first = renderText(sec, section.text, [s, e], [a, b]);
      if (first && !target) target = first;
      view.appendChild(sec);
    });
    body.appendChild(view);
    if (target) target.scrollIntoView({ block: "center" });
  }

  var TABLE_ROW = /^\s*\|/, TABLE_RULE = /^\s*\|[\s|:-]*$/;

  /* A section's text into ``into``: paragraphs as text, Markdown tables as tables; the characters in
   * ``chunk`` ([start, end)) marked, those in ``support`` marked more strongly. The first mark. */
  function renderText(into, text, chunk, support) {
    var lines = text.split("\n"), pos = 0, i = 0, first = null;
    function inside(range, lo, hi) { return lo < range[1] && hi > range[0]; }
    while (i < lines.length) {
      if (TABLE_ROW.test(lines[i])) {
        var table = document.createElement("table");
        for (; i < lines.length && TABLE_ROW.test(lines[i]); pos += lines[i].length + 1, i++) {
          var line = lines[i];
          if (TABLE_RULE.test(line)) continue;
          var tr = document.createElement("tr"), at = line.indexOf("|") + 1, next;
          while ((next = line.indexOf("|", at)) >= 0) {
            var cell = document.createElement(table.rows.length === 0 ? "th" : "td");
            cell.textContent = line.slice(at, next).trim();
            if (inside(chunk, pos + at, pos + next)) { cell.className = "in"; first = first || cell; }
            if (inside(support, pos + at, pos + next)) cell.className += " support";
            tr.appendChild(cell);
            at = next + 1;
          }
          table.appendChild(tr);
        }
        into.appendChild(table);
        continue;
      }
      var from = pos;
      for (; i < lines.length && !TABLE_ROW.test(lines[i]); i++) pos += lines[i].length + 1;
      var div = document.createElement("div"); div.className = "text";
      var cuts = [from, Math.min(pos, text.length)];
      chunk.concat(support).forEach(function (c) { if (c > from && c < cuts[1]) cuts.push(c); });
      cuts.sort(function (x, y) { return x - y; });
      for (var k = 0; k + 1 < cuts.length; k++) {
        var lo = cuts[k], hi = cuts[k + 1];
        if (hi <= lo) continue;
        var piece = text.slice(lo, hi);
        if (inside(chunk, lo, hi)) {
          var mark = document.createElement("mark");
          if (inside(support, lo, hi)) mark.className = "support";
          mark.textContent = piece;
          div.appendChild(mark);
          first = first || mark;
        } else {
          div.appendChild(document.createTextNode(piece));
        }
      }
      into.appendChild(div);
    }
    return first;
  }

  // ---- collections -----------------------------------------------------------------------------

  async function loadCollections() {
    state.collections = (await api("GET", "/v1/collections")).collections;
    var select = $("#collection");
    var before = select.value;
    select.textContent = "";
    state.collections.forEach(function (c) {
      var o = document.createElement("option"); o.value = c.name; o.textContent = c.name; select.appendChild(o);
    });
    if (before) select.value = before;
    renderAlso(askedCollections().slice(1));
    var first = state.collections[0];
    if (first && first.answering) $("#model-info").textContent = t("answering", first.answering.model, first.answering.backend);
  }

  function bytes(n) {
    if (n < 1024) return n + " B";
    if (n < 1024 * 1024) return (n / 1024).toFixed(1) + " KB";
    return (n / 1024 / 1024).toFixed(1) + " MB";
  }

  function renderCollections() {
    var list = $("#collection-list");
    list.textContent = "";
    state.collections.forEach(function (c) {
      var card = document.createElement("div");
      card.className = "card" + (state.selected === c.name ? " active" : "");
      card.tabIndex = 0;
      var h = document.createElement("h3"); h.textContent = c.name;
      var p = document.createElement("div"); p.className = "muted";
      p.textContent = c.indexed ? t("documents", c.documents, c.chunks) : t("notIndexed");
      card.append(h, p);
      card.addEventListener("click", function () { selectCollection(c.name).catch(showError); });
      list.appendChild(card);
    });
  }

  async function selectCollection(name) {
    state.selected = name;
    renderCollections();
    var c = state.collections.find(function (x) { return x.name === name; });
    var inv = await api("GET", "/v1/inventory?" + collectionParam(name));
    $("#collection-detail").hidden = false;
    $("#detail-name").textContent = name;
    var meta = [t("documents", c.documents, c.chunks), t("embedder", c.embedder)];
    if (c.answering) meta.push(t("answering", c.answering.model, c.answering.backend));
    if (inv.last_ingest) meta.push(t("lastIngest", new Date(inv.last_ingest * 1000).toLocaleString(I.lang())));
    $("#detail-meta").textContent = meta.join(" · ");
    $("#reingest").hidden = !inv.folder;
    $("#delete-collection").hidden = !c.removable;
    $("#reingest").dataset.folder = inv.folder || "";
    var tbody = $("#files tbody");
    tbody.textContent = "";
    inv.documents.forEach(function (d) {
      var tr = document.createElement("tr");
      [d.source, d.chunks, d.ocr_pages || "", bytes(d.size)].forEach(function (v) {
        var td = document.createElement("td"); td.textContent = v; tr.appendChild(td);
      });
      var td = document.createElement("td");
      td.appendChild(iconButton("✕", t("delete"), async function () {
        if (!confirm(t("confirmDelete", d.source))) return;
        await api("DELETE", "/v1/documents/" + d.id + "?" + collectionParam(name));
        await refreshCollection(name);
      }));
      tr.appendChild(td);
      tbody.appendChild(tr);
    });
    var skipped = $("#skipped");
    skipped.textContent = "";
    (inv.skipped.length ? inv.skipped : [null]).forEach(function (f) {
      var li = document.createElement("li");
      if (!f) { li.textContent = t("none"); }
      else {
        var why = document.createElement("span"); why.className = "why"; why.textContent = f.reason;
        li.append(f.path + " — ", why);
      }
      skipped.appendChild(li);
    });
  }

  async function refreshCollection(name) {
    await loadCollections();
    await selectCollection(name);
  }

  function showView(which) {
    $("#chat-view").hidden = which !== "chat";
    $("#collections-view").hidden = which !== "collections";
    if (which === "collections") {
      closeSource();
      renderCollections();
      if (!state.selected && state.collections[0]) selectCollection(state.collections[0].name).catch(showError);
    }
  }

  // ---- uploads ---------------------------------------------------------------------------------

  /* Files of a drop, folders walked (webkitGetAsEntry), each with its name. */
  async function droppedFiles(dataTransfer) {
    var items = Array.prototype.slice.call(dataTransfer.items || []);
    var entries = items.map(function (i) { return i.webkitGetAsEntry && i.webkitGetAsEntry(); }).filter(Boolean);
    if (!entries.length) return Array.prototype.slice.call(dataTransfer.files || []);
    var out = [];
    async function walk(entry) {
      if (entry.isFile) {
        out.push(await new Promise(function (ok, bad) { entry.file(ok, bad); }));
      } else if (entry.isDirectory) {
        var reader = entry.createReader();
        for (;;) {
          var batch = await new Promise(function (ok, bad) { reader.readEntries(ok, bad); });
          if (!batch.length) break;
          for (var i = 0; i < batch.length; i++) await walk(batch[i]);
        }
      }
    }
    for (var i = 0; i < entries.length; i++) await walk(entries[i]);
    return out;
  }

  function uploadOne(file, collection, row) {
    return new Promise(function (resolve) {
      var xhr = new XMLHttpRequest();
      xhr.open("PUT", "/v1/uploads/" + encodeURIComponent(file.name) + "?" + collectionParam(collection));
      if (state.key) xhr.setRequestHeader("Authorization", "Bearer " + state.key);
      xhr.upload.onprogress = function (e) { if (e.lengthComputable) row.bar.value = e.loaded / e.total; };
      xhr.onload = function () {
        if (xhr.status >= 200 && xhr.status < 300) {
          row.bar.value = 1; row.state.textContent = t("uploaded"); resolve(file.name);
        } else {
          var message = "HTTP " + xhr.status;
          try { message = explain(xhr.status, JSON.parse(xhr.responseText).error || {}); } catch (e) { /* not JSON */ }
          row.li.classList.add("failed"); row.state.textContent = t("uploadFailed"); row.li.title = message;
          row.name.textContent = file.name + " — " + message;
          resolve(null);
        }
      };
      xhr.onerror = function () { row.li.classList.add("failed"); row.state.textContent = t("uploadFailed"); resolve(null); };
      xhr.send(file);
    });
  }

  async function upload(files) {
    var collection = state.selected;
    if (!collection || !files.length) return;
    var list = $("#uploads");
    list.textContent = "";
    var rows = files.map(function (file) {
      var li = document.createElement("li");
      var name = document.createElement("span"); name.textContent = file.name;
      var bar = document.createElement("progress"); bar.max = 1; bar.value = 0;
      var st = document.createElement("span"); st.className = "state"; st.textContent = t("uploading");
      li.append(name, bar, st); list.appendChild(li);
      return { li: li, name: name, bar: bar, state: st };
    });
    var names = [];
    for (var i = 0; i < files.length; i++) {
      var kept = await uploadOne(files[i], collection, rows[i]);
      if (kept) names.push(kept);
    }
    if (!names.length) return;
    var job = await api("POST", "/v1/uploads/ingest", { collection: collection, names: names });
    await followJob(job, collection);
  }

  async function followJob(job, collection) {
    var box = $("#job");
    box.hidden = false;
    for (;;) {
      box.textContent = jobLine(job);
      if (job.status === "done" || job.status === "failed") break;
      await new Promise(function (ok) { setTimeout(ok, 400); });
      job = await api("GET", "/v1/jobs/" + job.id);
    }
    (job.failures || []).forEach(function (f) {
      var div = document.createElement("div"); div.className = "fail";
      div.textContent = t("jobFailures", f.path + ": " + f.reason);
      box.appendChild(div);
    });
    await refreshCollection(collection);
  }

  function jobLine(job) {
    if (job.status === "queued") return t("jobQueued");
    if (job.status === "failed") return t("jobFailed", (job.error && job.error.message) || "");
    if (job.status === "done") {
      var s = job.summary || {};
      return t("jobDone", s.added || 0, s.updated || 0, s.chunks || 0, (s.seconds || 0).toFixed(1));
    }
    var rate = job.elapsed_s > 0 ? job.chunks_written / job.elapsed_s : 0;
    var perFile = job.files_done > 0 ? job.elapsed_s / job.files_done : 0;
    var eta = perFile ? Math.round(perFile * (job.files_total - job.files_done)) + " s" : "–";
    return t("jobRunning", job.files_done, job.files_total, job.chunks_written, rate.toFixed(1), eta) +
      (job.working ? " · " + job.working : "");
  }

  // ---- errors and wiring -----------------------------------------------------------------------

  function showError(e) {
    var div = document.createElement("div");
    div.className = "msg assistant"; div.dataset.status = "failed";
    var note = document.createElement("div"); note.className = "note";
    note.textContent = (e && e.message) || String(e);
    div.appendChild(note);
    ($("#collections-view").hidden ? $("#messages") : $("#job")).appendChild(div);
    if (!$("#collections-view").hidden) $("#job").hidden = false;
  }

  function wire() {
    var composing = false;
    var q = $("#question");
    q.addEventListener("compositionstart", function () { composing = true; });
    q.addEventListener("compositionend", function () { composing = false; });
    q.addEventListener("keydown", function (e) {
      if (e.key !== "Enter" || e.shiftKey) return;
      // Enter that ends a Hangul syllable's composition is the IME's, not a send.
      if (e.isComposing || composing || e.keyCode === 229) return;
      e.preventDefault();
      $("#composer").requestSubmit();
    });
    $("#composer").addEventListener("submit", function (e) {
      e.preventDefault();
      var text = q.value.trim();
      if (!text || state.busy) return;
      q.value = "";
      ask(text).catch(showError);
    });
    $("#stop").addEventListener("click", function () { if (state.busy) state.busy.abort(); });
    $("#collection").addEventListener("change", function () { renderAlso(askedCollections().slice(1)); });
    $("#new-chat").addEventListener("click", newChat);
    $("#open-collections").addEventListener("click", function () { showView("collections"); });
    $("#back-to-chat").addEventListener("click", function () { showView("chat"); });
    $("#close-source").addEventListener("click", closeSource);
    $("#prev-page").addEventListener("click", function () { showPage(state.source.page - 1).catch(showError); });
    $("#next-page").addEventListener("click", function () { showPage(state.source.page + 1).catch(showError); });
    $("#lang").addEventListener("change", function () { I.set($("#lang").value); applyWords(); });
    $("#key-form").addEventListener("submit", function (e) {
      e.preventDefault();
      $("#api-key").dispatchEvent(new Event("change"));
    });
    $("#api-key").addEventListener("change", function () {
      state.key = $("#api-key").value.trim();
      try { localStorage.setItem("foldrag.key", state.key); } catch (e) { /* storage off */ }
      start();
    });
    $("#reingest").addEventListener("click", function () {
      api("POST", "/v1/ingest", { collection: state.selected, path: $("#reingest").dataset.folder })
        .then(function (job) { return followJob(job, state.selected); }).catch(showError);
    });
    $("#new-collection").addEventListener("submit", function (e) {
      e.preventDefault();
      var name = $("#new-name").value.trim();
      api("POST", "/v1/collections", { name: name, path: $("#new-path").value.trim() })
        .then(async function (job) {
          $("#new-name").value = ""; $("#new-path").value = "";
          await loadCollections();
          await selectCollection(name);
          await followJob(job, name);
        }).catch(showError);
    });
    $("#delete-collection").addEventListener("click", function () {
      var name = state.selected;
      if (!name || !confirm(t("confirmDelete", name))) return;
      api("DELETE", "/v1/collections/" + encodeURIComponent(name)).then(async function () {
        state.selected = null;
        $("#collection-detail").hidden = true;
        await loadCollections();
        renderCollections();
      }).catch(showError);
    });
    var drop = $("#drop");
    ["dragenter", "dragover"].forEach(function (name) {
      drop.addEventListener(name, function (e) { e.preventDefault(); drop.classList.add("over"); });
    });
    ["dragleave", "drop"].forEach(function (name) {
      drop.addEventListener(name, function () { drop.classList.remove("over"); });
    });
    drop.addEventListener("drop", function (e) {
      e.preventDefault();
      droppedFiles(e.dataTransfer).then(upload).catch(showError);
    });
    $("#pick-files").addEventListener("click", function () { $("#file-input").click(); });
    $("#file-input").addEventListener("change", function () {
      upload(Array.prototype.slice.call($("#file-input").files)).catch(showError);
    });
  }

  async function start() {
    try {
      await loadCollections();
      await loadConversations();
    } catch (e) {
      showError(e);
    }
  }

  var fragment = new URLSearchParams(location.hash.replace(/^#/, ""));
  try { state.key = fragment.get("key") || localStorage.getItem("foldrag.key") || ""; } catch (e) { state.key = fragment.get("key") || ""; }
  $("#api-key").value = state.key;
  wire();
  applyWords();
  emptyNote();
  start();
})();
