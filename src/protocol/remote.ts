/**
 * Remote backends (src/remote/): the servers users already run as the source of drafts instead of the local
 * inference process. Names, defaults and the one body field that asks `superdraft serve` for a strategy live here so
 * that the extension, the CLI and a future `superdraft serve` agree on them. Types and constants only.
 */

export type BackendName = 'local' | 'llama.cpp' | 'ollama' | 'openai';
export const BACKENDS: readonly BackendName[] = ['local', 'llama.cpp', 'ollama', 'openai'];
export type RemoteBackendName = Exclude<BackendName, 'local'>;
export const REMOTE_BACKENDS: readonly RemoteBackendName[] = ['llama.cpp', 'ollama', 'openai'];

/** FIM conventions a client-built prompt can use (src/engine/model/config.ts: KNOWN_FIM), or auto (from the model name). */
export type RemoteFim = 'auto' | 'qwen' | 'starcoder' | 'deepseek' | 'codellama';
export const REMOTE_FIMS: readonly RemoteFim[] = ['auto', 'qwen', 'starcoder', 'deepseek', 'codellama'];

export const REMOTE_DEFAULTS = Object.freeze({
  backend: 'local' as BackendName,
  /** Each server's usual address when `superdraft.endpoint` is empty. */
  endpoints: Object.freeze({
    'llama.cpp': 'http://127.0.0.1:8080',
    ollama: 'http://127.0.0.1:11434',
    openai: 'http://127.0.0.1:8000',
  } as Record<RemoteBackendName, string>),
  remoteModel: '',
  remoteFim: 'auto' as RemoteFim,
  /** Client deadline of one remote request when the request has no latency budget (ms). */
  timeoutMs: 30_000,
  /** Environment variable that holds the API key for the CLI (sent as `Authorization: Bearer …`). */
  apiKeyEnv: 'SUPERDRAFT_API_KEY',
});

/**
 * The one extra body field of `POST /v1/completions` that asks `superdraft serve` (recognised from its
 * `GET /v1/models` answer: a model `owned_by` SERVE_OWNER) for a Superdraft strategy instead of plain sampling.
 */
export const SERVE_STRATEGY_FIELD = 'superdraft_strategy';
export const SERVE_OWNER = 'superdraft';

/** Where a remote draft came from (Draft.server): the backend, the server's model and the server's time for the call. */
export interface RemoteOrigin {
  backend: RemoteBackendName;
  model: string;
  /** Wall time of the HTTP call(s) that produced the draft, ms (a call for k drafts: its time / drafts it returned). */
  msPerDraft: number;
}
