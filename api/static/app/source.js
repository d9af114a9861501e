/* The source pane: a cited passage shown where it stands — the PDF page with the boxes stored at ingest
 * (the supporting sentence's boxes stronger), or the document's text as indexed (textview.js). */
import { api, ApiError, collectionParam, headers } from "./api.js";
import { $, el } from "./dom.js";
import { t } from "./i18n.js";
import { setSource, setSourcePage, state } from "./store.js";
import { drawText } from "./textview.js";

export function closeSource() {
  setSource(null);
  $("#source").hidden = true;
  document.querySelectorAll(".chip.open").forEach((x) => x.classList.remove("open"));
}

/** Open ``citation`` (of an answer from ``collection``) in the pane. */
export async function openSource(citation, collection) {
  $("#source").hidden = false;
  $("#source-title").textContent = citation.source + (citation.page ? " · p." + citation.page : "");
  const note = $("#source-note");
  note.hidden = true;
  let passage = null;
  try {
    passage = await api("GET", "/v1/passages/" + citation.chunk_id + "?" + collectionParam(collection));
  } catch (e) {
    if (e.status !== 404) throw e;
  }
  if (!passage) { // re-ingested since: the answer's own snippet is what is left
    note.textContent = t("goneFromIndex"); note.hidden = false;
    const body = $("#source-body"); body.textContent = "";
    body.appendChild(el("p", "", citation.snippet));
    pageControls(null);
    return;
  }
  const spans = (citation.spans && citation.spans.length ? citation.spans : passage.spans) || [];
  // open at the page of the sentence that supports the answer, else where the chunk starts
  const support = citation.support && spans.find((sp) => sp.start === citation.support[0] && sp.end === citation.support[1]);
  const page = support && support.boxes.length ? support.boxes[0].page : (citation.page || passage.page || 1);
  setSource({ passage: passage, citation: citation, collection: collection, spans: spans, page: page });
  const doc = passage.document;
  if (doc.status !== "same") {
    note.textContent = t({ changed: "changed", missing: "missing" }[doc.status] || "textOnly");
    note.hidden = false;
  }
  else if (passage.ocr) { note.textContent = t("ocrNote"); note.hidden = false; }
  if (doc.view === "page") await showPage(page);
  else await showText();
}

function pageControls(doc) {
  const paged = doc && doc.view === "page";
  $("#prev-page").hidden = $("#next-page").hidden = !paged;
  $("#page-no").textContent = paged ? t("page", state.source.page, doc.pages) : "";
  if (paged) {
    $("#prev-page").disabled = state.source.page <= 1;
    $("#next-page").disabled = state.source.page >= doc.pages;
  }
}

/** Page ``page`` of the open passage's PDF, the passage's boxes on it. */
export async function showPage(page) {
  setSourcePage(page);
  const src = state.source;
  const doc = src.passage.document;
  pageControls(doc);
  const body = $("#source-body");
  const width = Math.min(2400, Math.round((body.clientWidth - 24) * (window.devicePixelRatio || 1)));
  const res = await fetch("/v1/documents/" + doc.id + "/pages/" + page + "?width=" + Math.max(200, width) + "&" +
                          collectionParam(src.collection), { headers: headers() });
  if (!res.ok) throw new ApiError(res.status, "error", "HTTP " + res.status);
  const url = URL.createObjectURL(await res.blob());
  const frame = el("div", "page"); frame.dataset.page = page;
  const img = document.createElement("img"); img.alt = doc.source + " p." + page;
  await new Promise((resolve, reject) => { img.onload = resolve; img.onerror = reject; img.src = url; });
  frame.appendChild(img);
  const support = src.citation.support;
  let first = null;
  src.spans.forEach((span) => {
    const strong = support && span.start === support[0] && span.end === support[1];
    (span.boxes || []).forEach((pb) => {
      if (pb.page !== page) return;
      pb.boxes.forEach((b) => {
        const hl = el("div", "hl" + (strong ? " support" : ""));
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

/** The open passage's document as indexed text, the passage marked. */
async function showText() {
  const src = state.source;
  pageControls(null);
  const data = await api("GET", "/v1/documents/" + src.passage.document.id + "/text?" + collectionParam(src.collection));
  const body = $("#source-body");
  body.textContent = "";
  const target = drawText(body, data, src.passage.id, src.citation.support);
  if (target) target.scrollIntoView({ block: "center" });
}
