/**
 * Superdraft extension entry: wires the inference process client, the inline completion provider, the draft-picker
 * panel, commands, settings, the status bar and workspace n-grams.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { ClientError, InferenceClient } from './client';
import { DEFAULT_BUDGETS, MAX_DOCUMENT_CHARS, buildContext, fitRequest, looksBinary, pickSnippets, skipAutomatic, type DocText, type SnippetCandidate } from './context';
import { CycleTracker, PrefixCache, dedupeDrafts, fitToLineSuffix, type RankedDraft } from './drafts';
import { Logger } from './logger';
import { DraftPanel, PANEL_VIEW_TYPE, type PanelHost } from './panel';
import { panelDrafts, type PanelGroup, type PanelView } from './panelHtml';
import { DEFAULT_SETTINGS, languageEnabled, needsRestart, parseSettings, type Settings } from './settings';
import { StatusBar } from './statusBar';
import { WorkspaceIndexer } from './workspaceIndex';
import { STRATEGIES, type CompletionRequest, type CompletionTiming, type StrategyName } from '../protocol';

/** Command ids (also listed in package.json and /work/notes/extension.md). */
export const Commands = {
  enable: 'superdraft.enable',
  disable: 'superdraft.disable',
  toggle: 'superdraft.toggle',
  chooseStrategy: 'superdraft.chooseStrategy',
  openDraftPicker: 'superdraft.openDraftPicker',
  compareStrategies: 'superdraft.compareStrategies',
  restart: 'superdraft.restartInference',
  diagnostics: 'superdraft.showDiagnostics',
  showMenu: 'superdraft.showMenu',
  showLog: 'superdraft.showLog',
  showNext: 'superdraft.showNextDraft',
  showPrevious: 'superdraft.showPreviousDraft',
  accepted: 'superdraft.accepted',
  reindex: 'superdraft.reindexWorkspace',
} as const;

/** The prefetch waits this long so that the editor renders the drafts just returned before the engine is busy again. */
const PREFETCH_DELAY_MS = 100;
/** URI schemes that never get completions (output panes, SCM input, debug console...). */
const SKIP_SCHEMES = new Set(['output', 'debug', 'vscode-scm', 'comment', 'git', 'vscode-terminal', 'walkThroughSnippet', 'search-editor-body']);

interface Result {
  drafts: RankedDraft[];
  strategy: StrategyName;
  ms: number;
  cached: boolean;
  timing?: CompletionTiming;
}

type Placed = Result & { lineSuffix: string; offset: number };

/** A request under way, which a request for the same position waits for instead of starting over. */
interface Running {
  key: string;
  /** The prompt prefix it completes (with a prefetch, the draft it assumes accepted included). */
  prefix: string;
  offset: number;
  /** A prefetch: its drafts are read back from the prefix cache (they belong to a position not yet typed). */
  background: boolean;
  /** Its result; undefined when it was cancelled or failed. */
  done: Promise<Placed | undefined>;
}

interface ShownList {
  uri: string;
  version: number;
  offset: number;
  signature: string;
  result: Result;
  listId: number;
}

function docText(doc: vscode.TextDocument): DocText {
  // Document length without materialising the text: offset of the end of the last line.
  const last = doc.lineAt(doc.lineCount - 1);
  const length = doc.offsetAt(last.range.end);
  return {
    length,
    slice: (s, e) => doc.getText(new vscode.Range(doc.positionAt(s), doc.positionAt(e))),
  };
}

