/**
 * Errors of remote backends, each with what the user can do about it: the cause in words, the setting to change, and
 * whether retrying later can help (an unreachable server, a timeout, a server killed mid-response) or not until a
 * setting changes (a wrong key, an unknown model, a model without fill-in-the-middle).
 */
export type RemoteErrorCode =
  | 'cancelled'
  | 'unreachable'
  | 'auth'
  | 'unknown_model'
  | 'suffix_unsupported'
  | 'slots'
  | 'timeout'
  | 'malformed'
  | 'truncated'
  | 'bad_request'
  | 'server';

/** Codes a later retry can fix without a settings change (retried with backoff). */
const TRANSIENT: ReadonlySet<RemoteErrorCode> = new Set(['unreachable', 'timeout', 'truncated', 'server']);

export class RemoteError extends Error {
  constructor(
    readonly code: RemoteErrorCode,
    message: string,
    /** The setting (extension) that fixes it, e.g. "superdraft.endpoint". */
    readonly setting?: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'RemoteError';
  }

  get transient(): boolean {
    return TRANSIENT.has(this.code);
  }
}

/** The message of a server's error body: OpenAI/llama.cpp `{error: {message}}`, Ollama `{error: "…"}`, or the text. */
export function serverMessage(body: string): string {
  try {
    const j = JSON.parse(body) as { error?: unknown; message?: unknown; detail?: unknown };
    const e = j.error;
    if (typeof e === 'string') return e;
    if (e && typeof e === 'object' && typeof (e as { message?: unknown }).message === 'string') return (e as { message: string }).message;
    if (typeof j.message === 'string') return j.message;
    if (typeof j.detail === 'string') return j.detail;
  } catch {
    // not JSON
  }
  return body.trim().slice(0, 300);
}
