/* The messages of a chat: the person's question, and an answer drawn as it streams — the stage while
 * it waits, the text (Markdown by marked, sanitised by DOMPurify: vendor/), then citation chips. */
import { chips } from "./chips.js";
import { $, el } from "./dom.js";
import { drawEvidence } from "./evidence.js";
import { t } from "./i18n.js";

/** The note an empty chat shows. */
export function emptyNote() {
  $("#messages").appendChild(el("p", "muted empty", t("empty")));
}

export function addUser(text) {
  const empty = $("#messages .empty");
  if (empty) empty.remove();
  return $("#messages").appendChild(el("div", "msg user", text));
}

function markdown(text) {
  const html = window.marked.parse(text || "", { gfm: true, breaks: true });
  return window.DOMPurify.sanitize(html, { USE_PROFILES: { html: true } });
}

/** An assistant message answering from ``collection``: {element, stage, evidence, sources, token, finish,
 * fail}. The evidence block sits above the answer: it shows while the model still writes. */
export function addAssistant(collection) {
  const div = el("div", "msg assistant");
  const evidence = el("div", "evidence"), stage = el("div", "stage"), body = el("div", "body"), meta = el("div", "meta");
  evidence.hidden = true;
  div.append(evidence, stage, body, meta);
  $("#messages").appendChild(div);
  let text = "", sources = [], pending = false, cited = null; // cited: the final answer's citations
  let shown = false; // the evidence is drawn

  function draw() {
    pending = false;
    body.innerHTML = markdown(text);
    chips(body, cited ? cited.concat(sources) : sources, collection);
    const log = $("#messages");
    log.scrollTop = log.scrollHeight;
  }

  function note(message) {
    div.appendChild(el("div", "note", message));
  }

  return {
    element: div,
    stage(name) {
      stage.textContent = "";
      stage.append(el("span", "spin"), el("span", "", t("stage_" + name)));
    },
    evidence(list) {
      shown = true;
      drawEvidence(evidence, list, collection);
      const log = $("#messages");
      log.scrollTop = log.scrollHeight;
    },
    sources(list) { sources = list; },
    token(piece) {
      if (stage.firstChild) stage.textContent = "";
      text += piece;
      if (!pending) { pending = true; requestAnimationFrame(draw); }
    },
    finish(answer, status) {
      stage.textContent = "";
      if (!shown && answer.evidence) drawEvidence(evidence, answer.evidence, collection); // a kept answer
      sources = answer.sources || sources;
      text = answer.answer || text;
      cited = answer.citations || [];
      draw();
      div.dataset.text = text; // the answer as the server wrote it: what a follow-up sends back as history
      div.dataset.status = status || "done";
      if (status === "stopped" || status === "failed") {
        note(status === "stopped" ? t("stopped") : t("failed", answer.error || ""));
      }
      if (answer.model || answer.engine) {
        const total = answer.timings && answer.timings.total_s;
        meta.textContent = t("answeredBy", answer.model || "", answer.engine || "",
                             total === undefined ? "–" : total.toFixed(1));
      }
    },
    fail(message) {
      stage.textContent = "";
      note(message);
      div.dataset.status = "failed";
    },
  };
}
