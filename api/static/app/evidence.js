/* The evidence block: the supporting sentences of an answer, shown under the question as soon as
 * retrieval returns (before the model writes), each a button that opens its words in the source pane
 * at the page the sentence is on. */
import { $, el, showError } from "./dom.js";
import { t } from "./i18n.js";
import { openSource } from "./source.js";

/** Draw ``list`` (the evidence event's sentences, best first) into ``block``; ``collection`` answered. */
export function drawEvidence(block, list, collection) {
  block.textContent = "";
  block.hidden = !list || !list.length;
  if (block.hidden) return;
  block.appendChild(el("div", "evidence-title", t("evidence")));
  const items = el("ol", "evidence-list");
  list.forEach((e) => {
    const item = el("li", "evidence-item");
    const button = el("button", "evidence-open");
    button.type = "button";
    button.dataset.n = e.n; button.dataset.chunk = e.chunk_id;
    button.append(el("span", "evidence-n", String(e.n)), el("mark", "evidence-text", e.text),
                  el("span", "evidence-where", e.source + (e.page ? " · p." + e.page : "")));
    button.addEventListener("click", () => {
      document.querySelectorAll(".evidence-open.open, .chip.open").forEach((x) => x.classList.remove("open"));
      button.classList.add("open");
      openSource(asCitation(e), e.collection || collection || $("#collection").value).catch(showError);
    });
    item.appendChild(button);
    items.appendChild(item);
  });
  block.appendChild(items);
}

/* What the source pane opens: the sentence's chunk (its stored sentences and boxes come with the
 * passage), the sentence as the support, its page. */
function asCitation(e) {
  return { n: e.n, chunk_id: e.chunk_id, source: e.source, page: e.page, snippet: e.text, support: [e.start, e.end] };
}
