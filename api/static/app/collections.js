/* Collections: the chat bar's picker and its "also ask" boxes, and the collections screen — a card
 * per collection, the open one's files, what was skipped, and its actions. */
import { api, collectionParam } from "./api.js";
import { $, el, iconButton, showError } from "./dom.js";
import { lang, t } from "./i18n.js";
import { setCollections, setSelected, state } from "./store.js";

export async function loadCollections() {
  setCollections((await api("GET", "/v1/collections")).collections);
  const select = $("#collection");
  const before = select.value;
  select.textContent = "";
  state.collections.forEach((c) => {
    const o = el("option", "", c.name); o.value = c.name; select.appendChild(o);
  });
  if (before) select.value = before;
  renderAlso(askedCollections().slice(1));
  const first = state.collections[0];
  if (first && first.answering) $("#model-info").textContent = t("answering", first.answering.model, first.answering.backend);
}

/** The collections a question goes to: the one picked, and those ticked beside it. */
export function askedCollections() {
  const first = $("#collection").value;
  const more = Array.from(document.querySelectorAll("#also input:checked"), (x) => x.value);
  return [first].concat(more.filter((n) => n !== first));
}

/** A box for each collection but the one picked, ``checked`` ticked. */
export function renderAlso(checked) {
  const box = $("#also");
  box.textContent = "";
  const others = state.collections.filter((c) => c.name !== $("#collection").value);
  if (!others.length) return;
  box.appendChild(el("span", "", t("also")));
  others.forEach((c) => {
    const l = document.createElement("label");
    const input = document.createElement("input"); input.type = "checkbox"; input.value = c.name;
    input.checked = (checked || []).indexOf(c.name) >= 0;
    l.append(input, c.name);
    box.appendChild(l);
  });
}

function bytes(n) {
  if (n < 1024) return n + " B";
  if (n < 1024 * 1024) return (n / 1024).toFixed(1) + " KB";
  return (n / 1024 / 1024).toFixed(1) + " MB";
}

export function renderCollections() {
  const list = $("#collection-list");
  list.textContent = "";
  state.collections.forEach((c) => {
    const card = el("div", "card" + (state.selected === c.name ? " active" : ""));
    card.tabIndex = 0;
    card.append(el("h3", "", c.name), el("div", "muted", c.indexed ? t("documents", c.documents, c.chunks) : t("notIndexed")));
    card.addEventListener("click", () => { selectCollection(c.name).catch(showError); });
    list.appendChild(card);
  });
}

/** Open collection ``name`` on the collections screen: what it holds, its files, what was skipped. */
export async function selectCollection(name) {
  setSelected(name);
  renderCollections();
  const c = state.collections.find((x) => x.name === name);
  const inv = await api("GET", "/v1/inventory?" + collectionParam(name));
  $("#collection-detail").hidden = false;
  $("#detail-name").textContent = name;
  const meta = [t("documents", c.documents, c.chunks), t("embedder", c.embedder)];
  if (c.answering) meta.push(t("answering", c.answering.model, c.answering.backend));
  if (inv.last_ingest) meta.push(t("lastIngest", new Date(inv.last_ingest * 1000).toLocaleString(lang())));
  $("#detail-meta").textContent = meta.join(" · ");
  $("#reingest").hidden = !inv.folder;
  $("#delete-collection").hidden = !c.removable;
  $("#reingest").dataset.folder = inv.folder || "";
  const tbody = $("#files tbody");
  tbody.textContent = "";
  inv.documents.forEach((d) => {
    const tr = document.createElement("tr");
    [d.source, d.chunks, d.ocr_pages || "", bytes(d.size)].forEach((v) => tr.appendChild(el("td", "", v)));
    const td = document.createElement("td");
    td.appendChild(iconButton("✕", t("delete"), async () => {
      if (!confirm(t("confirmDelete", d.source))) return;
      await api("DELETE", "/v1/documents/" + d.id + "?" + collectionParam(name));
      await refreshCollection(name);
    }));
    tr.appendChild(td);
    tbody.appendChild(tr);
  });
  const skipped = $("#skipped");
  skipped.textContent = "";
  (inv.skipped.length ? inv.skipped : [null]).forEach((f) => {
    const li = document.createElement("li");
    if (!f) li.textContent = t("none");
    else li.append(f.path + " — ", el("span", "why", f.reason));
    skipped.appendChild(li);
  });
}

export async function refreshCollection(name) {
  await loadCollections();
  await selectCollection(name);
}
