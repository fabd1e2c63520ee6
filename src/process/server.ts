/**
 * Inference process entry (dist/server.js). Serves the JSON-RPC methods of src/protocol with the Engine, over IPC
 * when forked (process.send exists) or stdio otherwise. Requests are cancelled through the JSON-RPC
 * CancellationToken, mapped to an AbortSignal the engine checks every decode step. Logs and progress go to the
 * client as notifications. Never imports `vscode`.
 */
import {
  IPCMessageReader,
  IPCMessageWriter,
  ResponseError,
  StreamMessageWriter,
  createMessageConnection,
  type CancellationToken,
  type Logger,
  type MessageConnection,
  type MessageReader,
  type MessageWriter,
} from 'vscode-jsonrpc/node';
import { getPriority, setPriority } from 'node:os';
import { resolve as resolvePath } from 'node:path';
import { readModelConfig } from '../engine/model/config';
import { Engine, EngineError, defaultModelDir, preview, type EngineOptions } from '../engine/engine';
import { FramedStreamReader, GuardedReader } from './rpcGuard';
import { DEVICES, ErrorCodes, Methods } from '../protocol';
import type { CompletionRequest, DiagnosticsResult, IndexFilesParams, InitializeParams, InitializeResult, LogParams, ProgressParams } from '../protocol';

// The editor comes first: on a machine with few cores the model's work (above all background prefetches) must not
// delay VS Code's own processes (keystrokes, rendering the ghost text). A slightly lower scheduling priority does
// that and costs nothing when cores are free. Set before any session exists: onnxruntime's threads inherit it.
// SUPERDRAFT_SERVER_NICE overrides the niceness (0 = unchanged).
const NICENESS = Number(process.env.SUPERDRAFT_SERVER_NICE ?? 5);
let niceness = 'unchanged';
if (Number.isInteger(NICENESS) && NICENESS > 0) {
  try {
    setPriority(Math.min(19, NICENESS));
    niceness = String(getPriority());
  } catch (e) {
    niceness = `unchanged (${(e as Error).message})`;
  }
}

const useIpc = typeof process.send === 'function';
// Every incoming message passes the guard (rpcGuard.ts) first: malformed input is answered or dropped there and
// never reaches vscode-jsonrpc, so no input can throw inside it. On stdio the framing resynchronises after a bad
// frame (answered -32700, id null) instead of stalling.
const writer: MessageWriter = useIpc ? new IPCMessageWriter(process) : new StreamMessageWriter(process.stdout);
let guard: GuardedReader;
const rawReader: MessageReader = useIpc
  ? new IPCMessageReader(process)
  : new FramedStreamReader(process.stdin, (reason) => guard.reply(null, ErrorCodes.ParseError, `parse error: ${reason}`));
guard = new GuardedReader(rawReader, writer, (level, message) => log(level, message));
const rpcLogger: Logger = {
  error: (m) => log('warn', `jsonrpc: ${m.slice(0, 500)}`),
  warn: (m) => log('warn', `jsonrpc: ${m.slice(0, 500)}`),
  info: () => undefined,
  log: () => undefined,
};
const conn: MessageConnection = createMessageConnection(guard, writer, rpcLogger);
let connectionErrors = 0;
conn.onError(([err]) => {
  // A read or write error is reported, not fatal: the connection keeps serving (a closed channel ends the process
  // through onClose / disconnect below).
  if (++connectionErrors <= 20 || connectionErrors % 1000 === 0) log('warn', `connection error (${connectionErrors}): ${err.message.slice(0, 300)}`);
});

// In stdio mode stdout carries the protocol: route console output to stderr.
if (!useIpc) {
  console.log = (...a: unknown[]) => console.error(...a);
  console.info = console.log;
}

function log(level: LogParams['level'], message: string): void {
  try {
    conn.sendNotification(Methods.log, { level, message } satisfies LogParams);
  } catch {
    /* connection closed */
  }
}

function progress(p: ProgressParams): void {
  try {
    conn.sendNotification(Methods.progress, p);
  } catch {
    /* connection closed */
  }
}

let engine: Engine | undefined;
let loading: Promise<Engine> | undefined;
let loadedFor = '';
let shuttingDown = false;

function toAbortSignal(token: CancellationToken): { signal: AbortSignal; dispose(): void } {
  const ac = new AbortController();
  if (token.isCancellationRequested) ac.abort();
  const sub = token.onCancellationRequested(() => ac.abort());
  return { signal: ac.signal, dispose: () => sub.dispose() };
}

