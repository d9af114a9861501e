/* The app's one store: what the page knows between clicks. Everything else is drawn from it or kept on
 * the server. Modules read ``state`` and change it only through the setters below; ``on`` calls a
 * function each time a field is set. */

const data = Object.seal({
  key: "",             // the API key the person gave (or the page's #key=…)
  collections: [],     // GET /v1/collections
  conversations: [],   // GET /v1/conversations
  conversation: null,  // the open conversation, or null for a new chat
  busy: null,          // the AbortController of the answer streaming now
  source: null,        // the source pane: {passage, citation, collection, spans, page}
  selected: null,      // the collection open on the collections screen
});

const listeners = new Map();

/** The store, read-only: ``state.x = …`` throws; set it with a setter. */
export const state = new Proxy(data, {
  set(_, name) { throw new TypeError(`the store's ${String(name)} is set through store.js`); },
  deleteProperty(_, name) { throw new TypeError(`the store's ${String(name)} cannot be deleted`); },
});

function set(name, value) {
  data[name] = value;
  (listeners.get(name) || []).forEach((fn) => fn(value));
}

/** Call ``fn(value)`` whenever ``name`` is set. */
export function on(name, fn) {
  if (!(name in data)) throw new TypeError(`the store holds no ${name}`);
  listeners.set(name, (listeners.get(name) || []).concat([fn]));
}

export const setKey = (key) => set("key", key);
export const setCollections = (list) => set("collections", list);
export const setConversations = (list) => set("conversations", list);
export const setConversation = (c) => set("conversation", c);
export const setBusy = (controller) => set("busy", controller);
export const setSource = (source) => set("source", source);
export const setSourcePage = (page) => set("source", Object.assign({}, data.source, { page: page }));
export const setSelected = (name) => set("selected", name);
