/**
 * Client side of the inference process: forks dist/server.js, talks JSON-RPC (vscode-jsonrpc over IPC), restarts it
 * after a crash with backoff, cancels superseded requests. Plain Node (no `vscode` import) so the integration test
 * drives exactly this code against the real server.
 */
import { fork, type ChildProcess } from 'node:child_process';
import {
  CancellationTokenSource,
  IPCMessageReader,
  IPCMessageWriter,
  ResponseError,
  createMessageConnection,
  type CancellationToken,
  type MessageConnection,
} from 'vscode-jsonrpc/node';
import {
  ErrorCodes,
  Methods,
  type CompletionRequest,
  type CompletionResponse,
  type DiagnosticsResult,
  type IndexFilesParams,
  type InitializeParams,
  type InitializeResult,
  type LogParams,
  type ProgressParams,
  type StrategyName,
} from '../../protocol';
import { RestartPolicy } from './restartPolicy';

export { RestartPolicy } from './restartPolicy';

export type ClientState = 'stopped' | 'starting' | 'ready' | 'error';
export type LogLevelName = LogParams['level'];

/** A cancellation token in the shape both `vscode.CancellationToken` and vscode-jsonrpc's have. */
export interface TokenLike {
  readonly isCancellationRequested: boolean;
  onCancellationRequested(listener: () => void): { dispose(): void };
}

export class ClientError extends Error {
  constructor(
    message: string,
    readonly code: 'not_ready' | 'cancelled' | 'crashed' | 'model_load' | 'invalid_request' | 'server',
  ) {
    super(message);
    this.name = 'ClientError';
  }
}

export interface ClientOptions {
  /** Absolute path of dist/server.js. */
  serverPath: string;
  /** Parameters for `initialize`, read at every (re)start so settings changes apply. */
  init: () => InitializeParams;
  log?: (level: LogLevelName, message: string) => void;
  policy?: RestartPolicy;
  env?: NodeJS.ProcessEnv;
  /** Milliseconds to wait for a graceful shutdown before killing. */
  shutdownTimeoutMs?: number;
  /**
   * Liveness check while ready: a `superdraft/ping` every `heartbeatIntervalMs`; a process that leaves one unanswered
   * for `heartbeatTimeoutMs` (stopped, or its event loop blocked) is killed and restarted under the restart policy.
   * The server answers pings from its event loop at once, even while a completion runs (model work is asynchronous),
   * so the timeout does not depend on the model's speed. 0 disables. Defaults 5 s / 20 s.
   */
  heartbeatIntervalMs?: number;
  heartbeatTimeoutMs?: number;
  /** A process whose initialize (model load and warm-up) is unanswered this long is killed and restarted. Default 180 s. */
  initTimeoutMs?: number;
}

/** vscode-jsonrpc's own codes for a connection that failed (write/read error, disposed, inactive): the process is gone. */
function isTransportError(err: unknown): boolean {
  if (!(err instanceof ResponseError)) return true;
  return err.code >= -32099 && err.code <= -32096;
}

type Listener<T> = (v: T) => void;

export class InferenceClient {
  private child: ChildProcess | undefined;
  private conn: MessageConnection | undefined;
  private stopping = false;
  private generation = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private startPromise: Promise<InitializeResult> | undefined;
  private readonly inflight = new Map<string, CancellationTokenSource>();
  private readonly stateListeners = new Set<Listener<ClientState>>();
  private readonly progressListeners = new Set<Listener<ProgressParams>>();
  private readonly policy: RestartPolicy;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private hangTimer: NodeJS.Timeout | undefined;
  /** Set when this client killed a hung process: the exit is then reported with this reason, not the signal. */
  private hangReason: string | undefined;

  state: ClientState = 'stopped';
  /** Why the state last changed when it was not asked for (a crash, a hang, a failed start), for the status bar. */
  stateReason: string | undefined;
  info: InitializeResult | undefined;
  lastError: string | undefined;
  /** Whether the last error is a model load failure (restarting will not help until settings change). */
  modelLoadFailed = false;
  restarts = 0;
  /** Processes killed because they stopped answering (heartbeat or initialize timeout). */
  hangs = 0;
  requests = 0;
  cancelled = 0;
  /** Last measured round-trip latency per strategy, ms. */
  readonly latency = new Map<StrategyName, number>();

