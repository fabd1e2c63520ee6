/**
 * The inference process's defence against malformed JSON-RPC input. vscode-jsonrpc trusts its peer: a
 * `$/cancelRequest` without a usable id throws inside its message callback (an uncaught exception), absent or
 * positional params reach handlers as the cancellation token, and after one bad Content-Length its stream reader
 * never delivers another message. So every message is checked here, before the connection sees it:
 *
 * - `guardReader` wraps any MessageReader. A malformed request is answered at once with the JSON-RPC error it
 *   deserves (-32600 invalid request, -32601 unknown method, -32602 invalid params) and never reaches the
 *   connection; a malformed notification or a stray response is dropped with a (rate-limited) log line.
 * - `FramedStreamReader` reads Content-Length frames from stdio and resynchronises after a bad frame: a missing,
 *   non-numeric or oversized Content-Length, or a body that is not JSON, is answered with -32700 (id null) and the
 *   reader skips to the next `Content-Length:` header. A body that stays incomplete while a later header has
 *   arrived (a Content-Length too large) is given up after `stallMs` the same way. Valid JSON cannot contain a raw
 *   CR LF, so a header found by scanning is never the inside of a well-formed body.
 *
 * Never imports `vscode`.
 */
import { AbstractMessageReader, Disposable, type DataCallback, type Message, type MessageReader, type MessageWriter } from 'vscode-jsonrpc/node';
import { ErrorCodes, LIMITS, Methods } from '../protocol';

export type GuardLog = (level: 'warn' | 'debug', message: string) => void;

/** How each method of the server takes its params: a by-name object, or nothing (absent, {} or []). */
const PARAMS: Record<string, 'object' | 'none'> = {
  [Methods.initialize]: 'object',
  [Methods.complete]: 'object',
  [Methods.indexFiles]: 'object',
  [Methods.diagnostics]: 'none',
  [Methods.ping]: 'none',
  [Methods.shutdown]: 'none',
};

const CANCEL = '$/cancelRequest';
/** Longest string id or method name echoed back or passed on. */
const MAX_ID_CHARS = 256;
const MAX_METHOD_CHARS = 256;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === undefined) return 'none';
  if (v === null) return 'null';
  if (Array.isArray(v)) return `an array of ${v.length}`;
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

function short(s: string, max = 60): string {
  return JSON.stringify(s.length > max ? `${s.slice(0, max)}…` : s);
}

export type Verdict =
  | { kind: 'pass' }
  | { kind: 'reply'; id: string | number | null; code: number; message: string }
  | { kind: 'drop'; reason: string };

/** Decides what to do with one incoming message (anything JSON can hold). Never throws and never recurses into params. */
export function checkMessage(m: unknown): Verdict {
  if (!isPlainObject(m)) {
    return { kind: 'reply', id: null, code: ErrorCodes.InvalidRequest, message: Array.isArray(m) ? 'batch messages are not supported' : `a message must be a JSON object, got ${describe(m)}` };
  }
  const hasId = m.id !== undefined;
  const idOk = (typeof m.id === 'string' && m.id.length <= MAX_ID_CHARS) || (typeof m.id === 'number' && Number.isFinite(m.id));
  const replyId = idOk ? (m.id as string | number) : null;
  const invalid = (message: string): Verdict => ({ kind: 'reply', id: replyId, code: ErrorCodes.InvalidRequest, message });
  if ('method' in m) {
    const method = m.method;
    if (!hasId) {
      // A notification: nothing can be answered.
      if (typeof method !== 'string') return { kind: 'drop', reason: `notification with a method that is ${describe(method)}` };
      if (method === CANCEL) {
        const p = m.params;
        if (!isPlainObject(p) || !((typeof p.id === 'string' && p.id.length <= MAX_ID_CHARS) || (typeof p.id === 'number' && Number.isFinite(p.id)))) {
          return { kind: 'drop', reason: `${CANCEL} needs params {id: number | string}, got ${isPlainObject(p) ? `id ${describe(p.id)}` : describe(p)}` };
        }
        return { kind: 'pass' };
      }
      // The server handles no other notification (the built-in $/ ones are not used by its clients).
      return { kind: 'drop', reason: `unknown notification ${short(method)}` };
    }
    if (!idOk) return invalid(`"id" must be a number or a string of at most ${MAX_ID_CHARS} characters, got ${describe(m.id)}`);
    if (m.jsonrpc !== '2.0') return invalid('"jsonrpc" must be "2.0"');
    if (typeof method !== 'string') return invalid(`"method" must be a string, got ${describe(method)}`);
    const shape = PARAMS[method];
    if (!shape) return { kind: 'reply', id: replyId, code: ErrorCodes.MethodNotFound, message: `unknown method ${short(method, MAX_METHOD_CHARS)}` };
    const p = m.params;
    if (shape === 'object' && !isPlainObject(p)) {
      return { kind: 'reply', id: replyId, code: ErrorCodes.InvalidParams, message: `${method}: params must be an object (named parameters), got ${describe(p)}` };
    }
    if (shape === 'none' && !(p === undefined || (Array.isArray(p) && p.length === 0) || (isPlainObject(p) && Object.keys(p).length === 0))) {
      return { kind: 'reply', id: replyId, code: ErrorCodes.InvalidParams, message: `${method} takes no parameters, got ${describe(p)}` };
    }
    return { kind: 'pass' };
  }
  if ('result' in m || 'error' in m) return { kind: 'drop', reason: `response to id ${hasId ? describe(m.id) : 'none'} (the server sends no requests)` };
  return invalid('a message needs a "method" (request or notification)');
}

