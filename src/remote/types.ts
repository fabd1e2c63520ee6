/** What the three backends share: the query for k drafts and what a server answered. */
import type { StrategyName } from '../protocol';
import type { RemoteBackendName, RemoteFim } from '../protocol/remote';
import type { Exchange } from './http';

export interface RemoteConfig {
  backend: RemoteBackendName;
  /** Base URL (superdraft.endpoint); empty = the backend's usual local address (REMOTE_DEFAULTS.endpoints). */
  endpoint: string;
  /** The server's model (superdraft.remoteModel); llama.cpp serves one model and may leave it empty. */
  model: string;
  fim: RemoteFim;
  /** Sent as `Authorization: Bearer …` to every backend; never logged. */
  apiKey?: string;
  /** Things said once (a fallback taken, fewer slots than k): for diagnostics, never per keystroke. */
  notice?: (message: string) => void;
  /** Client deadline of one request without a latency budget, ms (default REMOTE_DEFAULTS.timeoutMs). */
  timeoutMs?: number;
}

export interface DraftQuery {
  prefix: string;
  suffix: string;
  path: string;
  snippets: { path: string; text: string }[];
  /** Drafts to ask for (1 for greedy). */
  k: number;
  maxTokens: number;
  /** 0 = greedy. */
  temperature: number;
  topP: number;
  /** Stop at the end of the first line (line mode). */
  line: boolean;
  /** The strategy asked for (sent only to `superdraft serve`). */
  strategy: StrategyName;
  /** Server-side time limit (llama.cpp's t_max_predict_ms), ms. */
  timeBudgetMs?: number;
  seed?: number;
}

export interface ServerDraft {
  text: string;
  /** The server's log-probabilities of the draft's tokens, where it returned them. */
  lps?: number[];
  /** Tokens the server generated, where it said. */
  tokens?: number;
}

export interface ServerAnswer {
  drafts: ServerDraft[];
  /** The model that answered (as the server names it). */
  model: string;
  /** What ran when it is not what was asked (sampling for superposed; a superdraft serve strategy). */
  strategy: StrategyName;
}

export interface Backend {
  drafts(q: DraftQuery, ex: Exchange): Promise<ServerAnswer>;
}

/** Mean of log-probabilities; undefined when there are none or any is not finite. */
export function meanLp(lps: readonly number[] | undefined): number | undefined {
  if (!lps || lps.length === 0 || lps.some((x) => !Number.isFinite(x))) return undefined;
  return lps.reduce((a, b) => a + b, 0) / lps.length;
}
