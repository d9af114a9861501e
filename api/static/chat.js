/* The chat page: reads the key and collection from the address's fragment (#key=…&collection=…),
 * which the browser never sends to a server, and loads the widget into the page. */
(function () {
  "use strict";
  var params = new URLSearchParams(location.hash.replace(/^#/, ""));
  var s = document.createElement("script");
  s.src = "/widget.js";
  s.dataset.target = "#chat";
  s.dataset.title = "foldrag";
  if (params.get("key")) s.dataset.apiKey = params.get("key");
  if (params.get("collection")) s.dataset.collection = params.get("collection");
  document.body.appendChild(s);
})();