function toResponseError(err: unknown): ResponseError<void> {
  if (err instanceof ResponseError) return err;
  if (err instanceof EngineError) {
    switch (err.code) {
      case 'invalid_request':
        return new ResponseError(ErrorCodes.InvalidParams, err.message);
      case 'model_load':
        return new ResponseError(ErrorCodes.ModelLoadFailed, err.message);
      case 'unsupported':
        return new ResponseError(ErrorCodes.Unsupported, err.message);
      case 'cancelled':
        return new ResponseError(ErrorCodes.RequestCancelled, 'Request cancelled');
    }
  }
  const msg = err instanceof Error ? err.message : String(err);
  return new ResponseError(-32603, msg);
}

/**
 * The first runs of a fresh ONNX session are several times slower (allocations, kernel selection per shape). Run a
 * short plain and a short k-draft completion before reporting ready, so the user's first keystroke is not the slow one.
 */
async function warmUp(e: Engine): Promise<string | undefined> {
  const t0 = performance.now();
  const base: CompletionRequest = {
    prefix: 'function main() {\n  const value = ',
    suffix: '\n}\n',
    languageId: 'typescript',
    path: 'warmup.ts',
    strategy: 'greedy',
    k: 1,
    maxTokens: 4,
    mode: 'line',
    speculative: false,
  };
  try {
    await e.complete(base);
    await e.complete({ ...base, strategy: e.info.superposition ? 'superposed' : 'beam', k: 3 });
    log('debug', `warm-up done in ${Math.round(performance.now() - t0)} ms`);
    return undefined;
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    log('warn', `warm-up failed: ${msg}`);
    return msg;
  }
}

/** The first line of an error, short enough for a status bar tooltip and a notification. */
function cause(msg: string): string {
  const line = msg.split('\n')[0].trim();
  return line.length > 300 ? `${line.slice(0, 297)}...` : line;
}

/**
 * Loads the engine and warms it up. A GPU that fails (its provider does not load, no adapter, an op its kernels
 * reject when the warm-up runs them) falls back to the CPU once, and the result says so in `gpuFailure`; a model that
 * fails on the CPU too is the model's problem and its first error is reported.
 */
async function loadWithFallback(opts: EngineOptions): Promise<Engine> {
  let failure: string;
  try {
    const e = await Engine.load(opts);
    const warm = await warmUp(e);
    if (!warm || e.info.device === 'cpu') return e;
    failure = `${e.info.device}: ${cause(warm)}`;
    await e.dispose();
  } catch (err) {
    if (opts.device === 'cpu') throw err;
    failure = cause(err instanceof Error ? err.message : String(err));
    let cpu: Engine;
    try {
      cpu = await Engine.load({ ...opts, device: 'cpu' });
    } catch {
      throw err; // the CPU fails too: the model's problem, reported with the first error
    }
    log('warn', `GPU failed (${failure}); running on the CPU`);
    await warmUp(cpu);
    cpu.info.gpuFailure = failure;
    cpu.info.providersTried.unshift({ name: opts.device ?? 'auto', ok: false, error: failure });
    return cpu;
  }
  log('warn', `GPU failed (${failure}); running on the CPU`);
  const e = await Engine.load({ ...opts, device: 'cpu' });
  await warmUp(e);
  e.info.gpuFailure = failure;
  return e;
}

function requireEngine(): Engine {
  if (!engine) throw new ResponseError(ErrorCodes.NotInitialized, 'The engine is not initialized: call superdraft/initialize first.');
  return engine;
}

/** Checks initialize's params; every problem is an InvalidParams error naming the field. Nothing is changed. */
function validateInitialize(params: unknown): InitializeParams {
  const bad = (msg: string): never => {
    throw new ResponseError(ErrorCodes.InvalidParams, `initialize: ${msg}`);
  };
  if (typeof params !== 'object' || params === null || Array.isArray(params)) return bad('params must be an object');
  const q = params as Record<string, unknown>;
  if (q.modelPath !== undefined && typeof q.modelPath !== 'string') bad(`"modelPath" must be a string, got ${preview(q.modelPath)}`);
  if (typeof q.modelPath === 'string' && q.modelPath.length > 4096) bad(`"modelPath" is too long (${q.modelPath.length} characters; the limit is 4096)`);
  const device = q.device ?? 'auto';
  if (typeof device !== 'string' || !DEVICES.includes(device as InitializeParams['device'])) bad(`unknown device ${preview(device)} (expected one of ${DEVICES.join(', ')})`);
  if (q.threads !== undefined && q.threads !== null && (typeof q.threads !== 'number' || !Number.isInteger(q.threads) || q.threads < 0 || q.threads > 1024)) {
    bad(`"threads" must be an integer in 0..1024, got ${preview(q.threads)}`);
  }
  if (q.workspaceNgrams !== undefined && typeof q.workspaceNgrams !== 'boolean') bad(`"workspaceNgrams" must be a boolean, got ${preview(q.workspaceNgrams)}`);
  return {
    modelPath: (q.modelPath as string | undefined) ?? '',
    device: device as InitializeParams['device'],
    threads: typeof q.threads === 'number' ? q.threads : undefined,
    workspaceNgrams: q.workspaceNgrams !== false,
  };
}