function delay(ms: number, token: vscode.CancellationToken): Promise<boolean> {
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

class Superdraft implements PanelHost, vscode.Disposable {
  readonly logger = new Logger();
  readonly status = new StatusBar();
  readonly cache = new PrefixCache(100);
  readonly cycle = new CycleTracker();
  readonly client: InferenceClient;
  readonly indexer: WorkspaceIndexer;
  settings: Settings = { ...DEFAULT_SETTINGS };
  private readonly disposables: vscode.Disposable[] = [];
  private panel: DraftPanel | undefined;
  private panelTimer: NodeJS.Timeout | undefined;
  private panelCts: vscode.CancellationTokenSource | undefined;
  private viewSeq = 0;
  private lastEditor: vscode.TextEditor | undefined;
  private shown: ShownList | undefined;
  /** Prefetches in flight (a foreground request cancels them all). */
  private readonly prefetchCts = new Set<vscode.CancellationTokenSource>();
  private prefetchTimer: ReturnType<typeof setTimeout> | undefined;
  /** Requests under way (foreground, started on a keystroke, prefetch) that the same request can join. */
  private readonly running = new Set<Running>();
  /** The latest keystroke's edit, until the selection change that follows it starts a request (startOnKeystroke). */
  private pendingEdit: { doc: vscode.TextDocument; version: number; at: number } | undefined;
  /** The request started by the latest keystroke; the next edit of its document cancels it. */
  private keystrokeCts: { uri: string; cts: vscode.CancellationTokenSource } | undefined;
  /** `editor.inlineSuggest.enabled` per language id (VS Code asks no provider where it is off). */
  private inlineSuggestEnabled = new Map<string, boolean>();
  /** The extension host's own work (context, cache) for the latest request, for the debug log. */
  private lastHostMs = 0;
  private thinking = 0;
  private reportedProblems = new Set<string>();
  private accepted = 0;
  private providerCalls = 0;
  /** Requests answered by joining one under way for the same position (started on the keystroke). */
  private joins = 0;
  private hostMs: number[] = [];
  private compareActive = false;
  private disposing = false;
  /** When the active editor's document last changed (typing while the model loads gets drafts once ready). */
  private lastEditAt = 0;
  /** Documents with a provider request in flight (the panel then waits for its result instead of superseding it). */
  private readonly providerInflight = new Map<string, number>();

  constructor(private readonly ctx: vscode.ExtensionContext) {
    this.readSettings(false);
    this.client = new InferenceClient({
      serverPath: ctx.asAbsolutePath(path.join('dist', 'server.js')),
      init: () => ({ modelPath: this.resolveModelPath(), device: this.settings.device, workspaceNgrams: this.settings.workspaceNgrams }),
      log: (level, message) => this.logger.log(level, message),
    });
    this.indexer = new WorkspaceIndexer(this.client, this.logger, (running, detail) => {
      if (running) this.status.set('indexing', detail);
      else this.refreshStatus();
    });
    this.disposables.push(
      this.logger,
      this.status,
      this.indexer,
      this.client.onState((s) => this.onClientState(s)),
      this.client.onProgress((p) => {
        if (p.kind === 'load' && !p.done) this.status.set('loading', p.message);
      }),
    );
  }

  // ---------------------------------------------------------------- settings

  private resolveModelPath(): string {
    const p = this.settings.modelPath;
    if (!p) return '';
    if (path.isAbsolute(p)) return p;
    const folder = vscode.workspace.workspaceFolders?.[0];
    return folder && folder.uri.scheme === 'file' ? path.join(folder.uri.fsPath, p) : p;
  }

  /** Re-reads `superdraft.*`; reports invalid values once each. Returns the previous settings. */
  readSettings(report = true): Settings {
    const prev = this.settings;
    const cfg = vscode.workspace.getConfiguration('superdraft');
    const { settings, problems } = parseSettings((k) => cfg.get(k));
    this.settings = settings;
    this.logger.level = settings.logLevel;
    for (const p of problems) {
      this.logger.warn(p.message);
      if (report && !this.reportedProblems.has(p.message)) {
        this.reportedProblems.add(p.message);
        void vscode.window.showWarningMessage(`Superdraft: ${p.message}`, 'Open Settings').then((a) => {
          if (a) void vscode.commands.executeCommand('workbench.action.openSettings', p.key);
        });
      }
    }
    if (!report) for (const p of problems) this.reportedProblems.add(p.message);
    return prev;
  }

  private async onConfigChange(): Promise<void> {
    const prev = this.readSettings(true);
    const s = this.settings;
    this.cache.clear();
    if (prev.enable !== s.enable) {
      this.refreshStatus();
      if (!s.enable) this.panel?.status('disabled', 'Superdraft is disabled');
    }
    if (needsRestart(prev, s)) {
      this.logger.info(`model/device changed (${prev.modelPath || 'embedded'}/${prev.device} -> ${s.modelPath || 'embedded'}/${s.device}); restarting the inference process`);
      await this.restartWithProgress();
      return;
    }
    if (prev.workspaceNgrams !== s.workspaceNgrams && this.client.state === 'ready') {
      if (s.workspaceNgrams) void this.indexer.indexWorkspace();
      else void this.indexer.clear();
    }
    this.schedulePanelUpdate(0);
  }

  // ---------------------------------------------------------------- process

  async startProcess(): Promise<void> {
    await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Window, title: 'Superdraft: loading model' },
      () => this.client.start().catch((e: unknown) => this.reportStartError(e)),
    );
  }

  async restartWithProgress(): Promise<void> {
    this.cache.clear();
    this.indexer.reset();
    await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'Superdraft: restarting the inference process…' },
      () => this.client.restart().catch((e: unknown) => this.reportStartError(e)),
    );
  }

  private reportStartError(e: unknown): void {
    const msg = e instanceof Error ? e.message : String(e);
    if (e instanceof ClientError && e.code === 'model_load') {
      void vscode.window
        .showErrorMessage(
          `Superdraft could not load the model: ${msg} Fix: set "superdraft.modelPath" to a directory with config.json, tokenizer.json and the ONNX model, or clear it to use the embedded model; then run "Superdraft: Restart Inference Process".`,
          'Open Settings',
          'Restart',
          'Show Log',
        )
        .then((a) => this.errorAction(a));
    } else if (!(e instanceof ClientError && e.code === 'not_ready')) {
      this.logger.error(`start failed: ${msg}`);
    }
  }

  private errorAction(a: string | undefined): void {
    if (a === 'Open Settings') void vscode.commands.executeCommand('workbench.action.openSettings', 'superdraft.modelPath');
    else if (a === 'Restart') void vscode.commands.executeCommand(Commands.restart);
    else if (a === 'Show Log') this.logger.show();
  }

  private onClientState(s: string): void {
    if (s === 'ready') {
      this.status.device = this.client.info?.device ?? '';
      this.cache.clear();
      const ed = vscode.window.activeTextEditor;
      if (ed && this.eligible(ed.document) && Date.now() - this.lastEditAt < 15_000) {
        // The user typed while the model was loading: ask for ghost text at the cursor now.
        void vscode.commands.executeCommand('editor.action.inlineSuggest.trigger');
      }
      if (this.settings.workspaceNgrams) void this.indexer.indexWorkspace();
    } else if (s === 'error' && !this.client.modelLoadFailed) {
      void vscode.window
        .showErrorMessage(`Superdraft: ${this.client.lastError ?? 'the inference process stopped.'}`, 'Restart', 'Show Log')
        .then((a) => this.errorAction(a));
    } else if (s === 'starting') {
      this.indexer.reset();
      this.status.device = '';
      this.status.latencyMs = undefined;
    }
    this.refreshStatus();
    this.schedulePanelUpdate(0);
  }

  refreshStatus(): void {
    const st = this.client.state;
    if (!this.settings.enable) this.status.set('disabled');
    else if (st === 'error') this.status.set('error', this.client.modelLoadFailed ? 'model failed to load' : (this.client.lastError ?? 'inference process stopped'));
    else if (st === 'starting' || st === 'stopped') this.status.set('loading', this.client.stateReason ?? '');
    else if (this.thinking > 0) this.status.set('thinking');
    else if (this.indexer.running) this.status.set('indexing');
    else this.status.set('ready');
  }

  // ---------------------------------------------------------------- requests

  private paramsSignature(strategy: StrategyName): string {
    const s = this.settings;
    return [strategy, s.drafts, s.maxTokens, s.mode, s.speculative, s.copyDrafts, s.temperature, s.topP].join('|');
  }

  private snippets(doc: vscode.TextDocument): SnippetCandidate[] {
    const out: SnippetCandidate[] = [];
    for (const ed of vscode.window.visibleTextEditors) {
      const d = ed.document;
      if (d === doc || SKIP_SCHEMES.has(d.uri.scheme) || d.lineCount > 50_000) continue;
      const vr = ed.visibleRanges[0];
      if (!vr) continue;
      const r = new vscode.Range(vr.start.line, 0, Math.min(d.lineCount - 1, vr.start.line + 60), 0);
      out.push({ path: vscode.workspace.asRelativePath(d.uri), text: d.getText(r) });
    }
    return pickSnippets(out, DEFAULT_BUDGETS);
  }

  private eligible(doc: vscode.TextDocument): boolean {
    if (!this.settings.enable || SKIP_SCHEMES.has(doc.uri.scheme)) return false;
    // Read-only file systems (e.g. git history, virtual read-only providers): nothing can be inserted.
    if (vscode.workspace.fs.isWritableFileSystem(doc.uri.scheme) === false) return false;
    if (!languageEnabled(this.settings.languages, doc.languageId)) return false;
    return true;
  }

  /**
   * Drafts for a position: cache first (typing-as-suggested), otherwise a request after the debounce.
   * `token` cancels; requests for the same document supersede each other.
   */
  async draftsAt(
    doc: vscode.TextDocument,
    pos: vscode.Position,
    token: vscode.CancellationToken,
    opts: {
      strategy?: StrategyName;
      debounce: boolean;
      useCache: boolean;
      supersede: boolean;
      insert?: { start: number; text: string };
      automatic?: boolean;
      /** A prefetch: no status bar or panel updates. */
      background?: boolean;
      /** Interactive: the latency budget applies (ghost text, the draft picker). */
      budget?: boolean;
      /** Started on a keystroke before VS Code asked (startOnKeystroke): labelled so in the log. */
      keystroke?: boolean;
    },
  ): Promise<Placed | undefined> {
    const t0 = performance.now();
    const text = docText(doc);
    if (text.length > MAX_DOCUMENT_CHARS) return undefined;
    const offset = doc.offsetAt(pos);
    const ctx = buildContext(text, offset, DEFAULT_BUDGETS, opts.insert);
    if (opts.automatic && !opts.insert && skipAutomatic(ctx.lineSuffix)) return undefined;
    if (looksBinary(ctx.prefix.slice(-4096))) return undefined;
    const strategy = opts.strategy ?? this.settings.strategy;
    const virtualOffset = opts.insert ? opts.insert.start + opts.insert.text.length : offset;
    const key = `${doc.uri.toString()}\u0000${this.paramsSignature(strategy)}\u0000${ctx.suffix}`;
    let hostMs: number | undefined;
    const fromCache = () => {
      const hit = this.cache.lookup(key, ctx.prefix, virtualOffset, strategy === 'greedy' ? 1 : this.settings.drafts);
      if (!hit) return undefined;
      this.logger.debug(`cache hit (${hit.typed} typed chars): ${hit.drafts.length} drafts`);
      return { drafts: hit.drafts, strategy, ms: 0, cached: true, lineSuffix: ctx.lineSuffix, offset };
    };
    if (opts.useCache) {
      const hit = fromCache();
      if (hit) {
        this.recordHostMs(performance.now() - t0);
        return hit;
      }
      // The same request is under way (started on the keystroke before VS Code asked, or a prefetch of the
      // position Tab just moved to): wait for it instead of cancelling it and starting over.
      const r = this.findRunning(key, ctx.prefix, virtualOffset);
      if (r) {
        hostMs = performance.now() - t0; // the wait below is not the host's own work
        let sub: vscode.Disposable | undefined;
        const res = await Promise.race([r.done, new Promise<undefined>((resolve) => (sub = token.onCancellationRequested(() => resolve(undefined))))]);
        sub?.dispose();
        if (token.isCancellationRequested) return undefined;
        const joined = r.background ? fromCache() : res && { ...res, lineSuffix: ctx.lineSuffix, offset };
        if (joined) {
          if (!r.background) this.joins++;
          this.recordHostMs(hostMs);
          return joined;
        }
      }
    }
    const s = this.settings;
    // Within the protocol's bounds (LIMITS): a very long path or a huge visible snippet is trimmed, never refused.
    const req: CompletionRequest = fitRequest({
      prefix: ctx.prefix,
      suffix: ctx.suffix,
      languageId: doc.languageId,
      path: doc.isUntitled ? doc.uri.path : vscode.workspace.asRelativePath(doc.uri),
      snippets: this.snippets(doc),
      strategy,
      k: s.drafts,
      maxTokens: s.maxTokens,
      mode: s.mode,
      speculative: s.speculative,
      ...(s.copyDrafts ? {} : { copyDrafts: false }),
      temperature: s.temperature,
      topP: s.topP,
      ...(opts.budget && s.latencyBudgetMs > 0 ? { timeBudgetMs: s.latencyBudgetMs } : {}),
    });
    const fg = !opts.background;
    if (fg) {
      this.recordHostMs(hostMs ?? performance.now() - t0);
    } else if (this.cache.has(key, ctx.prefix, virtualOffset) || this.findRunning(key, ctx.prefix, virtualOffset)) {
      // Already computed, or being computed (the user typed part of the draft that started this prefetch).
      return undefined;
    }
    const run = async (): Promise<Placed | undefined> => {
      if (opts.debounce && !(await delay(s.debounceMs, token))) return undefined;
      // Typed while the model is loading: answer once it is ready (unless the request is cancelled meanwhile).
      if (this.client.state === 'starting' && !(await this.untilReady(token))) return undefined;
      if (this.client.state !== 'ready' || token.isCancellationRequested) return undefined;
      if (fg) {
        // The engine runs one request at a time: a prefetch (in any document) must not delay what the user waits for.
        for (const c of this.prefetchCts) c.cancel();
        this.thinking++;
        this.refreshStatus();
        this.panel?.status('thinking');
      }
      const label = fg ? (opts.keystroke ? 'keystroke: ' : '') : 'prefetch: ';
      const t1 = performance.now();
      try {
        const res = await this.client.complete(req, token, opts.supersede ? doc.uri.toString() : undefined);
        const ms = performance.now() - t1;
        const drafts = dedupeDrafts(res.drafts);
        this.cache.put({ key, prefix: ctx.prefix, offset: virtualOffset, drafts, strategy, ms });
        if (fg) this.status.latencyMs = ms;
        this.logger.debug(
          `${label}${strategy} k=${s.drafts}: ${drafts.length} drafts in ${ms.toFixed(0)} ms (engine ${res.timing.totalMs.toFixed(0)} ms, prefill ${res.timing.prefillTokens} tok, reused ${res.timing.reusedTokens}${res.timing.budgetCuts ? `, time budget: ${res.timing.budgetCuts} cut at a line end` : ''})`,
        );
        if (fg) this.panel?.status('ready');
        return { drafts, strategy, ms, cached: false, timing: res.timing, lineSuffix: ctx.lineSuffix, offset };
      } catch (err) {
        if (err instanceof ClientError && (err.code === 'cancelled' || err.code === 'not_ready')) {
          if (fg) this.panel?.status('idle');
          return undefined;
        }
        const msg = err instanceof Error ? err.message : String(err);
        this.logger.warn(`${label}completion failed: ${msg}`);
        if (fg) this.panel?.status('error', msg);
        throw err;
      } finally {
        if (fg) {
          this.thinking--;
          this.refreshStatus();
        }
      }
    };
    const pending = run();
    const me: Running = { key, prefix: ctx.prefix, offset: virtualOffset, background: !fg, done: pending.catch(() => undefined) };
    this.running.add(me);
    void me.done.then(() => this.running.delete(me));
    return pending;
  }

  /** A request under way for this position (its prompt may start earlier: the prefix window of a prefetch). */
  private findRunning(key: string, prefix: string, offset: number): Running | undefined {
    for (const r of this.running) if (r.key === key && r.offset === offset && r.prefix.endsWith(prefix)) return r;
    return undefined;
  }

  /**
   * startOnKeystroke: VS Code asks inline providers about 50 ms after a keystroke (its fixed debounce for automatic
   * requests; a stable-API provider cannot shorten it). Starting the same request on the keystroke itself, from the
   * document and selection events that reach the extension host a few ms after it, lets the engine use that wait:
   * the provider then joins the request under way (or finds its drafts in the cache). The next edit of the document
   * cancels it, as VS Code cancels the provider; so does any other request for the document (supersede).
   */
  private onEdit(e: vscode.TextDocumentChangeEvent): void {
    if (!e.contentChanges.length) return;
    const uri = e.document.uri.toString();
    if (this.keystrokeCts?.uri === uri) {
      this.keystrokeCts.cts.cancel();
      this.keystrokeCts = undefined;
    }
    if (e.document !== vscode.window.activeTextEditor?.document) return;
    this.lastEditAt = Date.now();
    // Undo and redo: VS Code does not trigger inline suggestions for them.
    this.pendingEdit = this.settings.startOnKeystroke && e.reason === undefined ? { doc: e.document, version: e.document.version, at: performance.now() } : undefined;
  }

  private onSelection(e: vscode.TextEditorSelectionChangeEvent): void {
    const edit = this.pendingEdit;
    if (!edit || e.textEditor.document !== edit.doc) return;
    this.pendingEdit = undefined;
    const doc = edit.doc;
    // The cursor moved by the edit itself (the events arrive together), not by a later click or arrow key.
    if (doc.version !== edit.version || performance.now() - edit.at > 100 || e.textEditor !== vscode.window.activeTextEditor) return;
    // One empty cursor (the provider's position); with several, VS Code still asks, and the provider does it then.
    if (e.selections.length !== 1 || !e.selections[0]!.isEmpty) return;
    if (!this.eligible(doc) || this.client.state !== 'ready' || !this.inlineSuggestOn(doc.languageId)) return;
    const cts = new vscode.CancellationTokenSource();
    this.keystrokeCts = { uri: doc.uri.toString(), cts };
    this.draftsAt(doc, e.selections[0]!.active, cts.token, { debounce: true, useCache: true, supersede: true, budget: true, automatic: true, keystroke: true })
      .catch(() => undefined)
      .finally(() => {
        if (this.keystrokeCts?.cts === cts) this.keystrokeCts = undefined;
        cts.dispose();
      });
  }

  private inlineSuggestOn(languageId: string): boolean {
    let on = this.inlineSuggestEnabled.get(languageId);
    if (on === undefined) {
      on = vscode.workspace.getConfiguration('editor.inlineSuggest', { languageId }).get<boolean>('enabled') !== false;
      this.inlineSuggestEnabled.set(languageId, on);
    }
    return on;
  }

  private untilReady(token: vscode.CancellationToken): Promise<boolean> {
    return new Promise((resolve) => {
      const sub = token.onCancellationRequested(() => {
        sub.dispose();
        resolve(false);
      });
      this.client.ready().then(
        () => {
          sub.dispose();
          resolve(true);
        },
        () => {
          sub.dispose();
          resolve(false);
        },
      );
    });
  }

  private recordHostMs(ms: number): void {
    this.lastHostMs = ms;
    this.hostMs.push(ms);
    if (this.hostMs.length > 200) this.hostMs.shift();
  }

  // ---------------------------------------------------------------- inline completions

  /** The provider with one debug line per call: how long VS Code waited on us, and for what. */
  private async provideTimed(
    doc: vscode.TextDocument,
    pos: vscode.Position,
    context: vscode.InlineCompletionContext,
    token: vscode.CancellationToken,
  ): Promise<vscode.InlineCompletionList | undefined> {
    const t0 = performance.now();
    const before = { cached: this.cache.hits, joins: this.joins };
    this.lastHostMs = NaN;
    const list = await this.provideInlineCompletionItems(doc, pos, context, token);
    if (this.logger.enabled('debug')) {
      const how = token.isCancellationRequested ? 'cancelled' : list ? `${list.items.length} items` : 'no items';
      const src = this.cache.hits > before.cached ? ', from cache' : this.joins > before.joins ? ', joined the request started on the keystroke' : '';
      const kind = context.triggerKind === vscode.InlineCompletionTriggerKind.Automatic ? 'automatic' : 'invoked';
      const host = Number.isNaN(this.lastHostMs) ? '' : `, host ${this.lastHostMs.toFixed(2)} ms`;
      this.logger.debug(`inline ${kind} ${pos.line + 1}:${pos.character + 1} v${doc.version}: ${how} in ${(performance.now() - t0).toFixed(1)} ms${src}${host}${context.selectedCompletionInfo ? ', suggest widget' : ''}`);
    }
    return list;
  }

  async provideInlineCompletionItems(
    doc: vscode.TextDocument,
    pos: vscode.Position,
    context: vscode.InlineCompletionContext,
    token: vscode.CancellationToken,
  ): Promise<vscode.InlineCompletionList | undefined> {
    if (!this.eligible(doc)) return undefined;
    this.providerCalls++;
    const sel = context.selectedCompletionInfo;
    let insert: { start: number; text: string } | undefined;
    if (sel) {
      // Suggest widget open: complete as if the selected item were accepted, and only offer items extending it.
      if (sel.range.end.line !== pos.line || sel.range.start.line !== pos.line) return undefined;
      insert = { start: doc.offsetAt(sel.range.start), text: sel.text };
    }
    let res;
    const uri = doc.uri.toString();
    this.providerInflight.set(uri, (this.providerInflight.get(uri) ?? 0) + 1);
    try {
      res = await this.draftsAt(doc, pos, token, {
        debounce: true,
        useCache: true,
        budget: true,
        supersede: true,
        insert,
        automatic: context.triggerKind === vscode.InlineCompletionTriggerKind.Automatic,
      });
    } catch {
      return undefined;
    } finally {
      const n = (this.providerInflight.get(uri) ?? 1) - 1;
      if (n > 0) this.providerInflight.set(uri, n);
      else this.providerInflight.delete(uri);
    }
    if (!res || token.isCancellationRequested) return undefined;
    const items: vscode.InlineCompletionItem[] = [];
    const listSig = res.drafts.map((d) => d.text).join('\u0000');
    const same = this.shown && this.shown.uri === doc.uri.toString() && this.shown.signature === listSig;
    const listId = same ? this.shown!.listId : this.cycle.reset(res.drafts.length);
    for (const d of res.drafts) {
      let item: vscode.InlineCompletionItem;
      const command: vscode.Command = { command: Commands.accepted, title: 'Superdraft: draft accepted', arguments: [{ listId, rank: d.rank, strategy: d.strategy }] };
      if (sel && insert) {
        const text = sel.text + d.text;
        item = new vscode.InlineCompletionItem(text, sel.range, command);
      } else {
        const fit = fitToLineSuffix(d.text, res.lineSuffix);
        if (!fit.text) continue;
        item = new vscode.InlineCompletionItem(fit.text, new vscode.Range(pos, pos.translate(0, fit.replaceChars)), command);
      }
      items.push(item);
    }
    if (!items.length) return undefined;
    if (!sel && context.triggerKind === vscode.InlineCompletionTriggerKind.Automatic) this.schedulePrefetch(doc, pos, res);
    this.shown = { uri: doc.uri.toString(), version: doc.version, offset: res.offset, signature: listSig, result: res, listId };
    if (!same) this.panel?.shown(res.drafts[0]!.strategy, 1);
    if (this.panel?.visible && !this.compareActive) this.showDraftsInPanel(doc, pos, res);
    return new vscode.InlineCompletionList(items);
  }

  /**
   * Prefetch (as Copilot's speculative requests do): with the cursor at the end of a line, the first draft is
   * what the user most likely accepts or types next, so compute the completion that follows it now, in the
   * background, into the prefix cache. Accepting or typing the draft then shows the next drafts with no wait.
   * Runs only while nothing else is asked of the engine: any foreground request cancels it, and so does an edit
   * other than typing the draft. Also scheduled for drafts served from the cache (typed-as-suggested), where it
   * is skipped when that target is already cached or being computed.
   */
  private schedulePrefetch(doc: vscode.TextDocument, pos: vscode.Position, res: Result & { lineSuffix: string; offset: number }): void {
    if (!this.settings.prefetch || res.lineSuffix.trim() !== '') return;
    const draft = res.drafts[0]?.text;
    if (!draft || !draft.trim()) return;
    // What accepting it inserts: VS Code writes line breaks in the document's own form.
    const first = draft.replace(/\r?\n/g, doc.eol === vscode.EndOfLine.CRLF ? '\r\n' : '\n');
    const version = doc.version;
    const uri = doc.uri.toString();
    if (this.prefetchTimer) clearTimeout(this.prefetchTimer);
    this.prefetchTimer = setTimeout(() => {
      this.prefetchTimer = undefined;
      // Typed or moved since: the provider's next request covers it.
      if (doc.isClosed || doc.version !== version || (this.providerInflight.get(uri) ?? 0) > 0) return;
      const ed = vscode.window.activeTextEditor;
      if (!ed || ed.document !== doc || !ed.selection.active.isEqual(pos)) return;
      const cts = new vscode.CancellationTokenSource();
      this.prefetchCts.add(cts);
      // Typing the prefetched draft (insertions at the cursor that spell it) keeps it useful; any other edit
      // makes it stale.
      let typed = '';
      const sub = vscode.workspace.onDidChangeTextDocument((e) => {
        if (e.document !== doc) return;
        for (const c of e.contentChanges) {
          if (c.rangeLength === 0 && c.rangeOffset === res.offset + typed.length && first.startsWith(typed + c.text)) typed += c.text;
          else cts.cancel();
        }
      });
      this.draftsAt(doc, pos, cts.token, {
        debounce: false,
        useCache: false,
        supersede: false, // cancelled through prefetchCts (edits, and any foreground request)
        insert: { start: res.offset, text: first },
        background: true,
      })
        .catch(() => undefined)
        .finally(() => {
          sub.dispose();
          this.prefetchCts.delete(cts);
          cts.dispose();
        });
    }, PREFETCH_DELAY_MS);
  }

  // ---------------------------------------------------------------- panel

  private showDraftsInPanel(doc: vscode.TextDocument, pos: vscode.Position, res: Result): void {
    const group: PanelGroup = {
      strategy: res.strategy,
      ms: res.cached ? undefined : res.ms,
      cached: res.cached,
      timing: res.timing,
      drafts: panelDrafts(res.drafts, pos.line),
    };
    this.panel?.showView(this.makeView('drafts', doc, pos, [group]));
  }

  private makeView(mode: PanelView['mode'], doc: vscode.TextDocument, pos: vscode.Position, groups: PanelGroup[]): PanelView {
    return {
      id: ++this.viewSeq,
      mode,
      file: vscode.workspace.asRelativePath(doc.uri),
      line: pos.line + 1,
      column: pos.character + 1,
      languageId: doc.languageId,
      groups,
    };
  }

  private activeEditor(): vscode.TextEditor | undefined {
    const ed = vscode.window.activeTextEditor ?? this.lastEditor;
    if (ed && !ed.document.isClosed) return ed;
    return undefined;
  }

  openPanel(focus = true): DraftPanel {
    const ed = this.activeEditor();
    const column = ed?.viewColumn !== undefined ? ((ed.viewColumn + 1) as vscode.ViewColumn) : vscode.ViewColumn.Beside;
    if (this.panel) {
      this.panel.reveal(this.panel.panel.viewColumn ?? column, !focus);
    } else {
      this.attachPanel(DraftPanel.create(this.ctx.extensionUri, this, vscode.ViewColumn.Beside, !focus));
    }
    this.compareActive = false;
    this.schedulePanelUpdate(0);
    return this.panel!;
  }

  attachPanel(panel: DraftPanel): void {
    this.panel = panel;
    panel.onDidDispose = () => {
      if (this.panel === panel) this.panel = undefined;
      this.panelCts?.cancel();
      void vscode.commands.executeCommand('setContext', 'superdraft.draftPickerOpen', false);
      const ed = this.lastEditor;
      if (!this.disposing && ed && !ed.document.isClosed) void vscode.window.showTextDocument(ed.document, ed.viewColumn);
    };
    void vscode.commands.executeCommand('setContext', 'superdraft.draftPickerOpen', true);
  }

  refresh(): void {
    if (this.panel?.view) this.panel.showView(this.panel.view);
    this.schedulePanelUpdate(0);
  }

  schedulePanelUpdate(ms = 120): void {
    if (!this.panel?.visible || this.compareActive) return;
    if (this.panelTimer) clearTimeout(this.panelTimer);
    this.panelTimer = setTimeout(() => {
      this.panelTimer = undefined;
      void this.updatePanel();
    }, ms);
  }

  private async updatePanel(): Promise<void> {
    const panel = this.panel;
    if (!panel?.visible || this.compareActive) return;
    if (!this.settings.enable) return panel.status('disabled', 'Superdraft is disabled');
    if (this.client.state === 'error') return panel.status('error', this.client.lastError ?? 'inference process stopped');
    if (this.client.state !== 'ready') return panel.status('thinking', 'loading model…');
    const ed = this.activeEditor();
    if (!ed || !this.eligible(ed.document)) return panel.status('idle', ed ? 'not enabled for this file' : 'no editor');
    const doc = ed.document;
    const pos = ed.selection.active;
    const offset = doc.offsetAt(pos);
    // The provider already computed drafts here: reuse them.
    if (this.shown && this.shown.uri === doc.uri.toString() && this.shown.version === doc.version && this.shown.offset === offset) {
      this.showDraftsInPanel(doc, pos, this.shown.result);
      return;
    }
    if (this.providerInflight.has(doc.uri.toString())) {
      // The inline provider is computing drafts for this document; its result updates the panel. Check again later.
      this.schedulePanelUpdate(150);
      return;
    }
    this.panelCts?.cancel();
    const cts = new vscode.CancellationTokenSource();
    this.panelCts = cts;
    try {
      const res = await this.draftsAt(doc, pos, cts.token, { debounce: false, useCache: true, supersede: true, budget: true });
      if (res && !cts.token.isCancellationRequested && this.panel === panel) this.showDraftsInPanel(doc, pos, res);
    } catch (err) {
      panel.status('error', err instanceof Error ? err.message : String(err));
    } finally {
      cts.dispose();
      if (this.panelCts === cts) this.panelCts = undefined;
    }
  }

  async compareStrategies(): Promise<PanelView | undefined> {
    const ed = this.activeEditor();
    if (!ed) {
      void vscode.window.showInformationMessage('Superdraft: open a file and place the cursor to compare strategies.');
      return undefined;
    }
    try {
      await this.client.ready();
    } catch (e) {
      void vscode.window.showErrorMessage(`Superdraft: ${e instanceof Error ? e.message : String(e)}`);
      return undefined;
    }
    const panel = this.openPanel(false);
    this.compareActive = true;
    this.panelCts?.cancel();
    const doc = ed.document;
    const pos = ed.selection.active;
    const groups: PanelGroup[] = STRATEGIES.map((strategy) => ({ strategy, drafts: [] }));
    const view = this.makeView('compare', doc, pos, groups);
    panel.showView(view);
    const cts = new vscode.CancellationTokenSource();
    this.panelCts = cts;
    for (const g of groups) {
      if (cts.token.isCancellationRequested || this.panel !== panel) break;
      panel.status('thinking', `running ${g.strategy}…`);
      try {
        const res = await this.draftsAt(doc, pos, cts.token, { strategy: g.strategy, debounce: false, useCache: false, supersede: false });
        if (res) {
          g.ms = res.ms;
          g.timing = res.timing;
          g.drafts = panelDrafts(res.drafts, pos.line);
        }
      } catch (err) {
        g.error = err instanceof Error ? err.message : String(err);
      }
      panel.showView({ ...view, groups: groups.map((x) => ({ ...x })) });
    }
    panel.status('ready', 'comparison done');
    this.logger.info(`compare at ${view.file}:${view.line}:${view.column}: ${groups.map((g) => `${g.strategy} ${g.ms?.toFixed(0) ?? '-'} ms`).join(', ')}`);
    return panel.view;
  }

  insert(viewId: number, strategy: string, rank: number): void {
    const view = this.panel?.view;
    if (!view || view.id !== viewId) {
      this.logger.debug(`ignored insert from a stale panel view ${viewId}`);
      return;
    }
    const draft = view.groups.find((g) => g.strategy === strategy)?.drafts.find((d) => d.rank === rank);
    const ed = this.activeEditor();
    if (!draft || !ed) return;
    void (async () => {
      const ok = await ed.edit((b) => {
        if (ed.selection.isEmpty) b.insert(ed.selection.active, draft.text);
        else b.replace(ed.selection, draft.text);
      });
      if (!ok) {
        void vscode.window.showWarningMessage('Superdraft: the draft could not be inserted (is the editor read-only?).');
        return;
      }
      this.accepted++;
      this.logger.info(`inserted draft #${rank} (${strategy}) from the panel`);
      this.compareActive = false;
      await vscode.window.showTextDocument(ed.document, ed.viewColumn, false);
    })();
  }

  log(message: string): void {
    this.logger.debug(message);
  }

  // ---------------------------------------------------------------- commands

  private async setEnabled(on: boolean): Promise<void> {
    await vscode.workspace.getConfiguration('superdraft').update('enable', on, vscode.ConfigurationTarget.Global);
  }

  async chooseStrategy(): Promise<StrategyName | undefined> {
    const items = STRATEGIES.map((s) => {
      const lat = this.client.latency.get(s);
      return {
        label: s,
        description: s === this.settings.strategy ? '(current)' : '',
        detail: lat !== undefined ? `last completion ${Math.round(lat)} ms` : 'not measured yet',
        strategy: s,
      };
    });
    const pick = await vscode.window.showQuickPick(items, { title: 'Superdraft: decoding strategy', placeHolder: 'Choose how drafts are decoded' });
    if (!pick) return undefined;
    const cfg = vscode.workspace.getConfiguration('superdraft');
    const insp = cfg.inspect('strategy');
    const target = insp?.workspaceFolderValue !== undefined || insp?.workspaceValue !== undefined ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
    await cfg.update('strategy', pick.strategy, target);
    return pick.strategy;
  }

  async diagnostics(open = true): Promise<Record<string, unknown>> {
    let server: unknown;
    try {
      server = await this.client.diagnostics();
    } catch (e) {
      server = { error: e instanceof Error ? e.message : String(e) };
    }
    const host = [...this.hostMs].sort((a, b) => a - b);
    const q = (p: number) => (host.length ? +host[Math.min(host.length - 1, Math.floor(p * host.length))]!.toFixed(3) : null);
    const report = {
      state: this.client.state,
      lastError: this.client.lastError ?? null,
      pid: this.client.pid ?? null,
      initialize: this.client.info ?? null,
      server,
      client: {
        requests: this.client.requests,
        cancelled: this.client.cancelled,
        restarts: this.client.restarts,
        providerCalls: this.providerCalls,
        joinedKeystrokeRequests: this.joins,
        accepted: this.accepted,
        latencyMs: Object.fromEntries([...this.client.latency].map(([k, v]) => [k, Math.round(v)])),
        hostWorkMs: { p50: q(0.5), p95: q(0.95), max: host.length ? +host[host.length - 1]!.toFixed(3) : null, samples: host.length },
        prefixCache: { entries: this.cache.size, hits: this.cache.hits, misses: this.cache.misses },
        workspaceNgrams: { enabled: this.settings.workspaceNgrams, files: this.indexer.files, tokens: this.indexer.tokens, indexing: this.indexer.running },
      },
      settings: this.settings,
    };
    if (open) {
      const doc = await vscode.workspace.openTextDocument({ language: 'json', content: JSON.stringify(report, null, 2) });
      await vscode.window.showTextDocument(doc, { preview: true });
    }
    return report;
  }

  async showMenu(): Promise<void> {
    type Item = vscode.QuickPickItem & { run: () => unknown };
    const s = this.settings;
    const items: Item[] = [
      { label: s.enable ? '$(circle-slash) Disable completions' : '$(check) Enable completions', run: () => this.setEnabled(!s.enable) },
      { label: '$(settings) Choose strategy…', description: s.strategy, run: () => this.chooseStrategy() },
      { label: '$(list-unordered) Open draft picker', run: () => this.openPanel(true) },
      { label: '$(split-horizontal) Compare strategies at cursor', run: () => this.compareStrategies() },
      { label: '$(debug-restart) Restart inference process', run: () => this.restartWithProgress() },
      { label: '$(pulse) Show diagnostics', run: () => this.diagnostics(true) },
      { label: '$(output) Show log', run: () => this.logger.show() },
      { label: '$(gear) Open settings', run: () => vscode.commands.executeCommand('workbench.action.openSettings', '@ext:superdraft.superdraft') },
    ];
    const title = `Superdraft — ${this.client.state}${this.client.info ? ` on ${this.client.info.device}` : ''}${this.status.latencyMs !== undefined ? `, last ${Math.round(this.status.latencyMs)} ms` : ''}`;
    const pick = await vscode.window.showQuickPick(items, { title });
    if (pick) await pick.run();
  }

  async cycleShown(dir: 1 | -1): Promise<number> {
    await vscode.commands.executeCommand(dir > 0 ? 'editor.action.inlineSuggest.showNext' : 'editor.action.inlineSuggest.showPrevious');
    const idx = dir > 0 ? this.cycle.next() : this.cycle.previous();
    const d = this.shown?.result.drafts[idx];
    if (d) this.panel?.shown(d.strategy, d.rank);
    return idx;
  }

  onAccepted(info: { listId: number; rank: number; strategy: StrategyName } | undefined): void {
    this.accepted++;
    this.logger.info(`accepted ghost-text draft #${info?.rank ?? '?'} (${info?.strategy ?? '?'})`);
  }

  // ---------------------------------------------------------------- wiring

  activate(): void {
    const c = this.ctx;
    const reg = (id: string, fn: (...a: any[]) => unknown) => this.disposables.push(vscode.commands.registerCommand(id, fn));
    reg(Commands.enable, () => this.setEnabled(true));
    reg(Commands.disable, () => this.setEnabled(false));
    reg(Commands.toggle, () => this.setEnabled(!this.settings.enable));
    reg(Commands.chooseStrategy, () => this.chooseStrategy());
    reg(Commands.openDraftPicker, () => {
      this.openPanel(true);
    });
    reg(Commands.compareStrategies, () => this.compareStrategies());
    reg(Commands.restart, () => this.restartWithProgress());
    reg(Commands.diagnostics, (open?: boolean) => this.diagnostics(open !== false));
    reg(Commands.showMenu, () => this.showMenu());
    reg(Commands.showLog, () => this.logger.show());
    reg(Commands.showNext, () => this.cycleShown(1));
    reg(Commands.showPrevious, () => this.cycleShown(-1));
    reg(Commands.accepted, (info) => this.onAccepted(info));
    reg(Commands.reindex, () => this.indexer.indexWorkspace());

    this.disposables.push(
      // A plain adapter object: VS Code probes providers for optional hooks, so expose only the stable method.
      vscode.languages.registerInlineCompletionItemProvider(
        { pattern: '**' },
        { provideInlineCompletionItems: (doc, pos, context, token) => this.provideTimed(doc, pos, context, token) },
      ),
      vscode.window.registerWebviewPanelSerializer(PANEL_VIEW_TYPE, {
        deserializeWebviewPanel: async (panel: vscode.WebviewPanel) => {
          panel.webview.options = DraftPanel.options(c.extensionUri);
          this.panel?.dispose();
          this.attachPanel(new DraftPanel(panel, c.extensionUri, this));
        },
      }),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('superdraft')) void this.onConfigChange();
        if (e.affectsConfiguration('editor.inlineSuggest.enabled')) this.inlineSuggestEnabled.clear();
      }),
      vscode.workspace.onDidSaveTextDocument((doc) => {
        if (this.settings.workspaceNgrams && this.client.state === 'ready') void this.indexer.onSave(doc);
      }),
      // Nothing is indexed in an untrusted workspace: once the user trusts it, index it.
      vscode.workspace.onDidGrantWorkspaceTrust(() => {
        if (this.settings.workspaceNgrams && this.client.state === 'ready') void this.indexer.indexWorkspace();
      }),
      vscode.window.onDidChangeActiveTextEditor((ed) => {
        if (ed) {
          this.lastEditor = ed;
          this.compareActive = false;
          this.schedulePanelUpdate();
        }
      }),
      vscode.window.onDidChangeTextEditorSelection((e) => {
        this.onSelection(e);
        if (e.textEditor.document.uri.scheme === 'output') return;
        this.lastEditor = e.textEditor;
        if (this.compareActive) this.compareActive = false;
        this.schedulePanelUpdate();
      }),
      vscode.workspace.onDidChangeTextDocument((e) => this.onEdit(e)),
      vscode.workspace.onDidCloseTextDocument((d) => {
        if (this.shown?.uri === d.uri.toString()) this.shown = undefined;
      }),
    );
    this.lastEditor = vscode.window.activeTextEditor;
    this.refreshStatus();
    void this.startProcess();
  }

  async shutdown(): Promise<void> {
    if (this.panelTimer) clearTimeout(this.panelTimer);
    this.panelCts?.cancel();
    await this.client.stop();
  }

  dispose(): void {
    this.disposing = true;
    if (this.prefetchTimer) clearTimeout(this.prefetchTimer);
    for (const c of this.prefetchCts) c.cancel();
    this.panel?.dispose();
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}

let instance: Superdraft | undefined;

export function activate(context: vscode.ExtensionContext): { superdraft: unknown } {
  instance = new Superdraft(context);
  context.subscriptions.push(instance);
  instance.activate();
  return { superdraft: instance };
}

export async function deactivate(): Promise<void> {
  const s = instance;
  instance = undefined;
  await s?.shutdown();
}