  constructor(private readonly opts: ClientOptions) {
    this.policy = opts.policy ?? new RestartPolicy();
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  onState(l: Listener<ClientState>): { dispose(): void } {
    this.stateListeners.add(l);
    return { dispose: () => this.stateListeners.delete(l) };
  }

  onProgress(l: Listener<ProgressParams>): { dispose(): void } {
    this.progressListeners.add(l);
    return { dispose: () => this.progressListeners.delete(l) };
  }

  private log(level: LogLevelName, message: string): void {
    this.opts.log?.(level, message);
  }

  private setState(s: ClientState): void {
    if (this.state === s) return;
    this.state = s;
    for (const l of [...this.stateListeners]) l(s);
  }

  /** Waits until the process is ready (or failed). */
  ready(): Promise<InitializeResult> {
    if (this.state === 'ready' && this.info) return Promise.resolve(this.info);
    if (this.startPromise) return this.startPromise;
    return Promise.reject(new ClientError(this.lastError ?? 'The inference process is not running.', 'not_ready'));
  }

  /** Starts the process (no-op while running). Manual starts reset the crash budget. */
  start(): Promise<InitializeResult> {
    if (this.startPromise) return this.startPromise;
    if (this.state === 'ready' && this.info) return Promise.resolve(this.info);
    this.stopping = false;
    this.policy.reset();
    return this.spawn();
  }

  private spawn(): Promise<InitializeResult> {
    // Never leave an older process behind (its exit is ignored: the generation moves on).
    this.stopHeartbeat();
    this.killChild();
    const gen = ++this.generation;
    this.hangReason = undefined;
    this.setState('starting');
    this.lastError = undefined;
    this.modelLoadFailed = false;
    const child = fork(this.opts.serverPath, [], {
      execArgv: [],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: { ...process.env, ...this.opts.env, ELECTRON_RUN_AS_NODE: '1' },
    });
    this.child = child;
    const conn = createMessageConnection(new IPCMessageReader(child), new IPCMessageWriter(child));
    this.conn = conn;
    conn.onNotification(Methods.log, (p: LogParams) => this.log(p.level, `[server] ${p.message}`));
    conn.onNotification(Methods.progress, (p: ProgressParams) => {
      for (const l of [...this.progressListeners]) l(p);
    });
    conn.onError(([err]) => this.log('debug', `connection error: ${err.message}`));
    conn.listen();
    const pipeLines = (stream: NodeJS.ReadableStream | null, level: LogLevelName) => {
      let buf = '';
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        buf += chunk;
        let i: number;
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i).trimEnd();
          buf = buf.slice(i + 1);
          if (line) this.log(level, `[server:${level === 'warn' ? 'stderr' : 'stdout'}] ${line}`);
        }
      });
    };
    pipeLines(child.stdout, 'debug');
    pipeLines(child.stderr, 'warn');
    child.on('exit', (code, signal) => this.onExit(gen, code, signal));
    child.on('error', (err) => this.log('error', `inference process error: ${err.message}`));
    this.log('info', `inference process started (pid ${child.pid})`);

    const params = this.opts.init();
    const initTimeout = this.opts.initTimeoutMs ?? 180_000;
    this.hangTimer = setTimeout(() => {
      this.hangTimer = undefined;
      if (gen === this.generation && this.state === 'starting' && this.child === child) {
        this.onHung(child, `the inference process did not finish starting in ${Math.round(initTimeout / 1000)} s`);
      }
    }, initTimeout);
    this.hangTimer.unref?.();
    const p = conn
      .sendRequest<InitializeResult>(Methods.initialize, params)
      .then((info) => {
        if (gen !== this.generation) throw new ClientError('superseded by a newer start', 'not_ready');
        this.clearHangTimer();
        this.info = info;
        this.stateReason = undefined;
        this.setState('ready');
        this.startHeartbeat(gen, child, conn);
        this.log('info', `model ${info.model} ready on ${info.device} in ${Math.round(info.loadMs)} ms`);
        return info;
      })
      .catch((err: unknown) => {
        if (gen !== this.generation) throw err;
        this.clearHangTimer();
        const re = err instanceof ResponseError ? err : undefined;
        const msg = err instanceof Error ? err.message : String(err);
        if (re && !isTransportError(re) && re.code !== ErrorCodes.ModelLoadFailed) {
          // The server answered initialize with an error (invalid parameters, an internal error): the same request
          // would fail again, so no restart; and the process must not outlive the failure.
          this.lastError = `The inference process could not start: ${msg}`;
          this.stateReason = this.lastError;
          this.log('error', this.lastError);
          this.stopping = true;
          this.killChild();
          this.setState('error');
          throw new ClientError(msg, re.code === ErrorCodes.InvalidParams ? 'invalid_request' : 'server');
        }
        if (re?.code === ErrorCodes.ModelLoadFailed) {
          this.modelLoadFailed = true;
          this.lastError = msg;
          this.log('error', `model load failed: ${msg}`);
          // No point restarting: stop the process and wait for a settings change or a manual restart.
          this.stopping = true;
          this.killChild();
          this.setState('error');
          throw new ClientError(msg, 'model_load');
        }
        if (this.state === 'starting' && !this.lastError) this.lastError = msg;
        // The connection failed: the process died or is dying; its exit restarts it under the policy. Make sure it
        // does die (a process whose channel broke but which still runs would otherwise leak).
        if (this.child === child) this.killChild();
        throw new ClientError(msg, 'crashed');
      })
      .finally(() => {
        if (this.startPromise === p) this.startPromise = undefined;
      });
    this.startPromise = p;
    p.catch(() => undefined);
    return p;
  }

  private onExit(gen: number, code: number | null, signal: NodeJS.Signals | null): void {
    if (gen !== this.generation) return;
    this.stopHeartbeat();
    this.clearHangTimer();
    // The child first: requests failed by the dispose below see that their process is gone (reported as crashed).
    const conn = this.conn;
    this.conn = undefined;
    this.child = undefined;
    this.info = undefined;
    conn?.dispose();
    for (const src of this.inflight.values()) src.cancel();
    this.inflight.clear();
    if (this.stopping) {
      if (this.state !== 'error') this.setState('stopped');
      return;
    }
    const why = this.hangReason ?? (signal ? `signal ${signal}` : `exit code ${code}`);
    this.hangReason = undefined;
    const decision = this.policy.onCrash(Date.now());
    if (decision.restart) {
      this.restarts++;
      this.log('warn', `inference process stopped unexpectedly (${why}); restarting in ${decision.delayMs} ms (attempt ${decision.attempt})`);
      this.stateReason = `restarting after the inference process stopped (${why})`;
      this.setState('starting');
      this.restartTimer = setTimeout(() => {
        this.restartTimer = undefined;
        if (this.stopping) return;
        this.spawn().catch((e: Error) => this.log('error', `restart failed: ${e.message}`));
      }, decision.delayMs);
    } else {
      this.lastError = `The inference process crashed ${decision.crashes} times in ${Math.round(this.policy.windowMs / 60_000)} minutes (last: ${why}).`;
      this.log('error', this.lastError + ' Not restarting automatically.');
      this.setState('error');
    }
  }

  /** Kills a process that stopped answering; its exit goes through the restart policy with `reason`. */
  private onHung(child: ChildProcess, reason: string): void {
    if (this.child !== child) return;
    this.hangs++;
    this.hangReason = reason;
    this.log('warn', `${reason}: killing pid ${child.pid}`);
    this.stopHeartbeat();
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }

  private startHeartbeat(gen: number, child: ChildProcess, conn: MessageConnection): void {
    this.stopHeartbeat();
    const interval = this.opts.heartbeatIntervalMs ?? 5000;
    const timeout = this.opts.heartbeatTimeoutMs ?? 20_000;
    if (interval <= 0 || timeout <= 0) return;
    let outstanding: { since: number; timer: NodeJS.Timeout } | undefined;
    const beat = () => {
      if (gen !== this.generation || this.child !== child || outstanding) return;
      const since = performance.now();
      const timer = setTimeout(() => this.onHung(child, `the inference process stopped responding (no heartbeat reply in ${(timeout / 1000).toFixed(1)} s)`), timeout);
      timer.unref?.();
      outstanding = { since, timer };
      conn.sendRequest(Methods.ping).then(
        () => {
          clearTimeout(timer);
          outstanding = undefined;
        },
        () => clearTimeout(timer), // the connection failed: the exit handles it
      );
    };
    this.heartbeatTimer = setInterval(beat, interval);
    this.heartbeatTimer.unref?.();
    this.stopHeartbeatExtra = () => {
      if (outstanding) clearTimeout(outstanding.timer);
      outstanding = undefined;
    };
  }

  private stopHeartbeatExtra: (() => void) | undefined;

  private stopHeartbeat(): void {
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
    this.stopHeartbeatExtra?.();
    this.stopHeartbeatExtra = undefined;
  }

  private clearHangTimer(): void {
    if (this.hangTimer) clearTimeout(this.hangTimer);
    this.hangTimer = undefined;
  }

  private killChild(): void {
    const c = this.child;
    if (c && c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  }

  /** Stops the process gracefully (shutdown request, then disconnect; killed after a timeout). */
  async stop(): Promise<void> {
    this.stopping = true;
    this.stopHeartbeat();
    this.clearHangTimer();
    this.stateReason = undefined;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    const child = this.child;
    const conn = this.conn;
    if (!child) {
      if (this.state !== 'error') this.setState('stopped');
      return;
    }
    const exited = new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('exit', () => resolve());
    });
    const timeout = this.opts.shutdownTimeoutMs ?? 2000;
    try {
      if (conn) {
        await Promise.race([conn.sendRequest(Methods.shutdown), new Promise((r) => setTimeout(r, timeout))]);
      }
    } catch {
      /* already gone */
    }
    if (child.connected) child.disconnect();
    const timer = setTimeout(() => child.kill('SIGKILL'), timeout);
    await exited;
    clearTimeout(timer);
    this.startPromise = undefined;
    this.setState('stopped');
  }

  /** Stops and starts again (settings change or the Restart command); resets the crash budget. */
  async restart(): Promise<InitializeResult> {
    await this.stop();
    return this.start();
  }

  /** Kills the process without a shutdown (tests, or a hung process). It is restarted by the crash policy. */
  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    this.child?.kill(signal);
  }

  private connection(): MessageConnection {
    if (this.state !== 'ready' || !this.conn) {
      throw new ClientError(this.lastError ?? `The inference process is ${this.state}.`, 'not_ready');
    }
    return this.conn;
  }

  /**
   * Requests completions. With a `key` (the document), an older in-flight request for the same key is cancelled:
   * a newer request supersedes it so no backlog builds up while typing.
   */
  async complete(req: CompletionRequest, token?: TokenLike, key?: string): Promise<CompletionResponse> {
    // JSON would turn NaN and ±Infinity into null, which the server reads as "use the default": refuse them here.
    for (const f of ['k', 'maxTokens', 'temperature', 'topP', 'seed', 'timeBudgetMs'] as const) {
      const v = req[f];
      if (typeof v === 'number' && !Number.isFinite(v)) throw new ClientError(`"${f}" must be a finite number (got ${v})`, 'invalid_request');
    }
    const conn = this.connection();
    const child = this.child;
    const src = new CancellationTokenSource();
    if (key !== undefined) {
      this.inflight.get(key)?.cancel();
      this.inflight.set(key, src);
    }
    const sub = token?.onCancellationRequested(() => src.cancel());
    if (token?.isCancellationRequested) src.cancel();
    const t0 = performance.now();
    this.requests++;
    try {
      if (src.token.isCancellationRequested) throw new ClientError('cancelled', 'cancelled');
      const res = await conn.sendRequest<CompletionResponse>(Methods.complete, req, src.token as CancellationToken);
      this.latency.set(req.strategy, performance.now() - t0);
      return res;
    } catch (err) {
      throw this.mapError(err, src.token.isCancellationRequested, child);
    } finally {
      sub?.dispose();
      if (key !== undefined && this.inflight.get(key) === src) this.inflight.delete(key);
      src.dispose();
    }
  }

  async indexFiles(params: IndexFilesParams, token?: TokenLike): Promise<{ files: number; tokens: number }> {
    const conn = this.connection();
    const child = this.child;
    const src = new CancellationTokenSource();
    const sub = token?.onCancellationRequested(() => src.cancel());
    try {
      return await conn.sendRequest<{ files: number; tokens: number }>(Methods.indexFiles, params, src.token as CancellationToken);
    } catch (err) {
      throw this.mapError(err, src.token.isCancellationRequested, child);
    } finally {
      sub?.dispose();
      src.dispose();
    }
  }

  async diagnostics(): Promise<DiagnosticsResult> {
    const child = this.child;
    try {
      return await this.connection().sendRequest<DiagnosticsResult>(Methods.diagnostics);
    } catch (err) {
      throw this.mapError(err, false, child);
    }
  }

  private mapError(err: unknown, cancelled: boolean, child: ChildProcess | undefined): ClientError {
    if (err instanceof ClientError) return err;
    // The process the request went to is gone (killed, crashed, hung and replaced): that is a crash, whatever
    // error or cancellation the broken connection produced.
    if (child && (this.child !== child || child.exitCode !== null || child.signalCode !== null) && (isTransportError(err) || cancelled)) {
      const why = err instanceof Error ? err.message : String(err);
      return new ClientError(`The inference process stopped while the request ran (${why}).`, 'crashed');
    }
    if (err instanceof ResponseError) {
      if (err.code === ErrorCodes.RequestCancelled || cancelled) {
        this.cancelled++;
        return new ClientError('cancelled', 'cancelled');
      }
      if (err.code === ErrorCodes.InvalidParams) return new ClientError(err.message, 'invalid_request');
      return new ClientError(err.message, 'server');
    }
    const msg = err instanceof Error ? err.message : String(err);
    if (cancelled) {
      this.cancelled++;
      return new ClientError('cancelled', 'cancelled');
    }
    return new ClientError(msg, this.state === 'ready' ? 'server' : 'crashed');
  }
}
