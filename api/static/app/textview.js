/* A document's text as indexed, for the source pane: its sections, paragraphs as text and Markdown
 * tables as tables, the cited chunk marked and the sentence that supports the answer marked more strongly. */

const TABLE_ROW = /^\s*\|/, TABLE_RULE = /^\s*\|[\s|:-]*$/;

/** ``data`` (GET /v1/documents/ID/text) into ``body``, chunk ``chunkId`` marked, ``support`` its
 * [start, end) within the chunk or null. The first mark, to scroll to. */
export function drawText(body, data, chunkId, support) {
  const view = document.createElement("div"); view.className = "text-view";
  let target = null;
  const placed = data.chunks.find((c) => c.id === chunkId);
  data.sections.forEach((section, index) => {
    const sec = document.createElement("section");
    if (section.page) {
      const h = document.createElement("h4"); h.textContent = "p. " + section.page; sec.appendChild(h);
    }
    const here = placed && placed.section === index;
    const s = here ? placed.start : -1, e = here ? placed.end : -1;
    const a = here && support ? s + support[0] : -1, b = here && support ? s + support[1] : -1;
    const first = renderText(sec, section.text, [s, e], [a, b]);
    if (first && !target) target = first;
    view.appendChild(sec);
  });
  body.appendChild(view);
  return target;
}

function inside(range, lo, hi) { return lo < range[1] && hi > range[0]; }

/* A section's text into ``into``: paragraphs as text, Markdown tables as tables; the characters in
 * ``chunk`` ([start, end)) marked, those in ``support`` marked more strongly. The first mark. */
function renderText(into, text, chunk, support) {
  const lines = text.split("\n");
  let pos = 0, i = 0, first = null;
  while (i < lines.length) {
    if (TABLE_ROW.test(lines[i])) {
      const table = document.createElement("table");
      for (; i < lines.length && TABLE_ROW.test(lines[i]); pos += lines[i].length + 1, i++) {
        const line = lines[i];
        if (TABLE_RULE.test(line)) continue;
        const tr = document.createElement("tr");
        let at = line.indexOf("|") + 1, next;
        while ((next = line.indexOf("|", at)) >= 0) {
          const cell = document.createElement(table.rows.length === 0 ? "th" : "td");
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
    const from = pos;
    for (; i < lines.length && !TABLE_ROW.test(lines[i]); i++) pos += lines[i].length + 1;
    const div = document.createElement("div"); div.className = "text";
    const cuts = [from, Math.min(pos, text.length)];
    chunk.concat(support).forEach((c) => { if (c > from && c < cuts[1]) cuts.push(c); });
    cuts.sort((x, y) => x - y);
    for (let k = 0; k + 1 < cuts.length; k++) {
      const lo = cuts[k], hi = cuts[k + 1];
      if (hi <= lo) continue;
      const piece = text.slice(lo, hi);
      if (inside(chunk, lo, hi)) {
        const mark = document.createElement("mark");
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
