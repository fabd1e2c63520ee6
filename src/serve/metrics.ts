/**
 * The server's metrics in the Prometheus text exposition format (version 0.0.4): counters, gauges and histograms with
 * labels, kept in memory. Label values come from the server (route, status, token name, strategy, reason), never from
 * request bodies, so the number of series stays bounded.
 */

type Labels = Record<string, string>;

const key = (labels: Labels): string =>
  Object.keys(labels)
    .sort()
    .map((k) => `${k}="${labels[k].replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
    .join(',');

class Counter {
  readonly values = new Map<string, number>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}
  inc(labels: Labels = {}, by = 1): void {
    const k = key(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }
  get(labels: Labels = {}): number {
    return this.values.get(key(labels)) ?? 0;
  }
  render(type = 'counter'): string[] {
    const out = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${type}`];
    if (this.values.size === 0 && type === 'counter') out.push(`${this.name} 0`);
    for (const [k, v] of this.values) out.push(`${this.name}${k ? `{${k}}` : ''} ${v}`);
    return out;
  }
}

class Histogram {
  private readonly series = new Map<string, { counts: number[]; sum: number; count: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: number[],
  ) {}
  observe(labels: Labels, v: number): void {
    const k = key(labels);
    let s = this.series.get(k);
    if (!s) this.series.set(k, (s = { counts: this.buckets.map(() => 0), sum: 0, count: 0 }));
    this.buckets.forEach((b, i) => {
      if (v <= b) s.counts[i]++;
    });
    s.sum += v;
    s.count++;
  }
  render(): string[] {
    const out = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const [k, s] of this.series) {
      const sep = k ? ',' : '';
      this.buckets.forEach((b, i) => out.push(`${this.name}_bucket{${k}${sep}le="${b}"} ${s.counts[i]}`));
      out.push(`${this.name}_bucket{${k}${sep}le="+Inf"} ${s.count}`);
      out.push(`${this.name}_sum${k ? `{${k}}` : ''} ${s.sum}`);
      out.push(`${this.name}_count${k ? `{${k}}` : ''} ${s.count}`);
    }
    return out;
  }
}

const SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class Metrics {
  readonly requests = new Counter('superdraft_http_requests_total', 'HTTP requests answered, by route, status and token name.');
  readonly latency = new Histogram('superdraft_request_duration_seconds', 'Completion requests: arrival to answer, by route and strategy.', SECONDS);
  readonly queueWait = new Histogram('superdraft_queue_wait_seconds', 'Completion requests: time spent in the fair queue.', SECONDS);
  readonly drafts = new Counter('superdraft_drafts_total', 'Drafts returned, by strategy.');
  readonly passes = new Counter('superdraft_decoding_passes_total', 'Decoding passes (sequences decoded): superposed decoding makes one for k drafts, sampling and beam k.');
  readonly forwards = new Counter('superdraft_model_forwards_total', 'Model forward calls (prefill, decoding steps, verification), by strategy.');
  readonly cancellations = new Counter('superdraft_cancellations_total', 'Requests cancelled before their answer, by reason (disconnect, superseded, shutdown) and stage (queued, or running: the engine stops within one decoding step).');
  readonly cacheHits = new Counter('superdraft_prompt_cache_hits_total', 'Completions that reused prompt tokens from the KV cache.');
  readonly cacheMisses = new Counter('superdraft_prompt_cache_misses_total', 'Completions whose prompt was computed from scratch.');
  readonly promptReused = new Counter('superdraft_prompt_tokens_reused_total', 'Prompt tokens of completed requests served from the KV cache.');
  readonly promptComputed = new Counter('superdraft_prompt_tokens_computed_total', 'Prompt tokens of completed requests computed (prefilled).');
  readonly rejected = new Counter('superdraft_rejected_total', 'Requests refused before any work, by reason (auth, body_too_large, prompt_too_large, concurrency, timeout, bad_request).');
  private readonly recentDrafts: { at: number; n: number }[] = [];

  constructor(private readonly gauges: () => Record<string, { help: string; value: number }>) {}

  draftsReturned(strategy: string, n: number): void {
    this.drafts.inc({ strategy }, n);
    const now = Date.now();
    this.recentDrafts.push({ at: now, n });
    while (this.recentDrafts.length && this.recentDrafts[0].at < now - 60_000) this.recentDrafts.shift();
  }

  /** Drafts per second over the last minute. */
  draftsPerSecond(): number {
    const now = Date.now();
    const n = this.recentDrafts.filter((d) => d.at >= now - 60_000).reduce((a, d) => a + d.n, 0);
    return n / 60;
  }

  render(): string {
    const lines: string[] = [];
    for (const c of [this.requests, this.drafts, this.passes, this.forwards, this.cancellations, this.cacheHits, this.cacheMisses, this.promptReused, this.promptComputed, this.rejected]) lines.push(...c.render());
    lines.push(...this.latency.render(), ...this.queueWait.render());
    const g = { ...this.gauges(), superdraft_drafts_per_second: { help: 'Drafts returned per second over the last minute.', value: this.draftsPerSecond() } };
    for (const [name, { help, value }] of Object.entries(g)) lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, `${name} ${value}`);
    return lines.join('\n') + '\n';
  }
}
