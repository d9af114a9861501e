/* Asking: a question to the collections picked, the answer streamed as Server-Sent Events into an
 * assistant message, the conversation's earlier turns sent as history; Stop aborts the stream. */
import { api, explain, headers } from "./api.js";
import { askedCollections } from "./collections.js";
import { $ } from "./dom.js";
import { t } from "./i18n.js";
import { loadConversations } from "./conversations.js";
import { addAssistant, addUser } from "./messages.js";
import { setBusy, setConversation, state } from "./store.js";

/** Send or Stop, as the store's busy says (wired by main.js). */
export function drawBusy(controller) {
  $("#send").hidden = !!controller;
  $("#stop").hidden = !controller;
}

export async function ask(question) {
  const asked = askedCollections();
  const collection = asked[0];
  if (!state.conversation) {
    setConversation(await api("POST", "/v1/conversations", { title: "", collections: asked }));
  }
  addUser(question);
  const view = addAssistant(collection);
  view.stage("retrieving");
  const controller = new AbortController();
  setBusy(controller);
  const history = historyOf(view.element);
  try {
    const res = await fetch("/v1/query", {
      method: "POST", signal: controller.signal,
      headers: headers({ "Content-Type": "application/json", Accept: "text/event-stream" }),
      body: JSON.stringify({ question: question, collections: asked, mode: $("#mode").value, stream: true,
                             conversation: state.conversation.id, history: history }),
    });
    if (!res.ok) {
      let data = null;
      try { data = await res.json(); } catch (e) { data = null; }
      view.fail(explain(res.status, (data && data.error) || {}));
      return;
    }
    await readEvents(res.body, (kind, data) => {
      if (kind === "status") view.stage(data.stage);
      else if (kind === "evidence") view.evidence(data.evidence);
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

/** The turns before ``current`` (the last ten, failed and stopped answers left out). */
function historyOf(current) {
  const turns = [];
  document.querySelectorAll("#messages .msg").forEach((msg) => {
    if (msg === current || msg.dataset.status === "failed" || msg.dataset.status === "stopped") return;
    const user = msg.classList.contains("user");
    const text = user ? msg.textContent
      : msg.dataset.text !== undefined ? msg.dataset.text : (msg.querySelector(".body") || msg).textContent;
    if (text.trim()) turns.push({ role: user ? "user" : "assistant", content: text });
  });
  turns.pop(); // the question just added is the question, not history
  return turns.slice(-10);
}

/* Server-Sent Events from a fetch body (EventSource cannot POST nor send a key). */
async function readEvents(stream, onEvent) {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const step = await reader.read();
    if (step.done) break;
    buffer += decoder.decode(step.value, { stream: true }).replace(/\r\n/g, "\n");
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let kind = "message";
      const data = [];
      block.split("\n").forEach((line) => {
        if (line.indexOf("event:") === 0) kind = line.slice(6).trim();
        else if (line.indexOf("data:") === 0) data.push(line.slice(5).replace(/^ /, ""));
      });
      if (data.length) onEvent(kind, JSON.parse(data.join("\n")));
    }
  }
}
