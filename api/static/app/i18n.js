/* The web app's words, in Korean and English. The language is the browser's (Korean when it
 * asks for Korean, else English) until the person picks one; the pick is kept in this browser. */

const WORDS = {
  en: {
    newChat: "New chat", conversations: "Conversations", collections: "Collections", language: "Language",
    apiKey: "API key", keyHint: "Only needed when the server has keys. Kept in this browser.",
    collection: "Collection", mode: "Retrieval", modeAuto: "auto", send: "Send", stop: "Stop", backToChat: "Back to chat",
    placeholder: "Ask about your documents… (Enter sends, Shift+Enter: new line)",
    reingest: "Re-ingest the folder", dropHere: "Drop files or a folder here", pickFiles: "Choose files",
    file: "File", chunks: "Chunks", ocrPages: "OCR pages", size: "Size", skipped: "Skipped files",
    none: "none", delete: "Delete", rename: "Rename", confirmDelete: "Delete “{0}”?",
    renamePrompt: "New name:", untitled: "New conversation",
    stage_condensing: "Reading the conversation…", stage_retrieving: "Searching the documents…",
    stage_generating: "Writing the answer…", stage_quoting: "Quoting the sources…",
    stopped: "Stopped.", failed: "Failed: {0}", answeredBy: "{0} · {1} · {2} s",
    documents: "{0} files · {1} chunks", lastIngest: "last ingest {0}", embedder: "embedder {0}",
    answering: "answers: {0} ({1})", notIndexed: "not indexed yet",
    uploading: "uploading", uploaded: "uploaded", uploadFailed: "failed",
    jobQueued: "Waiting to index…", jobRunning: "Indexing: {0}/{1} files · {2} chunks · {3} chunks/s · ETA {4}",
    jobDone: "Done: {0} added, {1} updated, {2} chunks in the index ({3} s).", jobFailed: "Indexing failed: {0}",
    jobInterrupted: "Interrupted when the server stopped, after {0} of {1} files: what was committed is kept; index again to finish.",
    jobFailures: "Skipped: {0}",
    page: "p. {0} / {1}", changed: "The file changed since it was indexed: showing the text as indexed.",
    missing: "The original file is gone: showing the text as indexed.",
    textOnly: "Shown as indexed text.", ocrNote: "Read by OCR: the words are shown as recognized.",
    goneFromIndex: "This passage is no longer in the index; the answer keeps its snippet:",
    signals: "rank behind it", fused: "fused", rerank: "reranker",
    needKey: "This server needs an API key: enter it under “API key”.",
    queryKeyOnly: "This key may only ask questions; changing a collection needs an admin key.",
    empty: "Ask anything about the documents in this collection.",
    createCollection: "New collection", newName: "name", newPath: "folder on the server, e.g. /srv/docs/hr",
    deleteCollection: "Delete collection", also: "also:",
    evidence: "Supporting sentences"
  },
  ko: {
    newChat: "새 대화", conversations: "대화", collections: "컬렉션", language: "언어",
    apiKey: "API 키", keyHint: "서버에 키가 설정된 경우에만 필요합니다. 이 브라우저에만 저장됩니다.",
    collection: "컬렉션", mode: "검색 방식", modeAuto: "자동", send: "보내기", stop: "중지", backToChat: "대화로 돌아가기",
    placeholder: "문서에 대해 물어보세요… (Enter: 보내기, Shift+Enter: 줄바꿈)",
    reingest: "폴더 다시 색인", dropHere: "파일이나 폴더를 여기에 끌어다 놓으세요", pickFiles: "파일 선택",
    file: "파일", chunks: "청크", ocrPages: "OCR 쪽", size: "크기", skipped: "건너뛴 파일",
    none: "없음", delete: "삭제", rename: "이름 바꾸기", confirmDelete: "“{0}”을(를) 삭제할까요?",
    renamePrompt: "새 이름:", untitled: "새 대화",
    stage_condensing: "대화를 읽는 중…", stage_retrieving: "문서를 검색하는 중…",
    stage_generating: "답변을 작성하는 중…", stage_quoting: "출처에서 인용하는 중…",
    stopped: "중지했습니다.", failed: "실패: {0}", answeredBy: "{0} · {1} · {2}초",
    documents: "파일 {0}개 · 청크 {1}개", lastIngest: "마지막 색인 {0}", embedder: "임베더 {0}",
    answering: "답변 모델: {0} ({1})", notIndexed: "아직 색인되지 않음",
    uploading: "올리는 중", uploaded: "올림", uploadFailed: "실패",
    jobQueued: "색인 대기 중…", jobRunning: "색인 중: 파일 {0}/{1} · 청크 {2}개 · 초당 {3}청크 · 남은 시간 {4}",
    jobDone: "완료: {0}개 추가, {1}개 갱신, 색인에 청크 {2}개 ({3}초).", jobFailed: "색인 실패: {0}",
    jobInterrupted: "서버가 멈춰 중단되었습니다 ({1}개 중 {0}개 처리). 반영된 내용은 남아 있습니다. 다시 색인하면 마저 합니다.",
    jobFailures: "건너뜀: {0}",
    page: "{0} / {1}쪽", changed: "색인한 뒤 파일이 바뀌었습니다. 색인된 텍스트를 보여 줍니다.",
    missing: "원본 파일이 없습니다. 색인된 텍스트를 보여 줍니다.",
    textOnly: "색인된 텍스트로 보여 줍니다.", ocrNote: "OCR로 읽은 쪽입니다. 인식된 글자를 보여 줍니다.",
    goneFromIndex: "이 구절은 더 이상 색인에 없습니다. 답변에 저장된 발췌:",
    signals: "순위 근거", fused: "결합", rerank: "재순위",
    needKey: "이 서버는 API 키가 필요합니다. ‘API 키’에 입력하세요.",
    queryKeyOnly: "이 키로는 질문만 할 수 있습니다. 컬렉션을 바꾸려면 관리자 키가 필요합니다.",
    empty: "이 컬렉션의 문서에 대해 무엇이든 물어보세요.",
    createCollection: "새 컬렉션", newName: "이름", newPath: "서버의 폴더, 예: /srv/docs/hr",
    deleteCollection: "컬렉션 삭제", also: "함께:",
    evidence: "근거 문장"
  }
};

function initial() {
  let kept = null;
  try { kept = localStorage.getItem("foldrag.lang"); } catch (e) { /* storage off */ }
  if (kept === "ko" || kept === "en") return kept;
  const asked = (navigator.languages && navigator.languages[0]) || navigator.language || "en";
  return /^ko\b/i.test(asked) ? "ko" : "en";
}

let current = initial();

/** The language the page is in: "ko" or "en". */
export function lang() { return current; }

/** Switch to ``next`` (anything but "ko" is English) and keep the pick in this browser. */
export function setLang(next) {
  current = next === "ko" ? "ko" : "en";
  try { localStorage.setItem("foldrag.lang", current); } catch (e) { /* storage off */ }
}

/** The words for ``key`` in the page's language (English when missing), {0}, {1}… filled from ``args``. */
export function t(key, ...args) {
  const text = (WORDS[current] && WORDS[current][key]) || WORDS.en[key] || key;
  return text.replace(/\{(\d)\}/g, (_, i) => (args[+i] === undefined ? "" : String(args[+i])));
}
