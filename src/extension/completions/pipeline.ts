/**
 * The request pipeline, from a position to its drafts: the prefix cache (typing as suggested), a request under way
 * for the same position (joined rather than cancelled and started over), or a new engine request. It owns the cache,
 * the requests under way and the host-side statistics, and publishes request events; it calls no UI. No `vscode`
 * import: the VS Code adapters (inlineProvider.ts, keystroke.ts, prefetch.ts, the panel) describe the document with
 * a DocInput and pass a cancellation token.
 */
import { DEFAULT_BUDGETS, MAX_DOCUMENT_CHARS, buildContext, looksBinary, skipAutomatic, type DocText, type SnippetCandidate } from './context';
import { PrefixCache, dedupeDrafts, type RankedDraft } from './drafts';
import { Emitter } from '../emitter';
import { InFlight, LinkedToken, type Position } from './inFlight';
import { fitRequest } from '../../protocol/fitRequest';
import { ClientError, type TokenLike } from '../process/client';
import type { Settings } from '../settings';
import type { CompletionRequest, CompletionResponse, CompletionTiming, StrategyName } from '../../protocol';
import { draftCount } from '../../protocol/defaults';

/**
 * Where a result came from: the engine (a new request), the prefix cache (typing as suggested, or Tab onto a
 * prefetched position), or a request under way for the same position that this one joined (started on the keystroke).
 */
export type ResultSource = 'engine' | 'cache' | 'joined';

export interface Result {
  drafts: RankedDraft[];
  strategy: StrategyName;
  ms: number;
  source: ResultSource;
  timing?: CompletionTiming;
}

/** A result placed in its document: the text after the cursor on its line and the cursor offset. */
export type Placed = Result & { lineSuffix: string; offset: number };

/** Who asks for drafts; each kind is one row of REQUEST_KINDS. */
export type RequestKind = 'provider' | 'keystroke' | 'panel' | 'compare' | 'prefetch' | 'rest';

export interface KindPolicy {
  /** Waits `superdraft.debounceMs` before asking the engine. */
  debounce: boolean;
  /** Answers from the prefix cache, or by joining a request under way for the same position. */
  reuse: boolean;
  /** A newer request for the same document that also supersedes cancels this one (the in-flight registry). */
  supersede: boolean;
  /** Interactive: `superdraft.latencyBudgetMs` applies. */
  budget: boolean;
  /** Someone waits for it: counted as busy, cancels prefetches, published on `onRequest`. */
  foreground: boolean;
  /** Computes a position the cache already holds again, replacing its entry (background kinds otherwise skip it). */
  refresh: boolean;
  /** Prefix of its debug log line. */
  label: string;
}

export const REQUEST_KINDS: Readonly<Record<RequestKind, KindPolicy>> = {
  /** VS Code asks for ghost text. */
  provider: { debounce: true, reuse: true, supersede: true, budget: true, foreground: true, refresh: false, label: '' },
  /** Started on the keystroke, before VS Code asks (startOnKeystroke); the provider joins it. */
  keystroke: { debounce: true, reuse: true, supersede: true, budget: true, foreground: true, refresh: false, label: 'keystroke: ' },
  /** The draft picker at the cursor. */
  panel: { debounce: false, reuse: true, supersede: true, budget: true, foreground: true, refresh: false, label: '' },
  /** "Compare strategies": every strategy afresh, none superseding another. */
  compare: { debounce: false, reuse: false, supersede: false, budget: false, foreground: true, refresh: false, label: '' },
  /** The completion after the first draft, computed in the background into the cache. */
  prefetch: { debounce: false, reuse: false, supersede: false, budget: false, foreground: false, refresh: false, label: 'prefetch: ' },
  /** The whole drafts of a position whose drafts the time budget cut, in the background into the cache. */
  rest: { debounce: false, reuse: false, supersede: true, budget: false, foreground: false, refresh: true, label: 'rest: ' },
};

export interface Ask {
  kind: RequestKind;
  /** Another strategy than the setting (compare). */
  strategy?: StrategyName;
  /** Complete as if `text` were inserted at `start` (the suggest widget's item, a prefetch's draft). */
  insert?: { start: number; text: string };
  /** VS Code asked on its own (not invoked): nothing is asked in the middle of a word. */
  automatic?: boolean;
}

/** The document as the pipeline sees it (built by the VS Code side: documents.ts). */
export interface DocInput {
  uri: string;
  languageId: string;
  text: DocText;
  offset: number;
  /** Read only when a request is sent: the path shown to the model and the visible snippets of other editors. */
  details(): { path: string; snippets: SnippetCandidate[] };
}

/** What the pipeline needs of where drafts come from: the inference client, or a remote server (extension/remote). */
export interface CompletionSource {
  readonly state: string;
  ready(): Promise<unknown>;
  complete(req: CompletionRequest, token?: TokenLike): Promise<CompletionResponse>;
}

