/* Conversations: the list beside the chat (open, rename, delete), a new chat, and a kept conversation
 * drawn again from the server. */
import { api } from "./api.js";
import { renderAlso } from "./collections.js";
import { $, el, iconButton } from "./dom.js";
import { t } from "./i18n.js";
import { addAssistant, addUser, emptyNote } from "./messages.js";
import { closeSource } from "./source.js";
import { setConversation, setConversations, state } from "./store.js";
import { showView } from "./views.js";

export async function loadConversations() {
  try {
    setConversations((await api("GET", "/v1/conversations")).conversations);
  } catch (e) {
    setConversations([]);
  }
  renderConversations();
}

export function renderConversations() {
  const list = $("#conversations");
  list.textContent = "";
  state.conversations.forEach((c) => {
    const li = document.createElement("li");
    li.dataset.id = c.id;
    if (state.conversation && state.conversation.id === c.id) li.className = "active";
    const open = el("button", "title", c.title || t("untitled"));
    open.title = c.title || "";
    open.addEventListener("click", () => { openConversation(c.id); });
    const rename = iconButton("✎", t("rename"), async () => {
      const title = prompt(t("renamePrompt"), c.title || "");
      if (title === null) return;
      await api("PATCH", "/v1/conversations/" + c.id, { title: title });
      await loadConversations();
    });
    const del = iconButton("✕", t("delete"), async () => {
      if (!confirm(t("confirmDelete", c.title || t("untitled")))) return;
      await api("DELETE", "/v1/conversations/" + c.id);
      if (state.conversation && state.conversation.id === c.id) newChat();
      await loadConversations();
    });
    li.append(open, rename, del);
    list.appendChild(li);
  });
}

export function newChat() {
  setConversation(null);
  $("#messages").textContent = "";
  emptyNote();
  closeSource();
  renderConversations();
  showView("chat");
  $("#question").focus();
}

async function openConversation(id) {
  const c = await api("GET", "/v1/conversations/" + id);
  setConversation(c);
  showView("chat");
  closeSource();
  if (c.collections && c.collections[0]) $("#collection").value = c.collections[0];
  renderAlso((c.collections || []).slice(1));
  const box = $("#messages");
  box.textContent = "";
  c.messages.forEach((m) => {
    if (m.role === "user") addUser(m.content);
    else addAssistant(m.answer && m.answer.collection).finish(m.answer || { answer: m.content, citations: [], sources: [] }, m.status);
  });
  renderConversations();
  box.scrollTop = box.scrollHeight;
}
