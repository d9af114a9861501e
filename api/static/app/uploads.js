/* Uploads to the open collection (files, or folders dropped whole) with a progress bar each, then the
 * indexing job followed to its end; a re-ingest or a new collection's job is followed the same way. */
import { api, collectionParam, explain } from "./api.js";
import { refreshCollection } from "./collections.js";
import { $, el } from "./dom.js";
import { t } from "./i18n.js";
import { state } from "./store.js";

/** Files of a drop, folders walked (webkitGetAsEntry), each with its name. */
export async function droppedFiles(dataTransfer) {
  const items = Array.from(dataTransfer.items || []);
  const entries = items.map((i) => i.webkitGetAsEntry && i.webkitGetAsEntry()).filter(Boolean);
  if (!entries.length) return Array.from(dataTransfer.files || []);
  const out = [];
  async function walk(entry) {
    if (entry.isFile) {
      out.push(await new Promise((ok, bad) => entry.file(ok, bad)));
    } else if (entry.isDirectory) {
      const reader = entry.createReader();
      for (;;) {
        const batch = await new Promise((ok, bad) => reader.readEntries(ok, bad));
        if (!batch.length) break;
        for (const child of batch) await walk(child);
      }
    }
  }
  for (const entry of entries) await walk(entry);
  return out;
}

function uploadOne(file, collection, row) {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", "/v1/uploads/" + encodeURIComponent(file.name) + "?" + collectionParam(collection));
    if (state.key) xhr.setRequestHeader("Authorization", "Bearer " + state.key);
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) row.bar.value = e.loaded / e.total; };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        row.bar.value = 1; row.state.textContent = t("uploaded"); resolve(file.name);
      } else {
        let message = "HTTP " + xhr.status;
        try { message = explain(xhr.status, JSON.parse(xhr.responseText).error || {}); } catch (e) { /* not JSON */ }
        row.li.classList.add("failed"); row.state.textContent = t("uploadFailed"); row.li.title = message;
        row.name.textContent = file.name + " — " + message;
        resolve(null);
      }
    };
    xhr.onerror = () => { row.li.classList.add("failed"); row.state.textContent = t("uploadFailed"); resolve(null); };
    xhr.send(file);
  });
}

/** Upload ``files`` to the open collection, then index them. */
export async function upload(files) {
  const collection = state.selected;
  if (!collection || !files.length) return;
  const list = $("#uploads");
  list.textContent = "";
  const rows = files.map((file) => {
    const li = document.createElement("li");
    const name = el("span", "", file.name);
    const bar = document.createElement("progress"); bar.max = 1; bar.value = 0;
    const st = el("span", "state", t("uploading"));
    li.append(name, bar, st); list.appendChild(li);
    return { li: li, name: name, bar: bar, state: st };
  });
  const names = [];
  for (let i = 0; i < files.length; i++) {
    const kept = await uploadOne(files[i], collection, rows[i]);
    if (kept) names.push(kept);
  }
  if (!names.length) return;
  const job = await api("POST", "/v1/uploads/ingest", { collection: collection, names: names });
  await followJob(job, collection);
}

/** The job's line until it is done or failed, its failures under it; then ``collection`` drawn again. */
export async function followJob(job, collection) {
  const box = $("#job");
  box.hidden = false;
  for (;;) {
    box.textContent = jobLine(job);
    if (job.status === "done" || job.status === "failed" || job.status === "interrupted") break;
    await new Promise((ok) => setTimeout(ok, 400));
    job = await api("GET", "/v1/jobs/" + job.id);
  }
  (job.failures || []).forEach((f) => box.appendChild(el("div", "fail", t("jobFailures", f.path + ": " + f.reason))));
  await refreshCollection(collection);
}

function jobLine(job) {
  if (job.status === "queued") return t("jobQueued");
  if (job.status === "failed") return t("jobFailed", (job.error && job.error.message) || "");
  if (job.status === "interrupted") return t("jobInterrupted", job.files_done || 0, job.files_total || 0);
  if (job.status === "done") {
    const s = job.summary || {};
    return t("jobDone", s.added || 0, s.updated || 0, s.chunks || 0, (s.seconds || 0).toFixed(1));
  }
  const rate = job.elapsed_s > 0 ? job.chunks_written / job.elapsed_s : 0;
  const perFile = job.files_done > 0 ? job.elapsed_s / job.files_done : 0;
  const eta = perFile ? Math.round(perFile * (job.files_total - job.files_done)) + " s" : "–";
  return t("jobRunning", job.files_done, job.files_total, job.chunks_written, rate.toFixed(1), eta) +
    (job.working ? " · " + job.working : "");
}