export interface PipelineLog {
  debug(message: string): void;
  warn(message: string): void;
}

export type RequestEvent =
  | { phase: 'start' }
  | { phase: 'done'; ms: number }
  | { phase: 'cancelled' }
  | { phase: 'failed'; message: string }
  /** After done / cancelled / failed, once `busy` counts it no more. */
  | { phase: 'end' };

export class CompletionPipeline {
  readonly cache = new PrefixCache(100);
  /** Foreground requests: start, done / cancelled / failed, end. */
  readonly onRequest = new Emitter<RequestEvent>();
  /** Foreground requests under way. */
  busy = 0;
  /** Requests answered by joining one under way for the same position (started on the keystroke). */
  joins = 0;
  /** The host's own work (context, cache) for the latest request, NaN until one is measured. */
  lastHostMs = 0;
  private readonly hostMs: number[] = [];
  /** The requests under way, per document. */
  readonly inFlight = new InFlight();

  constructor(
    private readonly engine: CompletionSource,
    private readonly settings: () => Settings,
    private readonly log: PipelineLog,
  ) {}

  /** Drafts for a position, or undefined (nothing to complete here, cancelled, superseded, not ready). */
  async draftsAt(doc: DocInput, ask: Ask, token: TokenLike): Promise<Placed | undefined> {
    const t0 = performance.now();
    const policy = REQUEST_KINDS[ask.kind];
    if (doc.text.length > MAX_DOCUMENT_CHARS) return undefined;
    const offset = doc.offset;
    const ctx = buildContext(doc.text, offset, DEFAULT_BUDGETS, ask.insert);
    if (ask.automatic && !ask.insert && skipAutomatic(ctx.lineSuffix)) return undefined;
    if (looksBinary(ctx.prefix.slice(-4096))) return undefined;
    const strategy = ask.strategy ?? this.settings().strategy;
    const place = (r: Result): Placed => ({ ...r, lineSuffix: ctx.lineSuffix, offset });
    const at: Position = { key: `${doc.uri}\u0000${this.paramsSignature(strategy)}\u0000${ctx.suffix}`, prefix: ctx.prefix, offset: ask.insert ? ask.insert.start + ask.insert.text.length : offset };

    let hostMs: number | undefined;
    if (policy.reuse) {
      const cached = this.fromCache(at, strategy);
      if (cached) {
        this.recordHostMs(performance.now() - t0);
        return place(cached);
      }
      // The same request is under way (started on the keystroke before VS Code asked, or a prefetch of the
      // position Tab just moved to): wait for it instead of cancelling it and starting over.
      const r = this.inFlight.find(doc.uri, at);
      if (r) {
        hostMs = performance.now() - t0; // the wait below is not the host's own work
        const res = (await untilSettled(r.done, token)) as Placed | undefined;
        if (token.isCancellationRequested) return undefined;
        const joined = r.background ? this.fromCache(at, strategy) : res && { ...res, source: 'joined' as const };
        if (joined) {
          if (!r.background) this.joins++;
          this.recordHostMs(hostMs);
          return place(joined);
        }
      }
    }
    const req = this.buildRequest(doc, ctx, strategy, policy);
    if (policy.foreground) {
      this.recordHostMs(hostMs ?? performance.now() - t0);
    } else if ((!policy.refresh && this.cache.has(at.key, at.prefix, at.offset)) || this.inFlight.find(doc.uri, at)) {
      // Already computed, or being computed (the user typed part of the draft that started this prefetch).
      return undefined;
    }
    // A foreground request cancels the background ones (the engine runs one request at a time), and a newer request
    // for the document the superseding ones (the user typed on: their position is gone).
    if (policy.foreground) this.inFlight.cancelBackground();
    if (policy.supersede) this.inFlight.supersede(doc.uri);
    const linked = new LinkedToken(token);
    const pending = this.send(req, at, strategy, policy, linked).then((r) => r && place(r));
    const done = pending.catch(() => undefined).finally(() => linked.dispose());
    this.inFlight.add({ ...at, uri: doc.uri, background: !policy.foreground, supersede: policy.supersede, done, cancel: () => linked.cancel() });
    return pending;
  }

  /** Host-side work per request (ms), the latest 200. */
  hostStats(): { p50: number | null; p95: number | null; max: number | null; samples: number } {
    const host = [...this.hostMs].sort((a, b) => a - b);
    const q = (p: number) => (host.length ? +host[Math.min(host.length - 1, Math.floor(p * host.length))]!.toFixed(3) : null);
    return { p50: q(0.5), p95: q(0.95), max: host.length ? +host[host.length - 1]!.toFixed(3) : null, samples: host.length };
  }

  private paramsSignature(strategy: StrategyName): string {
    const s = this.settings();
    return [strategy, s.drafts, s.maxTokens, s.mode, s.speculative, s.copyDrafts, s.temperature, s.topP].join('|');
  }

