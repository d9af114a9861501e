/* Citation chips: every [n] in a rendered answer becomes a button for citation n, its tip the file,
 * the snippet and the ranks behind it; a click opens the cited words in the source pane. */
import { $, el, showError } from "./dom.js";
import { t } from "./i18n.js";
import { openSource } from "./source.js";

/** Chips for ``citations`` in ``root`` (text nodes only, after sanitising); ``collection`` answered. */
export function chips(root, citations, collection) {
  const byN = {};
  citations.forEach((c) => { if (!byN[c.n]) byN[c.n] = c; });
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const nodes = [];
  while (walker.nextNode()) nodes.push(walker.currentNode);
  nodes.forEach((node) => {
    if (!/\[\d{1,3}\]/.test(node.nodeValue)) return;
    const frag = document.createDocumentFragment();
    node.nodeValue.split(/(\[\d{1,3}\])/).forEach((part) => {
      const m = /^\[(\d{1,3})\]$/.exec(part);
      const c = m && byN[+m[1]];
      frag.appendChild(c ? chip(m[1], c, collection) : document.createTextNode(part));
    });
    node.parentNode.replaceChild(frag, node);
  });
}

function chip(n, c, collection) {
  const button = el("button", "chip", n);
  button.type = "button";
  button.dataset.n = n; button.dataset.chunk = c.chunk_id;
  button.setAttribute("aria-label", c.source + (c.page ? " p." + c.page : ""));
  button.addEventListener("mouseenter", () => showTip(button, c));
  button.addEventListener("mouseleave", hideTip);
  button.addEventListener("focus", () => showTip(button, c));
  button.addEventListener("blur", hideTip);
  button.addEventListener("click", () => {
    document.querySelectorAll(".chip.open").forEach((x) => x.classList.remove("open"));
    button.classList.add("open");
    openSource(c, c.collection || collection || $("#collection").value).catch(showError);
  });
  return button;
}

/** The evidence behind citation ``c`` beside ``anchor``: file and page, snippet, each signal's rank. */
function showTip(anchor, c) {
  const tip = $("#tip");
  tip.textContent = "";
  tip.append(el("div", "file", c.source + (c.page ? " · p." + c.page : "")), el("div", "snip", c.snippet));
  (c.signals || []).forEach((s) => {
    const name = s.name === "fused" ? t("fused") : s.name === "rerank" ? t("rerank") : s.name;
    tip.appendChild(el("div", "sig", name + " #" + s.rank + " · " + Number(s.score).toFixed(4)));
  });
  tip.hidden = false;
  const r = anchor.getBoundingClientRect();
  let top = r.bottom + 6;
  tip.style.left = Math.min(r.left, window.innerWidth - tip.offsetWidth - 8) + "px";
  if (top + tip.offsetHeight > window.innerHeight) top = r.top - tip.offsetHeight - 6;
  tip.style.top = top + "px";
}

function hideTip() { $("#tip").hidden = true; }
