/* The two screens: the chat, and the collections. */
import { renderCollections, selectCollection } from "./collections.js";
import { $, showError } from "./dom.js";
import { closeSource } from "./source.js";
import { state } from "./store.js";

/** Show the "chat" or the "collections" screen; the collections screen opens on a collection. */
export function showView(which) {
  $("#chat-view").hidden = which !== "chat";
  $("#collections-view").hidden = which !== "collections";
  if (which === "collections") {
    closeSource();
    renderCollections();
    if (!state.selected && state.collections[0]) selectCollection(state.collections[0].name).catch(showError);
  }
}