  private fromCache(at: Position, strategy: StrategyName): Result | undefined {
    // k drafts were asked for: typing that leaves fewer is a miss (see PrefixCache)
    const hit = this.cache.lookup(at.key, at.prefix, at.offset, draftCount(strategy, this.settings().drafts));
    if (!hit) return undefined;
    this.log.debug(`cache hit (${hit.typed} typed chars): ${hit.drafts.length} drafts`);
    return { drafts: hit.drafts, strategy, ms: 0, source: 'cache' };
  }

  private buildRequest(doc: DocInput, ctx: { prefix: string; suffix: string }, strategy: StrategyName, policy: KindPolicy): CompletionRequest {
    const s = this.settings();
    const { path, snippets } = doc.details();
    // Within the protocol's bounds (LIMITS): a very long path or a huge visible snippet is trimmed, never refused.
    return fitRequest({
      prefix: ctx.prefix,
      suffix: ctx.suffix,
      languageId: doc.languageId,
      path,
      snippets,
      strategy,
      k: s.drafts,
      maxTokens: s.maxTokens,
      mode: s.mode,
      speculative: s.speculative,
      ...(s.copyDrafts ? {} : { copyDrafts: false }),
      temperature: s.temperature,
      topP: s.topP,
      ...(policy.budget && s.latencyBudgetMs > 0 ? { timeBudgetMs: s.latencyBudgetMs } : {}),
    });
  }

  private async send(req: CompletionRequest, at: Position, strategy: StrategyName, policy: KindPolicy, token: TokenLike): Promise<Result | undefined> {
    const s = this.settings();
    if (policy.debounce && !(await delay(s.debounceMs, token))) return undefined;
    // Typed while the model is loading: answer once it is ready (unless the request is cancelled meanwhile).
    if (this.engine.state === 'starting' && !(await untilSettled(this.engine.ready().then(() => true, () => false), token))) return undefined;
    if (this.engine.state !== 'ready' || token.isCancellationRequested) return undefined;
    const fg = policy.foreground;
    if (fg) {
      this.busy++;
      this.onRequest.fire({ phase: 'start' });
    }
    const t1 = performance.now();
    try {
      const res = await this.engine.complete(req, token);
      const ms = performance.now() - t1;
      const drafts = dedupeDrafts(res.drafts);
      this.cache.put({ key: at.key, prefix: at.prefix, offset: at.offset, drafts, strategy, ms });
      const t = res.timing;
      this.log.debug(
        `${policy.label}${strategy} k=${s.drafts}: ${drafts.length} drafts in ${ms.toFixed(0)} ms (engine ${t.totalMs.toFixed(0)} ms, prefill ${t.prefillTokens} tok, reused ${t.reusedTokens}, prefill ${t.prefillMs.toFixed(0)} ms, ${t.forwards} forwards, rank ${(t.rankMs ?? 0).toFixed(0)} ms${t.typedChars ? `, ${t.typedChars} typed` : ''}${t.budgetCuts ? `, time budget: ${t.budgetCuts} cut at a line or word end` : ''})`,
      );
      if (fg) this.onRequest.fire({ phase: 'done', ms });
      return { drafts, strategy, ms, source: 'engine', timing: res.timing };
    } catch (err) {
      if (err instanceof ClientError && (err.code === 'cancelled' || err.code === 'not_ready')) {
        if (fg) this.onRequest.fire({ phase: 'cancelled' });
        return undefined;
      }
      const msg = err instanceof Error ? err.message : String(err);
      this.log.warn(`${policy.label}completion failed: ${msg}`);
      if (fg) this.onRequest.fire({ phase: 'failed', message: msg });
      throw err;
    } finally {
      if (fg) {
        this.busy--;
        this.onRequest.fire({ phase: 'end' });
      }
    }
  }

  private recordHostMs(ms: number): void {
    this.lastHostMs = ms;
    this.hostMs.push(ms);
    if (this.hostMs.length > 200) this.hostMs.shift();
  }
}

/** `p`'s value, or undefined as soon as `token` is cancelled. */
function untilSettled<T>(p: Promise<T>, token: TokenLike): Promise<T | undefined> {
  if (token.isCancellationRequested) return Promise.resolve(undefined);
  let sub: { dispose(): void } | undefined;
  const cancelled = new Promise<undefined>((resolve) => (sub = token.onCancellationRequested(() => resolve(undefined))));
  return Promise.race([p, cancelled]).finally(() => sub?.dispose());
}

/** Waits `ms`; false when `token` is cancelled meanwhile. */
function delay(ms: number, token: TokenLike): Promise<boolean> {
  if (ms <= 0) return Promise.resolve(!token.isCancellationRequested);
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      sub.dispose();
      resolve(!token.isCancellationRequested);
    }, ms);
    const sub = token.onCancellationRequested(() => {
      clearTimeout(t);
      sub.dispose();
      resolve(false);
    });
  });
}
