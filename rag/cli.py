"""The ``foldrag`` command: ingest, search, config."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from foldrag.core.errors import FoldragError

app = typer.Typer(
    add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None,
    help="foldrag: local RAG over a folder of documents.",
)

IndexOpt = Annotated[Optional[Path], typer.Option("--index", help="Index folder (default: see `foldrag config`).")]
IndexesOpt = Annotated[Optional[list[Path]], typer.Option(
    "--index", help="Index folder (default: see `foldrag config`); repeat it to ask several collections at once.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]


def _settings(index: Path | None = None, **sections):
    from foldrag.core.settings import Settings

    overrides = {"index": {"path": index}}
    overrides.update(sections)
    return Settings.load(**overrides)


def _rag_for(index: Path | None, *, with_generator: bool):
    """The Foldrag for a search or a question (models load on first use)."""
    from foldrag.build import build_rag

    return build_rag(_settings(index), with_generator=with_generator)


def _asked(indexes: list[Path] | None, *, with_generator: bool):
    """What a search or a question asks: one collection, or several as one (``AcrossCollections``)."""
    if not indexes or len(indexes) == 1:
        return _rag_for(indexes[0] if indexes else None, with_generator=with_generator)
    from foldrag.build import build_across

    return build_across(_settings(None), indexes, with_generator=with_generator)


def _where(source: str, pages: tuple[int, ...], collection: str) -> str:
    """``notes: guide.pdf p.2`` (or ``p.1–2`` for a chunk across a page break)."""
    shown = f" p.{pages[0]}" + (f"–{pages[-1]}" if len(pages) > 1 else "") if pages else ""
    return (f"{collection}: " if collection else "") + source + shown


def _print_json(data) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


@app.command()
def ingest(
    folder: Annotated[Path, typer.Argument(metavar="FOLDER", help="The folder of documents.")],
    index: IndexOpt = None,
    include: Annotated[Optional[list[str]], typer.Option(help="Glob of files to take (repeatable).")] = None,
    exclude: Annotated[Optional[list[str]], typer.Option(help="Glob of files to skip (repeatable).")] = None,
    follow_links: Annotated[bool, typer.Option("--follow-links", help="Follow links that lead out of FOLDER (else each is listed as skipped).")] = False,
    reembed: Annotated[bool, typer.Option("--reembed", help="Build the index anew with embedding.model (for 'auto': the default, bundled:multilingual-e5-small), replacing the one built with another embedder when it is done.")] = False,
    as_json: JsonOpt = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
    ray: Annotated[Optional[str], typer.Option(
        "--ray", metavar="[ADDRESS]",
        help="Parse and embed on a Ray cluster (pip install 'foldrag[ray]'): alone, a private one on this "
             "machine (or RAY_ADDRESS); 'auto' the one `ray start` runs here; HOST:6379 or ray://HOST:10001.")] = None,
) -> None:
    """Parse, chunk and embed FOLDER into the index.

    Unchanged files cost nothing; changed ones are replaced, deleted ones removed.
    """
    from foldrag.ingest.progress import progress_for
    from foldrag.build import build_rag

    on_ray = {} if ray is None else {"engine": "ray", **({} if ray == RAY_HERE else {"ray_address": ray})}
    settings = _settings(index, ingest={"include": include, "exclude": exclude, **on_ray,
                                        **({"follow_links": True} if follow_links else {})})
    rag = build_rag(settings, reembed=reembed)
    summary = rag.ingest(folder, progress=progress_for(sys.stderr, quiet=quiet), reembed=reembed)
    if as_json:
        _print_json(summary.to_json())
        return
    typer.echo(
        f"{summary.added} added, {summary.updated} updated, {summary.unchanged} unchanged, "
        f"{summary.removed} removed, {len(summary.failed)} failed; "
        f"{summary.chunks} chunks in {settings.index.path} ({summary.embedded} embedded) in {summary.seconds:.1f}s"
    )
    for failure in summary.failed:
        typer.echo(f"  skipped {failure.path}: {failure.reason}")
    _reembed_hint(settings, rag)


def _reembed_hint(settings, rag) -> None:
    """Say so when "auto" kept this index on the English-only embedder it was built with."""
    from foldrag.embedding.choice import AUTO, reembed_hint

    hint = reembed_hint(rag.settings.embedding.model) if settings.embedding.model == AUTO else None
    if hint:
        typer.echo(f"note: {hint}", err=True)


@app.command()
def search(
    query: Annotated[str, typer.Argument(metavar="QUERY", help="What to look for.")],
    index: IndexesOpt = None,
    k: Annotated[int, typer.Option("-k", min=1, max=1000, help="How many chunks.")] = 5,
    mode: Annotated[Optional[str], typer.Option(help="auto | dense | bm25 | hybrid | multi (default: auto — hybrid, fused per language pair as measured; multi asks the LLM for rewrites).")] = None,
    trace: Annotated[bool, typer.Option("--trace", help="Show the fusion, each list's raw and normalised score, weight and contribution for every hit, and timings.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Show the chunks that best match QUERY.

    Each with its score, source, page and heading.
    """
    rag = _asked(index, with_generator=(mode == "multi"))
    result = rag.retrieve(query, k=k, mode=mode)
    hits = result.hits
    if as_json:
        payload = [h.to_json() for h in hits]
        _print_json({"hits": payload, "trace": result.trace.to_json()} if trace else payload)
        return
    if trace:
        t = result.trace
        typer.echo(f"mode {t.mode}; queries: " + " | ".join(t.queries))
        if t.fusion:
            typer.echo(f"fusion: {t.fusion}")
        for note in t.notes:
            typer.echo(f"note: {note}")
        typer.echo("timings: " + ", ".join(f"{k} {v:.1f} ms" for k, v in t.timings_ms.items()))
    if not hits:
        typer.echo("no results (the index is empty)")
    parts = {f.id: f.parts for f in result.trace.fused} if trace and len(result.trace.lists) > 1 else {}
    for rank, hit in enumerate(hits, start=1):
        where = _where(hit.chunk.source, hit.chunk.pages(), hit.collection)
        heading = f" — {hit.chunk.heading}" if hit.chunk.heading else ""
        typer.echo(f"{rank}. [{hit.score:.3f}] {where}{heading}")
        for part in parts.get(hit.chunk.id, ()):
            listed = result.trace.lists[part.list]
            query = f" ({listed.query})" if len(result.trace.queries) > 1 else ""
            typer.echo(f"   {listed.retriever}{query} #{part.rank}: score {part.raw:.4g} → {part.normalised:.3f} "
                       f"× weight {part.weight:.2f} = {part.contribution:.3f}")
        snippet = " ".join(hit.chunk.text.split())
        typer.echo(f"   {snippet[:240]}{'…' if len(snippet) > 240 else ''}")


