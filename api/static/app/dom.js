/* Small helpers for drawing: find an element, make an icon button, show an error where the person looks. */

export const $ = (sel) => document.querySelector(sel);

/** An element ``tag`` with ``className`` and ``text`` (either may be left out). */
export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** A one-glyph button named ``label`` (its title and accessible name); errors of ``onClick`` are shown. */
export function iconButton(text, label, onClick) {
  const b = el("button", "icon", text);
  b.title = label;
  b.setAttribute("aria-label", label);
  b.addEventListener("click", (e) => { e.stopPropagation(); onClick().catch(showError); });
  return b;
}

/** An error as a failed message on the chat screen, or under the job line on the collections screen. */
export function showError(e) {
  const div = el("div", "msg assistant");
  div.dataset.status = "failed";
  div.appendChild(el("div", "note", (e && e.message) || String(e)));
  const onCollections = !$("#collections-view").hidden;
  (onCollections ? $("#job") : $("#messages")).appendChild(div);
  if (onCollections) $("#job").hidden = false;
}
