/**
 * The engine facade: loads a model directory, validates requests, builds the prompt, reuses the prompt KV
 * cache, runs the chosen strategy, and post-processes the drafts (stop rules, suffix overlap, dedupe, rank).
 * Requests run one at a time (one model, one cache); a cancelled request stops within one decode step.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type {
  CompletionRequest,
  CompletionResponse,
  CompletionTiming,
  DeviceName,
  DiagnosticsResult,
  IndexFilesParams,
  InitializeResult,
  StrategyName,
} from '../protocol';
import { DEVICES } from '../protocol';
import { DEFAULTS, draftCount } from '../protocol/defaults';
import { EngineError } from '../protocol/errors';
import { validateIndexFiles, validateRequest } from '../protocol/validate';
import { ModelConfig, ModelLoadError, readModelConfig } from './model/config';
import { COPY_DEFAULTS, CopyIndex, findCopies, firstLine, type CopySite } from './candidates/copy';
import { findMirrors } from './candidates/mirror';
import { DraftState, type DecodeContext, type RawDraft, type Strategy } from './decode/decode';
import { PromptCache, type PrefillResult } from './model/promptCache';
import { findUp } from './model/packagePaths';
import { rankDrafts, VERIFY_MAX_TOKENS, type RankInput } from './candidates/rank';
import { NgramStore } from './ngram/store';
import { buildPrompt, DEFAULT_BUDGET, HealConstraint, type Prompt } from './prompt/prompt';
import { promptBudgetScale, scaleBudget } from './prompt/coldPath';
import { PromptAnchors } from './prompt/anchor';
import { LogFn, ModelRuntime } from './model/runtime';
import { Speculator, TokenRecycler } from './decode/speculative';
import { postProcess } from './text/postprocess';
import { createStopRule } from './text/stop';
import { BeamStrategy } from './decode/strategies/beam';
import { GreedyStrategy } from './decode/strategies/greedy';
import { SamplingStrategy } from './decode/strategies/sampling';
import { SUPERPOSED_DEFAULTS, SuperposedOptions, SuperposedStrategy } from './decode/strategies/superposed';
import { Tokenizer, TokenizerError } from './model/tokenizer';
import { NEXT_EDIT_CONTEXT_TOKENS, scoreTexts, type ScoreItem } from './nextEdit/modelScore';
import { verifyTokenCount } from './candidates/verifyPolicy';

export type { LogFn } from './model/runtime';

export { EngineError, type EngineErrorCode } from '../protocol/errors';
export { preview, validateIndexFiles, validateRequest } from '../protocol/validate';

export interface EngineOptions {
  /** Model directory; '' or undefined = the embedded model. */
  modelDir?: string;
  device?: DeviceName;
  threads?: number;
  log?: LogFn;
  /** ONNX variant (a key of config.json's superdraft.onnx.variants, or a file name). */
  variant?: string;
  /** Overrides of superposed decoding's tuning (experiments and evaluation). */
  superposed?: Partial<SuperposedOptions>;
  /**
   * Evaluation: every ranked candidate of each multi-draft request (model and copied), best first, with its ranking
   * features and whether the strategy produced it (greedy keeps its chain and is not ranked).
   */
  onRanked?: RankInput['onRanked'];
  /** false: fetch the whole `present.*` cache on every forward even where the model has `present_delta.*` (comparisons). */
  appendOnlyKv?: boolean;
  /** Experiments: verify this many tokens per draft (1..16) instead of the measured-cost policy (verifyPolicy.ts). */
  verifyTokens?: number;
  /**
   * Prompt KV cache entries kept (default 4; still bounded by bytes): a server with many clients keeps one or more per
   * client, so that each one's typing reuses its own prompt (the longest common prefix finds it).
   */
  promptCacheEntries?: number;
}

/** Prompt entries (most recent) the verification pass attends to; fewer make it cheaper. */
const VERIFY_WINDOW = 256;
/** Most mirrored lines (mirror.ts) added to the copies of a request. */
const MIRROR_SITES = 2;

