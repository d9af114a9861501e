/* The web app's entry: loads the app as native ES modules (main.js and what it imports). A classic
 * script so the page keeps its one <script src="/app/app.js"> after the vendored UMD libraries. */
import("/app/main.js");
