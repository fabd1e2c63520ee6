/**
 * The fair queue in front of the engine. The engine decodes one request at a time; the queue decides which runs next:
 * of the tokens with waiting requests, the one served least recently (ties: the oldest waiting request), each token's
 * own requests in arrival order; so one busy team member cannot starve the others, and a token that was just served
 * waits behind every other token that is waiting. Per token at most `maxPerToken` requests are queued or running (more: TooBusy,
 * answered 429). A request cancelled while queued leaves the queue at once; one cancelled while running stops within
 * one decoding step (the engine checks its AbortSignal every step). A newer request of the same client (token +
 * client id) supersedes the older one, which is cancelled.
 */
import type { CompletionRequest, CompletionResponse } from '../protocol';
import { EngineError } from '../protocol/errors';

export interface CompletionEngine {
  complete(req: CompletionRequest, signal?: AbortSignal): Promise<CompletionResponse>;
}

export type CancelReason = 'disconnect' | 'superseded' | 'shutdown';

export class TooBusy extends Error {}

interface Job {
  token: string;
  client?: string;
  req: CompletionRequest;
  ac: AbortController;
  enqueuedAt: number;
  started: boolean;
  reason?: CancelReason;
  resolve: (r: { res: CompletionResponse; waitMs: number }) => void;
  reject: (e: unknown) => void;
}

export class FairQueue {
  /** Waiting jobs per token (only tokens that have some). */
  private readonly waiting = new Map<string, Job[]>();
  /** When each token was last served (a turn number). */
  private readonly lastServed = new Map<string, number>();
  private turn = 0;
  private running: Job | null = null;
  private readonly perToken = new Map<string, number>();
  private readonly byClient = new Map<string, Job>();

  constructor(
    private readonly engine: CompletionEngine,
    private readonly maxPerToken: number,
    private readonly onCancel: (reason: CancelReason, token: string, stage: 'queued' | 'running') => void = () => undefined,
  ) {}

  /** Requests waiting (not running). */
  get depth(): number {
    let n = 0;
    for (const q of this.waiting.values()) n += q.length;
    return n;
  }

  get busy(): boolean {
    return this.running !== null;
  }

  /** Runs `req` for `token` when its turn comes; `signal` (the client's connection) cancels it. Throws TooBusy at once. */
  submit(token: string, req: CompletionRequest, signal: AbortSignal, client?: string): Promise<{ res: CompletionResponse; waitMs: number }> {
    const held = this.perToken.get(token) ?? 0;
    // thrown, not a rejected promise: the caller answers 429 before it starts an answer (a stream's 200)
    if (held >= this.maxPerToken) throw new TooBusy(`token ${token} already has ${held} requests under way (the limit is ${this.maxPerToken})`);
    return new Promise((resolve, reject) => {
      const job: Job = { token, client, req, ac: new AbortController(), enqueuedAt: performance.now(), started: false, resolve, reject };
      this.perToken.set(token, held + 1);
      if (client !== undefined) {
        const key = `${token}\u0000${client}`;
        const older = this.byClient.get(key);
        if (older) this.cancel(older, 'superseded');
        this.byClient.set(key, job);
      }
      if (signal.aborted) return this.finish(job, () => reject(new EngineError('cancelled', 'request cancelled')), 'disconnect');
      signal.addEventListener('abort', () => this.cancel(job, 'disconnect'), { once: true });
      let q = this.waiting.get(token);
      if (!q) this.waiting.set(token, (q = []));
      q.push(job);
      this.pump();
    });
  }

  /** Cancels everything (shutdown). */
  cancelAll(): void {
    for (const q of [...this.waiting.values()]) for (const j of [...q]) this.cancel(j, 'shutdown');
    if (this.running) this.cancel(this.running, 'shutdown');
  }

  private cancel(job: Job, reason: CancelReason): void {
    if (job.reason) return;
    job.reason = reason;
    this.onCancel(reason, job.token, job.started ? 'running' : 'queued');
    if (job.started) {
      job.ac.abort(); // the engine stops within one decoding step and rejects; run() settles the job
      return;
    }
    const q = this.waiting.get(job.token);
    const i = q ? q.indexOf(job) : -1;
    if (q && i >= 0) {
      q.splice(i, 1);
      if (q.length === 0) this.waiting.delete(job.token);
      this.finish(job, () => job.reject(new EngineError('cancelled', `request cancelled (${reason})`)));
    }
  }

  private finish(job: Job, settle: () => void, reason?: CancelReason): void {
    if (reason) {
      job.reason = reason;
      this.onCancel(reason, job.token, 'queued');
    }
    const n = (this.perToken.get(job.token) ?? 1) - 1;
    if (n > 0) this.perToken.set(job.token, n);
    else this.perToken.delete(job.token);
    if (job.client !== undefined) {
      const key = `${job.token}\u0000${job.client}`;
      if (this.byClient.get(key) === job) this.byClient.delete(key);
    }
    settle();
  }

  /** The token served least recently among those waiting (ties: the oldest waiting request). */
  private next(): string | undefined {
    let best: string | undefined;
    let bestTurn = Infinity;
    let bestAt = Infinity;
    for (const [token, q] of this.waiting) {
      const turn = this.lastServed.get(token) ?? -1;
      if (turn < bestTurn || (turn === bestTurn && q[0].enqueuedAt < bestAt)) [best, bestTurn, bestAt] = [token, turn, q[0].enqueuedAt];
    }
    return best;
  }

  /** Starts the next job when the engine is free. */
  private pump(): void {
    const token = this.running ? undefined : this.next();
    if (token === undefined) return;
    const q = this.waiting.get(token) as Job[];
    const job = q.shift() as Job;
    if (q.length === 0) this.waiting.delete(token);
    this.lastServed.set(token, this.turn++);
    this.running = job;
    job.started = true;
    const waitMs = performance.now() - job.enqueuedAt;
    this.engine.complete(job.req, job.ac.signal).then(
      (res) => this.done(job, () => (job.reason ? job.reject(new EngineError('cancelled', `request cancelled (${job.reason})`)) : job.resolve({ res, waitMs }))),
      (e: unknown) => this.done(job, () => job.reject(job.reason ? new EngineError('cancelled', `request cancelled (${job.reason})`) : e)),
    );
  }

  private done(job: Job, settle: () => void): void {
    this.running = null;
    this.finish(job, settle);
    this.pump();
  }
}
