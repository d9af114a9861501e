/* foldrag web app: conversations, a streaming chat with citation chips, the source pane (a PDF page
 * with the chunk's boxes stored at ingest, or the text as indexed), and collections with uploads.
 * Native ES modules, no build step; this one wires the screens' controls and starts the app. */
import { api } from "./api.js";
import { ask, drawBusy } from "./chat.js";
import { askedCollections, loadCollections, renderAlso, renderCollections, selectCollection } from "./collections.js";
import { loadConversations, newChat, renderConversations } from "./conversations.js";
import { $, showError } from "./dom.js";
import { lang, setLang, t } from "./i18n.js";
import { emptyNote } from "./messages.js";
import { closeSource, showPage } from "./source.js";
import { on, setKey, setSelected, state } from "./store.js";
import { droppedFiles, followJob, upload } from "./uploads.js";
import { showView } from "./views.js";

function applyWords() {
  document.documentElement.lang = lang();
  document.querySelectorAll("[data-t]").forEach((node) => { node.textContent = t(node.dataset.t); });
  $("#question").placeholder = t("placeholder");
  $("#new-name").placeholder = t("newName");
  $("#new-path").placeholder = t("newPath");
  $("#lang").value = lang();
  renderConversations();
  if (!$("#collections-view").hidden) renderCollections();
}

async function start() {
  try {
    await loadCollections();
    await loadConversations();
  } catch (e) {
    showError(e);
  }
}

function wireComposer() {
  let composing = false;
  const q = $("#question");
  q.addEventListener("compositionstart", () => { composing = true; });
  q.addEventListener("compositionend", () => { composing = false; });
  q.addEventListener("keydown", (e) => {
    if (e.key !== "Enter" || e.shiftKey) return;
    // Enter that ends a Hangul syllable's composition is the IME's, not a send.
    if (e.isComposing || composing || e.keyCode === 229) return;
    e.preventDefault();
    $("#composer").requestSubmit();
  });
  $("#composer").addEventListener("submit", (e) => {
    e.preventDefault();
    const text = q.value.trim();
    if (!text || state.busy) return;
    q.value = "";
    ask(text).catch(showError);
  });
  on("busy", drawBusy);
  $("#stop").addEventListener("click", () => { if (state.busy) state.busy.abort(); });
  $("#collection").addEventListener("change", () => renderAlso(askedCollections().slice(1)));
}

function wireSide() {
  $("#new-chat").addEventListener("click", newChat);
  $("#open-collections").addEventListener("click", () => showView("collections"));
  $("#back-to-chat").addEventListener("click", () => showView("chat"));
  $("#lang").addEventListener("change", () => { setLang($("#lang").value); applyWords(); });
  $("#key-form").addEventListener("submit", (e) => {
    e.preventDefault();
    $("#api-key").dispatchEvent(new Event("change"));
  });
  $("#api-key").addEventListener("change", () => {
    setKey($("#api-key").value.trim());
    try { localStorage.setItem("foldrag.key", state.key); } catch (e) { /* storage off */ }
    start();
  });
}

function wireSource() {
  $("#close-source").addEventListener("click", closeSource);
  $("#prev-page").addEventListener("click", () => showPage(state.source.page - 1).catch(showError));
  $("#next-page").addEventListener("click", () => showPage(state.source.page + 1).catch(showError));
}

function wireCollections() {
  $("#reingest").addEventListener("click", () => {
    api("POST", "/v1/ingest", { collection: state.selected, path: $("#reingest").dataset.folder })
      .then((job) => followJob(job, state.selected)).catch(showError);
  });
  $("#new-collection").addEventListener("submit", (e) => {
    e.preventDefault();
    const name = $("#new-name").value.trim();
    api("POST", "/v1/collections", { name: name, path: $("#new-path").value.trim() })
      .then(async (job) => {
        $("#new-name").value = ""; $("#new-path").value = "";
        await loadCollections();
        await selectCollection(name);
        await followJob(job, name);
      }).catch(showError);
  });
  $("#delete-collection").addEventListener("click", () => {
    const name = state.selected;
    if (!name || !confirm(t("confirmDelete", name))) return;
    api("DELETE", "/v1/collections/" + encodeURIComponent(name)).then(async () => {
      setSelected(null);
      $("#collection-detail").hidden = true;
      await loadCollections();
      renderCollections();
    }).catch(showError);
  });
}

function wireUploads() {
  const drop = $("#drop");
  ["dragenter", "dragover"].forEach((name) => {
    drop.addEventListener(name, (e) => { e.preventDefault(); drop.classList.add("over"); });
  });
  ["dragleave", "drop"].forEach((name) => {
    drop.addEventListener(name, () => drop.classList.remove("over"));
  });
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    droppedFiles(e.dataTransfer).then(upload).catch(showError);
  });
  $("#pick-files").addEventListener("click", () => $("#file-input").click());
  $("#file-input").addEventListener("change", () => { upload(Array.from($("#file-input").files)).catch(showError); });
}

const fragment = new URLSearchParams(location.hash.replace(/^#/, ""));
try { setKey(fragment.get("key") || localStorage.getItem("foldrag.key") || ""); } catch (e) { setKey(fragment.get("key") || ""); }
$("#api-key").value = state.key;
wireComposer();
wireSide();
wireSource();
wireCollections();
wireUploads();
applyWords();
emptyNote();
start();