/** The embedded model: models/default under the package root (found from this file, bundled or not). */
export function defaultModelDir(): string {
  const root = findUp(__dirname, (dir) => existsSync(path.join(dir, 'models', 'default', 'config.json')));
  return root ? path.join(root, 'models', 'default') : path.resolve(__dirname, '..', 'models', 'default');
}

/** The end-token set of fixed-length benchmark requests (CompletionRequest.ignoreStop). */
const NO_END: ReadonlySet<number> = new Set();

export class Engine {
  private readonly cache: PromptCache;
  private readonly healing: HealConstraint;
  private readonly recycler: TokenRecycler;
  private readonly strategies: Record<StrategyName, Strategy>;
  private readonly eos: Set<number>;
  private queue: Promise<unknown> = Promise.resolve();
  private requests = 0;
  /** Recent outputs for speculative drafting: prompt-context tail + draft tokens, newest last. */
  private readonly recent: number[][] = [];
  private seedCounter = 1;
  /** Workspace texts that drafts may be copied from (indexFiles). */
  private readonly copyIndex = new CopyIndex();
  private readonly verifyWindow: number;
  private fixedVerifyTokens?: number;
  /** The prompt budget's scale in use on a large model (coldPath.ts); undefined until the first request. */
  private budgetScale?: number;
  /** Recent prompts that typing continues (anchor.ts). */
  private readonly anchors: PromptAnchors;

  private constructor(
    readonly config: ModelConfig,
    private readonly runtime: ModelRuntime,
    readonly tokenizer: Tokenizer,
    readonly ngrams: NgramStore,
    readonly info: InitializeResult,
    private readonly log: LogFn,
    superposed: Partial<SuperposedOptions> = {},
    private readonly onRanked?: RankInput['onRanked'],
    promptCacheEntries?: number,
  ) {
    this.cache = new PromptCache(runtime, promptCacheEntries);
    this.anchors = new PromptAnchors(tokenizer);
    this.healing = new HealConstraint(tokenizer);
    this.recycler = new TokenRecycler(tokenizer.vocabSize);
    this.verifyWindow = VERIFY_WINDOW;
    this.strategies = {
      greedy: new GreedyStrategy(),
      sampling: new SamplingStrategy(),
      beam: new BeamStrategy(),
      superposed: new SuperposedStrategy({ ...SUPERPOSED_DEFAULTS, ...superposed }),
    };
    this.eos = new Set(config.eosTokenIds);
    for (const t of ['<|endoftext|>', config.fim?.eos, config.fim?.fileSep, ...(config.fim?.ends ?? [])]) {
      const id = t ? tokenizer.specialId(t) : undefined;
      if (id !== undefined) this.eos.add(id);
    }
    // A special token never belongs in a draft (they decode to nothing): one generated mid-draft ends the draft.
    for (const id of tokenizer.specialIds) this.eos.add(id);
  }

  static async load(opts: EngineOptions = {}): Promise<Engine> {
    const log = opts.log ?? (() => undefined);
    const device = opts.device ?? 'auto';
    if (!DEVICES.includes(device)) throw new EngineError('invalid_request', `unknown device ${JSON.stringify(device)} (expected one of ${DEVICES.join(', ')})`);
    const started = performance.now();
    const dir = opts.modelDir ? path.resolve(opts.modelDir) : defaultModelDir();
    try {
      const config = readModelConfig(dir, opts.variant);
      const tokenizer = Tokenizer.load(config.tokenizerFile);
      const runtime = await ModelRuntime.load(config, { device, threads: opts.threads, log, appendOnlyKv: opts.appendOnlyKv });
      runtime.maskFrom = tokenizer.vocabSize; // embedding rows past the tokenizer (padding) never become drafts
      let ngrams: NgramStore;
      if (config.ngramFile) {
        try {
          ngrams = await NgramStore.loadStatic(config.ngramFile, tokenizer.vocabSize);
        } catch (e) {
          log('warn', `static n-grams not used: ${(e as Error).message}`);
          ngrams = NgramStore.empty(tokenizer.vocabSize);
        }
      } else ngrams = NgramStore.empty(tokenizer.vocabSize);
      const info: InitializeResult = {
        model: `${config.name} (${path.basename(config.modelFile)})`,
        device: runtime.device,
        providersTried: runtime.providersTried,
        deviceReason: runtime.deviceReason,
        loadMs: performance.now() - started,
        superposition: runtime.superposition,
      };
      log('info', `model ${config.modelFile} loaded on ${runtime.device} in ${info.loadMs.toFixed(0)} ms`);
      const engine = new Engine(config, runtime, tokenizer, ngrams, info, log, opts.superposed, opts.onRanked, opts.promptCacheEntries);
      if (opts.verifyTokens !== undefined) engine.fixedVerifyTokens = Math.max(1, Math.min(VERIFY_MAX_TOKENS, Math.floor(opts.verifyTokens)));
      return engine;
    } catch (e) {
      if (e instanceof EngineError) throw e;
      if (e instanceof ModelLoadError || e instanceof TokenizerError) throw new EngineError('model_load', e.message);
      throw new EngineError('model_load', `model in ${dir} could not be loaded: ${(e as Error).message}`);
    }
  }