@app.command()
def ask(
    question: Annotated[str, typer.Argument(metavar="QUESTION", help="The question.")],
    index: IndexesOpt = None,
    k: Annotated[int, typer.Option("-k", min=1, max=100, help="Chunks retrieved.")] = 5,
    mode: Annotated[Optional[str], typer.Option(help="Retrieval mode (default: auto; multi asks the LLM for rewrites).")] = None,
    stream: Annotated[bool, typer.Option("--stream", help="Print the answer as it is generated.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Answer QUESTION from the documents, citing the sources used."""
    from foldrag.answering.events import DoneEvent, EvidenceEvent, StatusEvent, TokenEvent

    rag = _asked(index, with_generator=True)
    answer = None
    stage_shown = False
    streamed = ""
    for event in rag.stream(question, k=k, mode=mode):  # checked (a missing index: at once) before the model loads
        if isinstance(event, StatusEvent) and sys.stderr.isatty():
            typer.echo(f"\r\033[K{event.stage}…", err=True, nl=False)  # the stage, on one line that is rewritten
            stage_shown = True
            continue
        if stage_shown and isinstance(event, (EvidenceEvent, TokenEvent, DoneEvent)):
            typer.echo("\r\033[K", err=True, nl=False)
            stage_shown = False
        if isinstance(event, EvidenceEvent) and event.evidence and not as_json:
            typer.echo("Evidence:")  # at once, before the model has written anything
            for e in event.evidence:
                typer.echo(f"  [{e.n}] {e.text}  ({_where(e.source, (e.page,) if e.page else (), e.collection)})")
            typer.echo("")
        elif isinstance(event, TokenEvent) and stream and not as_json:
            typer.echo(event.text, nl=False)
            streamed += event.text
        elif isinstance(event, DoneEvent):
            answer = event.answer
    if as_json:
        _print_json(answer.to_json())
        return
    if stream:
        typer.echo("")
        if (answer.citation_method in ("evidence", "extractive") or answer.looped) \
                and answer.answer.strip() != streamed.strip():
            # what was streamed is not the answer: it ran in a loop, or its evidence says more
            why = "it repeated itself" if answer.looped else "its evidence answers better"
            typer.echo(f"\n(the streamed text is not the answer: {why}. The answer:)\n{answer.answer}")
    else:
        typer.echo(answer.answer)
    if answer.reasoning:
        typer.echo(f"\n(reasoning: {len(answer.reasoning)} characters; --json shows it)")
    typer.echo("\nSources:" if answer.citations else "\nSources: none cited")
    for c in answer.citations:
        typer.echo(f"  [{c.n}] {_where(c.source, (c.page,) if c.page else (), c.collection)}")
    t = answer.timings
    typer.echo(f"\nretrieve {t['retrieve_s']:.2f}s, first token {t['first_token_s']:.2f}s, "
               f"generate {t['generate_s']:.2f}s, {t['tokens_per_s']:.1f} tokens/s; queries: " + " | ".join(answer.queries))
    if t.get("prompt_reused_tokens"):
        typer.echo(f"prompt: {t['prompt_computed_tokens']:.0f} tokens computed, {t['prompt_reused_tokens']:.0f} reused "
                   f"from the attention cache (about {t['prefill_saved_s']:.1f}s saved)")
    typer.echo(f"answered by {answer.model} ({answer.engine})")


@app.command(name="eval")
def evaluate(
    dataset: Annotated[Path, typer.Argument(metavar="DATASET", help="A BEIR folder (corpus.jsonl, queries.jsonl, qrels/) or a KorQuAD 1.0 .json file.")],
    split: Annotated[str, typer.Option(help="BEIR qrels split.")] = "test",
    queries: Annotated[Optional[Path], typer.Option(help="Other questions over DATASET's documents (JSON Lines: id, text, and relevant unless the id is one of DATASET's), e.g. bench/sets/scifact-ko.jsonl.")] = None,
    mode: Annotated[Optional[list[str]], typer.Option("--mode", help="Mode to evaluate (repeatable; --answers takes the first).")] = None,
    index: IndexOpt = None,
    limit: Annotated[Optional[int], typer.Option(min=1, help="Evaluate only the first N queries (--answers: a sample of N, default 200).")] = None,
    answers: Annotated[bool, typer.Option("--answers", help="Answer the questions end to end and score the answers (needs gold answers: KorQuAD).")] = False,
    unanswerable: Annotated[int, typer.Option(min=0, help="--answers: questions also asked with their paragraph hidden (should be refused).")] = 40,
    seed: Annotated[int, typer.Option(help="--answers: the sample's random seed.")] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Measure retrieval or answers on an evaluation DATASET.

    Retrieval: nDCG@10, Recall@10/100, MRR@10 and latency per mode. Answers: contains-gold, F1,
    language, citation precision and recall, refusals, seconds per answer.
    """
    from dataclasses import replace

    from tqdm import tqdm

    from foldrag.ingest.progress import progress_for
    from foldrag.build import build_rag
    from foldrag.evaluation.datasets import load_dataset, with_queries
    from foldrag.evaluation.runner import default_eval_dir, documents_from_hits, evaluate as run_eval, write_corpus

    data = load_dataset(dataset, split)
    if queries is not None:
        data = with_queries(data, queries)
    if answers and not data.answers:
        from foldrag.core.errors import InvalidInput

        raise InvalidInput(f"{dataset} has no gold answers; --answers needs a QA set such as KorQuAD 1.0")
    if limit and not answers:
        kept = dict(list(data.queries.items())[:limit])
        data = replace(data, queries=kept, qrels={q: data.qrels[q] for q in kept})
    base = _settings(index)
    work = default_eval_dir(data, dataset, base.embedding.model)
    settings = base if index else _settings(work / "index")
    # Recall@100 is per document: every list reaches 200 chunks deep (k), and fusion normalises each
    # by its first retrieval.candidates scores, so the top ranks are the answer path's.
    depth = 100
    rag = build_rag(settings, with_generator=answers or "multi" in (mode or []))
    mapping = write_corpus(data, work / "corpus")
    summary = rag.ingest(work / "corpus", progress=progress_for(sys.stderr))
    if summary.failed:
        typer.echo(f"warning: {len(summary.failed)} corpus documents failed to ingest", err=True)
    if answers:
        _evaluate_answers(rag, data, mapping, limit or 200, unanswerable, seed, (mode or [None])[0], as_json)
        return
    modes = mode or ["dense", "bm25", "hybrid"]  # auto is hybrid here: the eval index has BM25

    def retrieve(text: str, m: str) -> list[str]:
        return documents_from_hits(rag.search(text, k=2 * depth, mode=m), mapping)

    with tqdm(total=len(data.queries) * len(modes), desc="eval", unit="q", file=sys.stderr,
              disable=not sys.stderr.isatty()) as bar:
        results = run_eval(data, retrieve, modes, progress=bar.update)
    from foldrag.retrieval.hybrid import described

    fusion = described(settings.retrieval.fusion)
    report = {"dataset": data.name, "split": data.split, "queries": len(data.queries), "results": results,
              "question_file": str(queries) if queries else None, "fusion": fusion}
    if as_json:
        _print_json(report)
        return
    typer.echo(f"{data.name} ({data.split}): {len(data.queries)} queries, {len(data.corpus)} documents")
    typer.echo(f"fusion (hybrid, auto): {fusion}")
    typer.echo(f"{'mode':8} {'nDCG@10':>8} {'R@10':>7} {'R@100':>7} {'MRR@10':>7} {'mean ms':>8} {'p95 ms':>8}")
    for m, r in results.items():
        typer.echo(f"{m:8} {r['ndcg@10']:8.4f} {r['recall@10']:7.4f} {r['recall@100']:7.4f} {r['mrr@10']:7.4f} "
                   f"{r['latency_ms_mean']:8.1f} {r['latency_ms_p95']:8.1f}")


def _evaluate_answers(rag, data, mapping: dict[str, str], limit: int, unanswerable: int, seed: int,
                      mode: str | None, as_json: bool) -> None:
    import time

    from tqdm import tqdm

    from foldrag.evaluation.answers import run_answers, sample_cases, summarize
    from foldrag.generation.backends import resolve_backend

    cases = sample_cases(data, limit, unanswerable, seed)
    gen = rag.settings.generation
    quoting = gen.mode == "quote" or gen.model == "none"
    mode = rag.resolve_mode(mode)
    t0 = time.perf_counter()
    answerer = rag.answerer()  # the model loads here, so that no answer's seconds count its load
    load_s = time.perf_counter() - t0
    with tqdm(total=len(cases), desc="answers", unit="q", file=sys.stderr, disable=not sys.stderr.isatty()) as bar:
        rows = run_answers(cases, lambda text: rag.prepare(text, mode=mode), answerer.ask, mapping.get,
                           rag.tokenizer, progress=bar.update)
    report = {"dataset": data.name, "sample_seed": seed, "mode": mode, "load_s": round(load_s, 2),
              "generation": {"mode": "quote" if quoting else "generate", "backend": "none" if quoting else resolve_backend(gen),
                             "model": "none" if quoting else rag.load_generator().name},
              "summary": summarize(rows), "rows": rows}
    if as_json:
        _print_json(report)
        return
    s, g = report["summary"], report["generation"]

    def pct(value) -> str:
        return "   n/a" if value is None else f"{100 * value:5.1f}%"

    typer.echo(f"{data.name}: {s['answerable']} questions + {s['unanswerable']} with their paragraph hidden; "
               f"retrieval {mode}; answers: {g['mode']} ({g['backend']}, {g['model']}; loaded in {load_s:.1f} s)")
    typer.echo(f"contains gold {pct(s['contains_gold'])}   F1 {pct(s['f1'])}   in question's language "
               f"{pct(s['language_ok'])}")
    typer.echo(f"citation precision {pct(s['citation_precision'])}   recall {pct(s['citation_recall'])}   "
               f"answers citing {pct(s['answers_citing'])}")
    typer.echo(f"refusals: {pct(s['refusal_rate'])} of hidden-paragraph questions, {pct(s['false_refusal_rate'])} "
               f"of answerable ones; echoed instructions {s['echoed']}, loops stopped {s['looped']}")
    typer.echo(f"seconds per answer: mean {s['seconds_mean']}, p95 {s['seconds_p95']}; methods {s['methods']}")


@app.command()
def check(
    index: IndexOpt = None,
    repair: Annotated[bool, typer.Option("--repair", help="Rebuild what is damaged into a new generation.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Verify the index against its checksums (--repair fixes it).

    Every file is checked against the checksum written with it and every part is loaded. Exit 0
    when it is sound (or was repaired), 6 when it is damaged.
    """
    from foldrag.build import build_rag

    rag = build_rag(_settings(index))
    report = rag.check_index(repair=repair)
    if as_json:
        _print_json(report.to_json())
    else:
        state = "ok" if report.ok else ("repaired" if report.repaired else "damaged")
        typer.echo(f"{report.index} ({report.generation}): {state}")
        for problem in report.damage:
            typer.echo(f"  {problem}")
        if report.note:
            typer.echo(f"note: {report.note}")
        if report.repaired:
            typer.echo(f"repaired: generation {report.repaired} rebuilt the vectors and keyword index")
        elif not report.ok:
            typer.echo("run `foldrag check --repair` (or ingest the folder again) to repair it")
    if not report.ok and not report.repaired:
        raise typer.Exit(6)


@app.command()
def config(as_json: JsonOpt = True) -> None:
    """Print the effective settings and what 'auto' resolves to here.

    Defaults < foldrag.toml < FOLDRAG_* environment. Under "resolved": the generation backend and
    model that will answer, the index's embedding model and the runtime that will embed (measured
    once per machine when embedding.backend is 'auto'), and whether OCR can run here.
    """
    from foldrag.core.errors import IndexMismatch, ModelUnavailable
    from foldrag.embedders import SentenceTransformerEmbedder
    from foldrag.embedding.choice import embedding_model
    from foldrag.generation.backends import resolve_backend, resolve_model

    settings = _settings()
    effective = json.loads(settings.model_dump_json())
    try:
        model = resolve_model(settings.generation)
    except ModelUnavailable as exc:
        model = f"unavailable: {exc}"
    emb = settings.embedding
    try:
        chosen = embedding_model(emb.model, settings.index.path)  # "auto": the index's, or the default
        runtime = SentenceTransformerEmbedder.runtime(chosen, device=emb.device, dtype=emb.dtype,
                                                      backend=emb.backend, quantize=emb.quantize)
        embedding = {"model": chosen, "backend": runtime.label, "questions": runtime.query_label,
                     "reason": runtime.reason}
    except (ModelUnavailable, IndexMismatch) as exc:
        embedding = {"backend": f"unavailable: {exc}"}
    from foldrag.ingest.formats.ocr import tesseract_missing

    missing = tesseract_missing(settings.ingest.ocr_languages) if settings.ingest.ocr != "off" else "ingest.ocr is 'off'"
    ocr = {"engine": "tesseract", "languages": settings.ingest.ocr_languages, "available": missing is None}
    if missing:
        ocr["reason"] = missing
    effective["resolved"] = {"generation": {"backend": resolve_backend(settings.generation), "model": model},
                             "embedding": embedding, "ocr": ocr}
    _print_json(effective)


@app.command()
def serve(
    index: Annotated[Optional[list[Path]], typer.Option("--index", help="Index folder to serve as a collection named after it (repeatable).")] = None,
    host: Annotated[Optional[str], typer.Option(help="Address to listen on (default 127.0.0.1).")] = None,
    port: Annotated[Optional[int], typer.Option(help="Port (default 8000).")] = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Server processes over the same index folders "
                                         "(each loads its own models; a new index generation reaches all).")] = 1,
) -> None:
    """Serve the web app (http://HOST:PORT/) and the HTTP API.

    The API answers /v1/query, the OpenAI-compatible /v1/chat/completions, ingest jobs and /mcp.
    """
    import uvicorn

    from foldrag.api.app import WORKER_INDEXES_ENV, WORKER_JOBS_ENV, create_app
    from foldrag.api.memory import limit_malloc_arenas

    limit_malloc_arenas()
    settings = _settings(None, server={"host": host, "port": port})
    if workers == 1:
        app_ = create_app(settings, indexes=index or None)
        names = ", ".join(f"{n} ({r.index_path})" for n, r in app_.state.foldrag.collections.items())
        typer.echo(f"foldrag: serving {names}\n  open the web app: http://{settings.server.host}:{settings.server.port}/ "
                   f"(API docs: /docs); models load in the background, /readyz says when", err=True)
        uvicorn.run(app_, host=settings.server.host, port=settings.server.port, log_level="info")
        return
    import tempfile

    from foldrag.build import collection_paths

    names = ", ".join(f"{n} ({p})" for n, p in collection_paths(settings, index or None).items())  # fails fast
    jobs = tempfile.mkdtemp(prefix="foldrag-jobs-")
    os.environ.update({"FOLDRAG_SERVER__HOST": settings.server.host, "FOLDRAG_SERVER__PORT": str(settings.server.port),
                       WORKER_INDEXES_ENV: json.dumps([str(p) for p in index or []]), WORKER_JOBS_ENV: jobs})
    typer.echo(f"foldrag: serving {names} with {workers} worker processes (each loads its models; /readyz "
               f"answers per process)\n  open the web app: http://{settings.server.host}:{settings.server.port}/", err=True)
    try:
        uvicorn.run("foldrag.api.app:worker_app", factory=True, workers=workers, host=settings.server.host,
                    port=settings.server.port, log_level="info")
    finally:
        import shutil

        shutil.rmtree(jobs, ignore_errors=True)


@app.command()
def mcp(
    index: Annotated[Optional[list[Path]], typer.Option("--index", help="Index folder to serve as a collection named after it (repeatable).")] = None,
) -> None:
    """Serve the collections to an agent over MCP (stdio).

    What Claude Desktop, Cursor and VS Code launch: tools search, ask, list_collections,
    get_passage, get_document.
    """
    from foldrag.api.mcp_server import serve_stdio

    serve_stdio(_settings(None), index or None)


RAY_HERE = "local"  # what a bare ``--ray`` stands for


def optional_values(args: list[str]) -> list[str]:
    """``--ray`` may come without its ADDRESS (typer's options always take one): a bare ``--ray``
    (last, or before another option) becomes ``--ray local``."""
    out = []
    for n, arg in enumerate(args):
        out.append(arg)
        if arg == "--ray" and (n + 1 == len(args) or args[n + 1].startswith("-")):
            out.append(RAY_HERE)
    return out


def _usage_errors():
    """The click that typer runs on: its own copy (``typer._click``, typer ≥ 0.20) or click itself."""
    try:
        from typer import _click as click
    except ImportError:  # an older typer uses click
        import click
    return click.exceptions


def main() -> None:
    # foldrag never downloads: every model is a local folder or a bundled package.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        # a command's typer.Exit(n) comes back as its return value
        code = app(args=optional_values(sys.argv[1:]), prog_name="foldrag", standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except FoldragError as exc:
        print(f"foldrag: error: {exc}", file=sys.stderr)
        sys.exit(exc.spec.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        print("foldrag: interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as exc:
        usage = _usage_errors()
        if isinstance(exc, usage.NoArgsIsHelpError):  # a bare `foldrag`: the help, as --help prints it
            print(exc.ctx.get_help())
            sys.exit(0)
        if isinstance(exc, usage.ClickException):  # "Usage: …", "Try 'foldrag CMD --help'…", "Error: …"
            exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, usage.Exit):
            sys.exit(exc.exit_code)
        raise


if __name__ == "__main__":
    main()
