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
  StreamMessageReader,
  StreamMessageWriter,
  createMessageConnection,
  type CancellationToken,
  type MessageConnection,
} from 'vscode-jsonrpc/node';
import { getPriority, setPriority } from 'node:os';
import { Engine, EngineError, type EngineOptions } from './engine';
import {
  ErrorCodes,
  Methods,
  type CompletionRequest,
  type DiagnosticsResult,
  type IndexFilesParams,
  type InitializeParams,
  type InitializeResult,
  type LogParams,
  type ProgressParams,
} from '../protocol';

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
const conn: MessageConnection = useIpc
  ? createMessageConnection(new IPCMessageReader(process), new IPCMessageWriter(process))
  : createMessageConnection(new StreamMessageReader(process.stdin), new StreamMessageWriter(process.stdout));

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
async function warmUp(e: Engine): Promise<void> {
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
  } catch (err) {
    log('warn', `warm-up failed: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function requireEngine(): Engine {
  if (!engine) throw new ResponseError(ErrorCodes.NotInitialized, 'The engine is not initialized: call superdraft/initialize first.');
  return engine;
}

conn.onRequest(Methods.initialize, async (params: InitializeParams): Promise<InitializeResult> => {
  const p: InitializeParams = {
    modelPath: typeof params?.modelPath === 'string' ? params.modelPath : '',
    device: params?.device ?? 'auto',
    threads: params?.threads,
    workspaceNgrams: params?.workspaceNgrams !== false,
  };
  const key = JSON.stringify([p.modelPath, p.device, p.threads]);
  try {
    if (engine && loadedFor === key) return engine.info;
    if (loading) await loading.catch(() => undefined);
    if (engine && loadedFor === key) return engine.info;
    const old = engine;
    engine = undefined;
    await old?.dispose();
    progress({ kind: 'load', message: `Loading model ${p.modelPath || '(embedded)'} on ${p.device}`, done: false });
    const opts: EngineOptions = { modelDir: p.modelPath || undefined, device: p.device, log };
    if (typeof p.threads === 'number' && p.threads > 0) opts.threads = p.threads;
    loading = Engine.load(opts);
    const e = await loading;
    await warmUp(e);
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
  if (!params || !Array.isArray(params.files)) throw new ResponseError(ErrorCodes.InvalidParams, 'indexFiles: "files" must be an array of {path, text}.');
  if (token.isCancellationRequested) throw new ResponseError(ErrorCodes.RequestCancelled, 'Request cancelled');
  try {
    return await e.indexFiles(params);
  } catch (err) {
    throw toResponseError(err);
  }
});

conn.onRequest(Methods.diagnostics, (): DiagnosticsResult => requireEngine().diagnostics());

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
  // State may be corrupt: report and exit non-zero so the client restarts a clean process.
  log('error', `uncaught: ${err.stack ?? err.message}`);
  setTimeout(() => process.exit(1), 50);
});
process.on('unhandledRejection', (err) => {
  log('error', `unhandled rejection: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
});

conn.listen();