/** Logs the first `burst` drops, then one line per `every` with the count, so a flood cannot flood the log. */
class DropLog {
  private count = 0;
  constructor(
    private readonly log: GuardLog,
    private readonly burst = 20,
    private readonly every = 1000,
  ) {}
  note(reason: string): void {
    this.count++;
    if (this.count <= this.burst) this.log('warn', `dropped a malformed message: ${reason}`);
    else if (this.count % this.every === 0) this.log('warn', `dropped ${this.count} malformed messages so far (latest: ${reason})`);
  }
}

/** A MessageReader that only passes on well-formed messages (see `checkMessage`) and answers the rest. */
export class GuardedReader extends AbstractMessageReader implements MessageReader {
  private readonly drops: DropLog;
  rejected = 0;

  constructor(
    private readonly inner: MessageReader,
    private readonly writer: MessageWriter,
    private readonly log: GuardLog,
  ) {
    super();
    this.drops = new DropLog(log);
    inner.onError((e) => this.fireError(e));
    inner.onClose(() => this.fireClose());
    inner.onPartialMessage((i) => this.firePartialMessage(i));
  }

  /** Answers a message that never reaches the connection. */
  reply(id: string | number | null, code: number, message: string): void {
    this.rejected++;
    const msg = { jsonrpc: '2.0', id, error: { code, message } } as unknown as Message;
    this.writer.write(msg).catch(() => undefined);
  }

  listen(callback: DataCallback): Disposable {
    return this.inner.listen((m: unknown) => {
      let v: Verdict;
      try {
        v = checkMessage(m);
      } catch (e) {
        v = { kind: 'drop', reason: `unreadable message (${(e as Error).message})` };
      }
      if (v.kind === 'reply') {
        this.drops.note(`${v.message} (answered ${v.code})`);
        this.reply(v.id, v.code, v.message);
        return;
      }
      if (v.kind === 'drop') {
        this.drops.note(v.reason);
        return;
      }
      try {
        callback(m as Message);
      } catch (e) {
        // vscode-jsonrpc's own handling of a message that passed the checks: log it, keep the connection.
        this.log('warn', `message handling failed: ${e instanceof Error ? e.message : String(e)}`);
      }
    });
  }

  override dispose(): void {
    super.dispose();
    this.inner.dispose();
  }
}

const HEADER_END = Buffer.from('\r\n\r\n');
const HEADER_NAME = /content-length/i;
/** Longest header block accepted. */
const MAX_HEADER_BYTES = 8192;

/**
 * Content-Length framing over a byte stream (the LSP base protocol) that survives bad frames; see the file comment.
 * `onBadFrame` is told about each bad frame (the server answers it with -32700, id null).
 */
export class FramedStreamReader extends AbstractMessageReader implements MessageReader {
  private chunks: Buffer[] = [];
  private length = 0;
  /** Body length of the frame whose header has been read, or -1. */
  private need = -1;
  private callback: DataCallback | undefined;
  private stallTimer: NodeJS.Timeout | undefined;
  badFrames = 0;

  constructor(
    private readonly stream: NodeJS.ReadableStream,
    private readonly onBadFrame: (reason: string) => void,
    private readonly maxBytes: number = LIMITS.maxMessageBytes,
    private readonly stallMs = 1000,
  ) {
    super();
  }

  listen(callback: DataCallback): Disposable {
    this.callback = callback;
    const onData = (d: Buffer | string) => this.onData(typeof d === 'string' ? Buffer.from(d, 'utf8') : d);
    const onError = (e: Error) => this.fireError(e);
    const onEnd = () => this.fireClose();
    this.stream.on('data', onData);
    this.stream.on('error', onError);
    this.stream.on('end', onEnd);
    this.stream.on('close', onEnd);
    return Disposable.create(() => {
      this.stream.off('data', onData);
      this.stream.off('error', onError);
      this.stream.off('end', onEnd);
      this.stream.off('close', onEnd);
      this.clearStall();
    });
  }