conn.onRequest(Methods.initialize, async (params: InitializeParams): Promise<InitializeResult> => {
  // Validate everything that can be checked cheaply before the working engine (if any) is disposed: a rejected
  // re-initialize leaves it serving.
  const p = validateInitialize(params);
  const key = JSON.stringify([p.modelPath, p.device, p.threads]);
  try {
    if (engine && loadedFor === key) return engine.info;
    if (loading) await loading.catch(() => undefined);
    if (engine && loadedFor === key) return engine.info;
    // The model directory and its config must be readable too (a ModelLoadFailed error naming the file otherwise).
    readModelConfig(p.modelPath ? resolvePath(p.modelPath) : defaultModelDir());
    const old = engine;
    engine = undefined;
    await old?.dispose();
    progress({ kind: 'load', message: `Loading model ${p.modelPath || '(embedded)'} on ${p.device}`, done: false });
    const opts: EngineOptions = { modelDir: p.modelPath || undefined, device: p.device, log };
    if (typeof p.threads === 'number' && p.threads > 0) opts.threads = p.threads;
    loading = loadWithFallback(opts);
    const e = await loading;
    engine = e;
    loadedFor = key;
    log('info', `engine ready: ${engine.info.model} on ${engine.info.device} (${Math.round(engine.info.loadMs)} ms); process niceness ${niceness}`);
    return engine.info;
  } catch (err) {
    const re = toResponseError(err);
    // Any failure to construct the engine is a load failure from the client's point of view.
    throw re.code === -32603 ? new ResponseError(ErrorCodes.ModelLoadFailed, re.message) : re;
  } finally {
    loading = undefined;
    progress({ kind: 'load', message: 'Model loaded', done: true });
  }
});

conn.onRequest(Methods.complete, async (req: CompletionRequest, token: CancellationToken) => {
  const e = requireEngine();
  const abort = toAbortSignal(token);
  try {
    return await e.complete(req, abort.signal);
  } catch (err) {
    if (abort.signal.aborted) throw new ResponseError(ErrorCodes.RequestCancelled, 'Request cancelled');
    throw toResponseError(err);
  } finally {
    abort.dispose();
  }
});

conn.onRequest(Methods.indexFiles, async (params: IndexFilesParams, token: CancellationToken) => {
  const e = requireEngine();
  if (token.isCancellationRequested) throw new ResponseError(ErrorCodes.RequestCancelled, 'Request cancelled');
  try {
    return await e.indexFiles(params);
  } catch (err) {
    throw toResponseError(err);
  }
});

conn.onRequest(Methods.diagnostics, (): DiagnosticsResult => requireEngine().diagnostics());

// Liveness: answered from the event loop at once, with or without an engine. A process that does not answer in
// time is stopped or blocked, and the client replaces it.
conn.onRequest(Methods.ping, () => null);

async function shutdown(): Promise<void> {
  if (shuttingDown) return;
  shuttingDown = true;
  const e = engine;
  engine = undefined;
  try {
    await e?.dispose();
  } catch (err) {
    log('warn', `dispose failed: ${err instanceof Error ? err.message : String(err)}`);
  }
}

conn.onRequest(Methods.shutdown, async () => {
  await shutdown();
  // Exit once the response has been flushed.
  setTimeout(() => process.exit(0), 50);
  return null;
});

// The parent went away (extension host closed or crashed): leave quietly.
const exitWithParent = () => {
  void shutdown().finally(() => process.exit(0));
};
if (useIpc) process.on('disconnect', exitWithParent);
else process.stdin.on('end', exitWithParent);
conn.onClose(exitWithParent);

process.on('uncaughtException', (err) => {
  // No input reaches code that can throw outside a request handler (the guard above checks every message first),
  // so this is a bug, not bad input. State may be corrupt: report and exit non-zero so the client restarts a clean
  // process.
  log('error', `uncaught: ${err.stack ?? err.message}`);
  setTimeout(() => process.exit(1), 50);
});
process.on('unhandledRejection', (err) => {
  log('error', `unhandled rejection: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
});

conn.listen();
