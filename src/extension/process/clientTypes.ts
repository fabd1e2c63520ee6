/** The inference-process client's contract: its options, its states, its errors. */
import { ResponseError } from 'vscode-jsonrpc/node';
import type { InitializeParams, LogParams } from '../../protocol';
import type { RestartPolicy } from './restartPolicy';

export type ClientState = 'stopped' | 'starting' | 'ready' | 'error';
export type LogLevelName = LogParams['level'];

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
export function isTransportError(err: unknown): boolean {
  if (!(err instanceof ResponseError)) return true;
  return err.code >= -32099 && err.code <= -32096;
}
