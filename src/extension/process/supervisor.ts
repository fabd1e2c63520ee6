/**
 * Client side of the inference process, part 1: supervision. Forks dist/server.js, talks JSON-RPC (vscode-jsonrpc
 * over IPC), restarts it after a crash with backoff, kills it when it hangs. Plain Node (no `vscode` import) so the
 * integration tests drive exactly this code against the real server. RPC calls: rpcClient.ts.
 */
import { fork, type ChildProcess } from 'node:child_process';
import {
  type CancellationTokenSource,
  IPCMessageReader,
  IPCMessageWriter,
  ResponseError,
  createMessageConnection,
  type MessageConnection,
} from 'vscode-jsonrpc/node';
import {
  ErrorCodes,
  Methods,
  type InitializeParams,
  type InitializeResult,
  type LogParams,
  type ProgressParams,
} from '../../protocol';
import { Emitter, type Subscription } from '../emitter';
import { RestartPolicy } from './restartPolicy';

import { ClientError, isTransportError, type ClientOptions, type ClientState, type LogLevelName } from './clientTypes';

export { RestartPolicy } from './restartPolicy';
export { ClientError, isTransportError, type ClientOptions, type ClientState, type LogLevelName } from './clientTypes';

/**
 * Supervises the inference process: forks it, initializes it, restarts it after a crash under the restart policy,
 * kills it when it stops answering, stops it. The RPC calls are the subclass's (rpcClient.ts).
 */
export class ProcessSupervisor {
  protected child: ChildProcess | undefined;
  protected conn: MessageConnection | undefined;
  private stopping = false;
  private generation = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private startPromise: Promise<InitializeResult> | undefined;
  /** Completion requests under way (a stop cancels them; the pipeline supersedes by document). */
  protected readonly inflight = new Set<CancellationTokenSource>();
  private readonly states = new Emitter<ClientState>();
  private readonly progress = new Emitter<ProgressParams>();
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
  /**
   * Why the GPU is no longer tried: a process running on (or starting on) a GPU device stopped unexpectedly. Later
   * starts use the CPU and report this as `info.gpuFailure`, so a GPU that crashes the process falls back once instead
   * of looping through restarts. Cleared by a manual start or restart (a settings change).
   */
  gpuFallback: string | undefined;
  /** The device the current process was asked for (after the fallback). */
  private spawnedDevice = '';

  constructor(private readonly opts: ClientOptions) {
    this.policy = opts.policy ?? new RestartPolicy();
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  onState(l: (s: ClientState) => void): Subscription {
    return this.states.on(l);
  }

  onProgress(l: (p: ProgressParams) => void): Subscription {
    return this.progress.on(l);
  }

  protected log(level: LogLevelName, message: string): void {
    this.opts.log?.(level, message);
  }

  private setState(s: ClientState): void {
    if (this.state === s) return;
    this.state = s;
    this.states.fire(s);
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
    this.gpuFallback = undefined;
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
    const { child, conn } = this.fork(gen);
    const asked = this.opts.init();
    const params = this.gpuFallback && asked.device !== 'cpu' ? { ...asked, device: 'cpu' as const } : asked;
    if (params !== asked) this.log('warn', `starting on the CPU instead of ${asked.device}: ${this.gpuFallback}`);
    this.spawnedDevice = params.device;
    const p = this.initialize(gen, child, conn, params).finally(() => {
      if (this.startPromise === p) this.startPromise = undefined;
    });
    this.startPromise = p;
    p.catch(() => undefined);
    return p;
  }

  /** Forks the inference process and connects to it: its log and progress notifications, its stdout and stderr. */
  private fork(gen: number): { child: ChildProcess; conn: MessageConnection } {
    const child = fork(this.opts.serverPath, [], {
      execArgv: [],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: { ...process.env, ...this.opts.env, ELECTRON_RUN_AS_NODE: '1' },
    });
    this.child = child;
    const conn = createMessageConnection(new IPCMessageReader(child), new IPCMessageWriter(child));
    this.conn = conn;
    conn.onNotification(Methods.log, (p: LogParams) => this.log(p.level, `[server] ${p.message}`));
    conn.onNotification(Methods.progress, (p: ProgressParams) => this.progress.fire(p));
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
    return { child, conn };
  }

  /** Sends `initialize` (model load and warm-up) under the init timeout; maps its failures to the client's states. */
  private initialize(gen: number, child: ChildProcess, conn: MessageConnection, params: InitializeParams): Promise<InitializeResult> {
    const initTimeout = this.opts.initTimeoutMs ?? 180_000;
    this.hangTimer = setTimeout(() => {
      this.hangTimer = undefined;
      if (gen === this.generation && this.state === 'starting' && this.child === child) {
        this.onHung(child, `the inference process did not finish starting in ${Math.round(initTimeout / 1000)} s`);
      }
    }, initTimeout);
    this.hangTimer.unref?.();
    return conn
      .sendRequest<InitializeResult>(Methods.initialize, params)
      .then((info) => {
        if (gen !== this.generation) throw new ClientError('superseded by a newer start', 'not_ready');
        this.clearHangTimer();
        if (this.gpuFallback && !info.gpuFailure && info.device === 'cpu') info.gpuFailure = this.gpuFallback;
        this.info = info;
        this.stateReason = undefined;
        this.setState('ready');
        this.startHeartbeat(gen, child, conn);
        this.log(info.gpuFailure ? 'warn' : 'info', `model ${info.model} ready on ${info.device} in ${Math.round(info.loadMs)} ms${info.gpuFailure ? ` (GPU failed: ${info.gpuFailure})` : info.deviceReason ? ` (${info.deviceReason})` : ''}`);
        return info;
      })
      .catch((err: unknown) => {
        if (gen !== this.generation) throw err;
        this.clearHangTimer();
        throw this.initFailed(err, child);
      });
  }

  /** What a failed `initialize` means: an error state (no restart helps) or a crash (the exit restarts it). */
  private initFailed(err: unknown, child: ChildProcess): ClientError {
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
      return new ClientError(msg, re.code === ErrorCodes.InvalidParams ? 'invalid_request' : 'server');
    }
    if (re?.code === ErrorCodes.ModelLoadFailed) {
      this.modelLoadFailed = true;
      this.lastError = msg;
      this.log('error', `model load failed: ${msg}`);
      // No point restarting: stop the process and wait for a settings change or a manual restart.
      this.stopping = true;
      this.killChild();
      this.setState('error');
      return new ClientError(msg, 'model_load');
    }
    if (this.state === 'starting' && !this.lastError) this.lastError = msg;
    // The connection failed: the process died or is dying; its exit restarts it under the policy. Make sure it
    // does die (a process whose channel broke but which still runs would otherwise leak).
    if (this.child === child) this.killChild();
    return new ClientError(msg, 'crashed');
  }

  private onExit(gen: number, code: number | null, signal: NodeJS.Signals | null): void {
    if (gen !== this.generation) return;
    this.stopHeartbeat();
    this.clearHangTimer();
    // The child first: requests failed by the dispose below see that their process is gone (reported as crashed).
    const conn = this.conn;
    // The device it ran on; while starting, the one asked for (auto is left out: it may not have chosen a GPU at all).
    const device = this.info?.device ?? (this.spawnedDevice === 'auto' ? 'cpu' : this.spawnedDevice);
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
    if (device !== 'cpu' && !this.gpuFallback) {
      // A process on a GPU (or still choosing one) stopped: the next start runs on the CPU and says why.
      this.gpuFallback = `the inference process on ${device} stopped (${why})`;
      this.log('warn', `${this.gpuFallback}; the next start uses the CPU`);
    }
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
}