  private onData(d: Buffer): void {
    this.chunks.push(d);
    this.length += d.length;
    this.clearStall();
    try {
      this.drain();
    } catch (e) {
      // Should not happen; never let a framing problem become an uncaught exception.
      this.bad(`framing error: ${(e as Error).message}`);
      this.chunks = [];
      this.length = 0;
      this.need = -1;
    }
  }

  private joined(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks, this.length)];
    return this.chunks[0] ?? Buffer.alloc(0);
  }

  private consume(n: number): void {
    const b = this.joined().subarray(n);
    this.chunks = b.length ? [b] : [];
    this.length = b.length;
  }

  private bad(reason: string): void {
    this.badFrames++;
    this.onBadFrame(reason);
  }

  /** Drops bytes up to the next `Content-Length` header name at or after `from` (keeps a partial name at the end). */
  private resync(from: number): void {
    const buf = this.joined();
    const text = buf.toString('latin1', from);
    const m = HEADER_NAME.exec(text);
    if (m) {
      this.consume(from + m.index);
      return;
    }
    // Keep only an end that may be the start of the next header name (it may arrive split across chunks).
    const name = 'content-length';
    let keep = 0;
    for (let k = Math.min(name.length - 1, text.length); k > 0; k--) {
      if (name.startsWith(text.slice(text.length - k).toLowerCase())) {
        keep = k;
        break;
      }
    }
    this.consume(buf.length - keep);
  }

  private drain(): void {
    for (;;) {
      if (this.need < 0) {
        if (this.length === 0) return;
        const buf = this.joined();
        const end = buf.subarray(0, MAX_HEADER_BYTES + HEADER_END.length).indexOf(HEADER_END);
        if (end < 0) {
          if (this.length <= MAX_HEADER_BYTES) return;
          this.bad(`no header end within ${MAX_HEADER_BYTES} bytes`);
          this.resync(1);
          continue;
        }
        const header = buf.toString('latin1', 0, end);
        let contentLength: number | undefined;
        let problem: string | undefined;
        for (const line of header.split('\r\n')) {
          const colon = line.indexOf(':');
          const name = colon > 0 ? line.slice(0, colon).trim().toLowerCase() : '';
          if (name !== 'content-length') continue;
          const value = line.slice(colon + 1).trim();
          if (!/^\d{1,12}$/.test(value)) problem = `Content-Length is not a number: ${JSON.stringify(value.slice(0, 40))}`;
          else if (Number(value) > this.maxBytes) problem = `Content-Length ${value} is over the limit of ${this.maxBytes} bytes`;
          else contentLength = Number(value);
        }
        if (contentLength === undefined && !problem) problem = `header without Content-Length: ${JSON.stringify(header.slice(0, 80))}`;
        if (problem || contentLength === undefined) {
          this.bad(problem ?? 'bad header');
          this.resync(1);
          continue;
        }
        this.consume(end + HEADER_END.length);
        this.need = contentLength;
      }
      if (this.length < this.need) {
        this.armStall();
        return;
      }
      const buf = this.joined();
      const body = buf.subarray(0, this.need);
      let message: unknown;
      let parsed = false;
      try {
        message = JSON.parse(body.toString('utf8'));
        parsed = true;
      } catch (e) {
        this.bad(`the body is not valid JSON (${(e as Error).message.slice(0, 80)})`);
      }
      const length = this.need;
      this.need = -1;
      if (parsed) {
        this.consume(length);
        this.callback?.(message as Message);
      } else {
        // The Content-Length may have been wrong: look for the next header from the body's second byte on (from its
        // first when it is empty: that is where the next frame starts).
        this.resync(length === 0 ? 0 : 1);
      }
    }
  }

  /** A body still incomplete after `stallMs` without data, while a later header is already buffered: give it up. */
  private armStall(): void {
    if (this.stallMs <= 0 || this.stallTimer) return;
    this.stallTimer = setTimeout(() => {
      this.stallTimer = undefined;
      if (this.need < 0 || this.length >= this.need) return;
      const buf = this.joined();
      if (!HEADER_NAME.test(buf.toString('latin1', 1))) return; // nothing to resynchronise to: keep waiting
      this.bad(`incomplete message: Content-Length ${this.need} but ${this.length} bytes arrived and the stream went quiet`);
      this.need = -1;
      this.resync(0);
      try {
        this.drain();
      } catch (e) {
        this.bad(`framing error: ${(e as Error).message}`);
      }
    }, this.stallMs);
    this.stallTimer.unref?.();
  }

  private clearStall(): void {
    if (this.stallTimer) clearTimeout(this.stallTimer);
    this.stallTimer = undefined;
  }
}
