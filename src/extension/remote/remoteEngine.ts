/**
 * A remote server as the pipeline's engine (completions/pipeline.ts: CompletionSource), beside the local inference process
 * (process/client.ts: InferenceClient). Plain Node (no `vscode` import): the tests drive it against the loopback
 * servers.
 *  - Cancellation: the VS Code token aborts the HTTP request (the server sees the connection close); a new request
 *    with the same supersede key (the document) aborts the one before it, as the local client does.
 *  - Errors: the first failure sets state 'error' with the cause (the status bar shows it) and is reported once per
 *    cause through `onProblem`; while in error no request is sent (the pipeline asks only a ready engine), so there is
 *    never an error per keystroke. A cause that a retry can fix (unreachable, timeout, cut off, HTTP 5xx) turns back
 *    to 'ready' after a backoff (1 s doubling to 30 s) and the next keystroke tries again; the others (wrong key,
 *    unknown model, no FIM) wait for a settings or key change (configure).
 */
import type { CompletionRequest, CompletionResponse, InitializeResult, ProgressParams } from '../../protocol';
import { RemoteCompleter, RemoteError, type RemoteConfig } from '../../remote/remote';
import { ClientError, type ClientState, type TokenLike } from '../process/client';

export interface RemoteEngineOptions {
  log?: (level: 'error' | 'warn' | 'info' | 'debug', message: string) => void;
  /** A new cause of failure (at most once per cause until it works again). */
  onProblem?: (e: RemoteError) => void;
  /** First retry delay after a transient failure, ms (doubles up to maxBackoffMs). */
  backoffMs?: number;
  maxBackoffMs?: number;
}

type Listener<T> = (v: T) => void;

export class RemoteEngine {
  state: ClientState = 'stopped';
  stateReason: string | undefined;
  lastError: string | undefined;
  /** Never true: no model is loaded here (kept for the status bar's shape). */
  readonly modelLoadFailed = false;
  info: InitializeResult | undefined;
  requests = 0;
  cancelled = 0;
  private completer: RemoteCompleter | undefined;
  /** Requests under way (a settings change or dispose aborts them; the pipeline supersedes by document). */
  private readonly inflight = new Set<AbortController>();
  private readonly listeners = new Set<Listener<ClientState>>();
  private backoff = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private reported = new Set<string>();

  constructor(private readonly opts: RemoteEngineOptions = {}) {}

  /** The server to use (undefined: none, state 'stopped'). Clears an error: the user changed something. */
  configure(cfg: RemoteConfig | undefined): void {
    for (const ac of this.inflight.values()) ac.abort();
    this.inflight.clear();
    clearTimeout(this.retryTimer);
    this.backoff = 0;
    this.reported.clear();
    this.lastError = undefined;
    this.stateReason = undefined;
    this.completer = cfg ? new RemoteCompleter({ ...cfg, notice: (m) => this.opts.log?.('info', m) }) : undefined;
    this.info = cfg && this.completer ? this.describe(cfg.model || '(the server\'s model)') : undefined;
    this.setState(cfg ? 'ready' : 'stopped');
  }

  onState(l: Listener<ClientState>): { dispose(): void } {
    this.listeners.add(l);
    return { dispose: () => this.listeners.delete(l) };
  }

  /** No progress to report (nothing loads); the status bar's shape. */
  onProgress(_l: Listener<ProgressParams>): { dispose(): void } {
    return { dispose: () => undefined };
  }

  async ready(): Promise<InitializeResult> {
    if (this.state !== 'ready' || !this.info) throw new ClientError(this.lastError ?? 'no remote backend configured', 'not_ready');
    return this.info;
  }

  async complete(req: CompletionRequest, token?: TokenLike): Promise<CompletionResponse> {
    const completer = this.completer;
    if (!completer || this.state !== 'ready') throw new ClientError(this.lastError ?? 'remote backend not ready', 'not_ready');
    const ac = new AbortController();
    this.inflight.add(ac);
    const sub = token?.onCancellationRequested(() => ac.abort());
    if (token?.isCancellationRequested) ac.abort();
    this.requests++;
    try {
      const res = await completer.complete(req, ac.signal);
      this.backoff = 0;
      this.reported.clear();
      const ran = res.server.ran;
      const info = this.describe(res.server.model, ran !== req.strategy ? `${ran}: the server cannot do ${req.strategy}` : undefined);
      const changed = info.model !== this.info?.model || info.device !== this.info?.device;
      this.info = info;
      // the status bar reads info on a state event: the server's model name and what ran, once they are known
      if (changed) for (const l of [...this.listeners]) l(this.state);
      return res;
    } catch (e) {
      if (e instanceof RemoteError && e.code === 'cancelled') {
        this.cancelled++;
        throw new ClientError('request cancelled', 'cancelled');
      }
      if (this.completer !== completer) throw new ClientError('request cancelled', 'cancelled'); // settings changed meanwhile
      const err = e instanceof RemoteError ? e : new RemoteError('server', e instanceof Error ? e.message : String(e));
      this.fail(err);
      // Quiet for the pipeline (no exception per keystroke): the state and the one notification say what happened.
      throw new ClientError(err.message, 'not_ready');
    } finally {
      sub?.dispose();
      this.inflight.delete(ac);
    }
  }

  stop(): void {
    this.configure(undefined);
  }

  private fail(e: RemoteError): void {
    this.lastError = e.message;
    this.opts.log?.('warn', `remote backend: ${e.message}`);
    if (!this.reported.has(e.code)) {
      this.reported.add(e.code);
      this.opts.onProblem?.(e);
    }
    this.setState('error');
    if (e.transient) {
      const first = this.opts.backoffMs ?? 1000;
      this.backoff = this.backoff ? Math.min(this.backoff * 2, this.opts.maxBackoffMs ?? 30_000) : first;
      this.stateReason = `retrying in ${Math.round(this.backoff / 1000)} s`;
      clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => {
        if (this.state === 'error') this.setState('ready');
      }, this.backoff);
      this.retryTimer.unref?.();
    }
  }

  private describe(model: string, note?: string): InitializeResult {
    const c = this.completer!;
    return {
      model: `${model} on ${c.cfg.backend}`,
      device: `${c.cfg.backend} ${c.base}${note ? ` · ${note}` : ''}`,
      providersTried: [],
      loadMs: 0,
      superposition: false,
    };
  }

  private setState(s: ClientState): void {
    if (this.state === s) return;
    this.state = s;
    for (const l of [...this.listeners]) l(s);
  }
}
