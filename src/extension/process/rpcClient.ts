/**
 * Client side of the inference process, part 2: the RPC calls (complete, indexFiles, diagnostics) on the supervised
 * process, superseded requests cancelled per key, and the mapping of every failure to a ClientError.
 */
import type { ChildProcess } from 'node:child_process';
import { CancellationTokenSource, ResponseError, type CancellationToken, type MessageConnection } from 'vscode-jsonrpc/node';
import { ErrorCodes, Methods, type CompletionRequest, type CompletionResponse, type DiagnosticsResult, type IndexFilesParams, type StrategyName } from '../../protocol';
import { ClientError, ProcessSupervisor, isTransportError } from './supervisor';

/** A cancellation token in the shape both `vscode.CancellationToken` and vscode-jsonrpc's have. */
export interface TokenLike {
  readonly isCancellationRequested: boolean;
  onCancellationRequested(listener: () => void): { dispose(): void };
}

export class InferenceClient extends ProcessSupervisor {
  requests = 0;
  cancelled = 0;
  /** Last measured round-trip latency per strategy, ms. */
  readonly latency = new Map<StrategyName, number>();

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
  async complete(req: CompletionRequest, token?: TokenLike): Promise<CompletionResponse> {
    // JSON would turn NaN and ±Infinity into null, which the server reads as "use the default": refuse them here.
    for (const f of ['k', 'maxTokens', 'temperature', 'topP', 'seed', 'timeBudgetMs'] as const) {
      const v = req[f];
      if (typeof v === 'number' && !Number.isFinite(v)) throw new ClientError(`"${f}" must be a finite number (got ${v})`, 'invalid_request');
    }
    const conn = this.connection();
    const child = this.child;
    const src = new CancellationTokenSource();
    this.inflight.add(src);
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
      this.inflight.delete(src);
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