  complete(input: unknown, signal?: AbortSignal): Promise<CompletionResponse> {
    let req: CompletionRequest;
    try {
      req = validateRequest(input);
    } catch (e) {
      return Promise.reject(e);
    }
    const run = this.queue.then(() => this.run(req, signal));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** One request, stage by stage: prompt → cache → decode → candidates → rank (which cleans each draft). */
  private async run(req: CompletionRequest, signal?: AbortSignal): Promise<CompletionResponse> {
    if (signal?.aborted) throw new EngineError('cancelled', 'request cancelled');
    this.checkStrategy(req);
    this.requests++;
    const t0 = performance.now();
    const forwards0 = this.runtime.forwards;
    try {
      const { prompt, typedChars } = this.prompt(req);
      this.ngrams.setPrompt(prompt.contextIds);
      const pre = await this.cache.prefill(prompt.ids, signal);
      const prefillMs = performance.now() - t0;
      const ctx = this.decodeContext(req, prompt, pre, t0, signal);
      const tDecode = performance.now();
      const raw = await this.strategies[req.strategy].decode(ctx);
      const decodeMs = performance.now() - tDecode;
      this.remember(prompt.contextIds, raw);
      // Drafts copied from the code, for multi-draft strategies (greedy stays the model's own chain).
      const tCopy = performance.now();
      const copying = req.ignoreStop !== true && req.copyDrafts !== false && ctx.k > 1;
      const copies = copying ? this.copyDrafts(ctx, req) : [];
      const copyMs = performance.now() - tCopy;
      const tRank = performance.now();
      const drafts = await rankDrafts(ctx, {
        model: raw,
        copies,
        k: ctx.k,
        strategy: req.strategy,
        clean: ctx.clean,
        dedupe: req.ignoreStop !== true,
        keepOrder: req.strategy === 'greedy',
        verifyWindow: this.verifyWindow,
        verifyTokens: (n, longest) => this.verifyTokenCount(n, longest, decodeMs),
        // a large model's request past its budget: its cut drafts are shown at once and the whole ones soon replace them
        forwards: !(this.runtime.large && ctx.deadline !== undefined && performance.now() > ctx.deadline),
        lineBefore: req.prefix.slice(req.prefix.lastIndexOf('\n') + 1),
        ...(this.onRanked ? { onRanked: this.onRanked } : {}),
      });
      const rankMs = performance.now() - tRank;
      const timing: CompletionTiming = {
        totalMs: performance.now() - t0,
        prefillMs,
        prefillTokens: pre.computed,
        reusedTokens: pre.reused,
        forwards: this.runtime.forwards - forwards0,
        acceptedSpeculative: ctx.stats.acceptedSpeculative,
        ...(typedChars > 0 ? { typedChars } : {}),
        ...(ctx.stats.budgetCuts > 0 ? { budgetCuts: ctx.stats.budgetCuts } : {}),
        ...(copying ? { copyMs, copyCandidates: copies.length } : {}),
        rankMs,
      };
      return { drafts, strategy: req.strategy, timing };
    } catch (e) {
      if ((e as Error).name === 'AbortError' || signal?.aborted) throw new EngineError('cancelled', 'request cancelled');
      throw e;
    }
  }

  /** Superposed decoding needs the superposition input (`superdraft model prepare`); the other strategies run anywhere. */
  private checkStrategy(req: CompletionRequest): void {
    if (req.strategy === 'superposed' && req.k > 1 && !this.runtime.superposition) {
      throw new EngineError(
        'unsupported',
        `the model ${this.config.modelFile} has no superposition input (token_weights), so "superposed" cannot run; choose beam, sampling or greedy, or run \`superdraft model prepare ${this.config.dir}\` once`,
      );
    }
  }

  /** The prompt stage: the FIM prompt within the (device-scaled) budget, continuing an earlier prompt where typing did. */
  private prompt(req: CompletionRequest): { prompt: Prompt; typedChars: number } {
    // A slow device gets a smaller prompt, so that a cold prefill fits the latency target (coldPath.ts).
    const budgetScale = this.runtime.large ? (this.budgetScale = promptBudgetScale(this.cache.msPerToken, DEFAULT_BUDGET.prefixTokens + DEFAULT_BUDGET.suffixTokens + DEFAULT_BUDGET.snippetTokens, undefined, this.budgetScale)) : 1;
    const build = () => buildPrompt(this.tokenizer, this.config, req, scaleBudget(DEFAULT_BUDGET, budgetScale));
    // PSM: typing since an earlier request keeps its prompt, the typed text is generated as the start of the middle
    // (anchor.ts). SPM and plain prompts end with the prefix, so typing only appends to them anyway.
    return this.config.fim?.format === 'psm' ? this.anchors.prompt(req, budgetScale, build) : { prompt: build(), typedChars: 0 };
  }

  /** What a strategy decodes with: the prefilled cache, the stop rules (text/), the n-grams, the budget. */
  private decodeContext(req: CompletionRequest, prompt: Prompt, pre: PrefillResult, t0: number, signal?: AbortSignal): DecodeContext {
    const ignoreStop = req.ignoreStop === true;
    const rule = ignoreStop ? null : createStopRule({ mode: req.mode, prefix: req.prefix, suffix: req.suffix, languageId: req.languageId });
    const post = { prefix: req.prefix, suffix: req.suffix, mode: req.mode, languageId: req.languageId };
    return {
      runtime: this.runtime,
      tok: this.tokenizer,
      prompt,
      kv: pre.kv,
      lastLogits: pre.lastLogits,
      vocab: pre.lastLogits.length,
      healing: this.healing,
      // fixed-length benchmark drafts: an end token does not end them either (as the llama.cpp peer's, benchPeer.ts)
      eos: ignoreStop ? NO_END : this.eos,
      k: draftCount(req.strategy, req.k),
      maxTokens: req.maxTokens,
      stop: rule ? (text) => rule.check(text) : () => -1,
      clean: ignoreStop ? (text: string) => text : (text: string) => postProcess(text, post),
      stopOnRepetition: !ignoreStop,
      fillDistinct: !ignoreStop,
      ngrams: this.ngrams,
      speculator: req.speculative && req.strategy === 'greedy' ? new Speculator(this.recycler, this.ngrams, this.recent) : null,
      temperature: req.temperature ?? DEFAULTS.temperature,
      topP: req.topP ?? DEFAULTS.topP,
      seed: req.seed ?? this.seedCounter++,
      signal,
      stats: { forwards: 0, acceptedSpeculative: 0, budgetCuts: 0 },
      ...(req.timeBudgetMs && !ignoreStop ? { deadline: t0 + req.timeBudgetMs } : {}),
    };
  }

  /**
   * Tokens per draft the verification pass scores: fixed by EngineOptions.verifyTokens, else by the measured costs on
   * a large model (a small one always scores VERIFY_MAX_TOKENS: its passes cost a few ms, whatever the load).
   */
  private verifyTokenCount(drafts: number, longest: number, decodeMs: number): number {
    const costs = this.runtime.costs.estimate();
    const t = this.fixedVerifyTokens ?? (costs && this.runtime.large ? verifyTokenCount(drafts, longest, decodeMs, costs) : VERIFY_MAX_TOKENS);
    this.lastVerify = { tokens: t, drafts, decodeMs, ...(costs ? { stepMs: costs.stepMs, rowMs: costs.rowMs } : {}) };
    return t;
  }

  /** The last verification decision and the costs it was made on (benchmarks, diagnostics). */
  lastVerify?: { tokens: number; drafts: number; decodeMs: number; stepMs?: number; rowMs?: number };

  private remember(context: number[], raw: RawDraft[]): void {
    const tail = context.slice(-8);
    for (const r of raw) if (r.tokens.length > 1) this.recent.push([...tail, ...r.tokens]);
    if (this.recent.length > 16) this.recent.splice(0, this.recent.length - 16);
  }

  /**
   * Continuations of earlier occurrences of the text before the cursor (copy.ts), as drafts of this request: the
   * healed prefix bytes and the copied text tokenized together, cut by the stop rules like any draft.
   */
  private copyDrafts(ctx: DecodeContext, req: CompletionRequest): { raw: RawDraft; site: CopySite }[] {
    // at most k copies: with the k model drafts, the verification batch stays within 2k rows
    const sites = findCopies(req, this.copyIndex, { ...COPY_DEFAULTS, maxSites: Math.min(COPY_DEFAULTS.maxSites, ctx.k) }, req.path);
    // and lines that mirror the cursor's line with other names (mirror.ts)
    const copied = new Set(sites.map((s) => firstLine(s.text.trimStart()).trim()));
    sites.push(...findMirrors(req.prefix, req.suffix, MIRROR_SITES, copied));
    if (sites.length === 0) return [];
    const heal = Buffer.from(ctx.prompt.heal).toString('utf8');
    if (heal.includes('\uFFFD')) return [];
    const out: { raw: RawDraft; site: CopySite }[] = [];
    for (const site of sites) {
      const d = new DraftState(ctx.prompt.heal);
      for (const t of this.tokenizer.encode(heal + site.text)) if (d.push(ctx, t, 0)) break;
      if (d.healLeft.length === 0 && d.tokens.length > 0) out.push({ raw: d.toRaw(), site });
    }
    return out;
  }

  /** Log-probabilities of texts after contexts in one batched forward (next-edit ranking: nextEdit/modelScore.ts). */
  scoreTexts(items: readonly ScoreItem[], contextTokens = NEXT_EDIT_CONTEXT_TOKENS): Promise<number[]> {
    const run = this.queue.then(() => scoreTexts(this.runtime, this.tokenizer, items, contextTokens));
    this.queue = run.catch(() => undefined);
    return run;
  }

  async indexFiles(params: IndexFilesParams): Promise<{ files: number; tokens: number }> {
    validateIndexFiles(params);
    let tokens = 0;
    for (const f of params.files) {
      if (!params.replace && f.text.length === 0) continue;
      const ids = this.tokenizer.encode(f.text);
      this.ngrams.setDocument(f.path, ids);
      this.copyIndex.set(f.path, f.text);
      tokens += ids.length;
      await new Promise<void>((r) => setImmediate(r));
    }
    return { files: params.files.length, tokens };
  }

  diagnostics(): DiagnosticsResult {
    const ng = this.ngrams.stats();
    return {
      model: this.info.model,
      device: this.info.device,
      providersTried: this.info.providersTried,
      deviceReason: this.info.deviceReason,
      ...(this.info.gpuFailure ? { gpuFailure: this.info.gpuFailure } : {}),
      cache: { ...this.cache.stats },
      ngrams: { staticLoaded: ng.staticLoaded, workspaceFiles: ng.documents, workspaceTokens: ng.tokens },
      rssBytes: process.memoryUsage().rss,
      requests: this.requests,
      pid: process.pid,
    };
  }

  async dispose(): Promise<void> {
    await this.queue;
    this.cache.clear();
    await this.runtime.dispose();
    this.log('info', 'engine disposed');
  }
}
