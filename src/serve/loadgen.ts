/**
 * The load generator: typists replayed against a `superdraft serve` over HTTP. Each typist types through a real
 * source file, one character per keystroke at a jittered cadence; every keystroke asks for drafts
 * (`POST /v1/completions`, prompt = the text before the cursor, suffix = the lines after it) and aborts the request of
 * the previous keystroke (the server sees a disconnect and cancels). After a burst of keystrokes the typist waits for
 * the drafts, reads them, and accepts the first when its first line is what the file says next (the cursor jumps
 * past it). Keystroke → drafts is the time from a keystroke to the drafts of that keystroke's request.
 */

export interface TypistDoc {
  path: string;
  text: string;
}

export interface LoadOptions {
  url: string;
  token?: string;
  users: number;
  strategy: string;
  k: number;
  maxTokens: number;
  durationMs: number;
  /** Mean time between keystrokes of a burst. */
  keyMs: number;
  docs: TypistDoc[];
  seed?: number;
}

export interface LoadResult {
  users: number;
  strategy: string;
  k: number;
  seconds: number;
  requests: number;
  completed: number;
  /** Requests a keystroke superseded. */
  cancelled: number;
  /** Requests still under way at the end of the run (aborted then). */
  unfinished: number;
  errors: number;
  accepted: number;
  drafts: number;
  draftsPerSecond: number;
  p50Ms: number;
  p95Ms: number;
  /** Decoding passes and drafts of the completed requests (the server's account). */
  passes: number;
  /** Prompt tokens of the completed requests served from the KV cache, as a fraction (NaN: /metrics unreadable). */
  promptReuse: number;
  firstError?: string;
}

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

interface Tally {
  latencies: number[];
  requests: number;
  cancelled: number;
  unfinished: number;
  errors: number;
  accepted: number;
  drafts: number;
  passes: number;
  firstError?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One typist until the deadline. */
async function typist(o: LoadOptions, id: number, deadline: number, stop: AbortSignal, t: Tally): Promise<void> {
  const random = rng((o.seed ?? 1) * 7919 + id);
  const doc = o.docs[id % o.docs.length];
  let pos = Math.floor(doc.text.length * (0.3 + 0.4 * random()));
  let inflight: { ac: AbortController; done: Promise<string[] | null> } | null = null;
  const ask = (): { ac: AbortController; done: Promise<string[] | null> } => {
    const ac = new AbortController();
    const onStop = () => ac.abort();
    stop.addEventListener('abort', onStop, { once: true });
    const lineEnd = doc.text.indexOf('\n', pos);
    const body = { prompt: doc.text.slice(0, pos), suffix: lineEnd < 0 ? '' : doc.text.slice(lineEnd), path: doc.path, n: o.k, max_tokens: o.maxTokens, superdraft_strategy: o.strategy, user: `typist-${id}` };
    const sent = performance.now();
    t.requests++;
    const done = (async (): Promise<string[] | null> => {
      try {
        const r = await fetch(`${o.url}/v1/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(o.token ? { authorization: `Bearer ${o.token}` } : {}) },
          body: JSON.stringify(body),
          signal: ac.signal,
        });
        const j = (await r.json()) as { choices?: { text: string }[]; superdraft?: { passes: number }; error?: { message: string } };
        if (r.status === 409) {
          t.cancelled++; // superseded at the server by this typist's next keystroke
          return null;
        }
        if (!r.ok || !j.choices) {
          t.errors++;
          t.firstError ??= `${r.status} ${j.error?.message ?? ''}`;
          return null;
        }
        t.latencies.push(performance.now() - sent);
        t.drafts += j.choices.length;
        t.passes += j.superdraft?.passes ?? 0;
        return j.choices.map((c) => c.text);
      } catch (e) {
        if ((e as Error).name === 'AbortError') {
          if (stop.aborted) t.unfinished++;
          else t.cancelled++;
        } else {
          t.errors++;
          t.firstError ??= (e as Error).message;
        }
        return null;
      } finally {
        stop.removeEventListener('abort', onStop);
      }
    })();
    return { ac, done };
  };
  while (performance.now() < deadline) {
    if (pos >= doc.text.length - 1) pos = Math.floor(doc.text.length * 0.3);
    const burst = 3 + Math.floor(random() * 8);
    for (let i = 0; i < burst && performance.now() < deadline && pos < doc.text.length - 1; i++) {
      inflight?.ac.abort();
      pos++;
      inflight = ask();
      await sleep(o.keyMs * (0.5 + random()));
    }
    const drafts = inflight ? await inflight.done : null;
    inflight = null;
    if (drafts && drafts.length) {
      const first = drafts[0].split('\n')[0];
      const truth = doc.text.slice(pos).split('\n')[0];
      if (first.length > 0 && truth.startsWith(first)) {
        t.accepted++;
        pos += first.length;
      }
    }
    await sleep(300 + random() * 700);
  }
  // a request of the last burst still under way ends with the run (unfinished)
  const last = inflight as { ac: AbortController; done: Promise<string[] | null> } | null;
  if (last) {
    if (!stop.aborted) await new Promise((r) => stop.addEventListener('abort', r, { once: true }));
    await last.done;
  }
}

/** The server's prompt tokens reused and computed so far (from /metrics); undefined when it cannot be read. */
async function cacheCounts(o: LoadOptions): Promise<{ reused: number; computed: number } | undefined> {
  try {
    const r = await fetch(`${o.url}/metrics`, { headers: o.token ? { authorization: `Bearer ${o.token}` } : {} });
    if (!r.ok) return undefined;
    const sum = (text: string, name: string) =>
      text
        .split('\n')
        .filter((l) => l.startsWith(name + ' ') || l.startsWith(name + '{'))
        .reduce((a, l) => a + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
    const text = await r.text();
    return { reused: sum(text, 'superdraft_prompt_tokens_reused_total'), computed: sum(text, 'superdraft_prompt_tokens_computed_total') };
  } catch {
    return undefined;
  }
}

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const cache0 = await cacheCounts(o);
  const t: Tally = { latencies: [], requests: 0, cancelled: 0, unfinished: 0, errors: 0, accepted: 0, drafts: 0, passes: 0 };
  const t0 = performance.now();
  const deadline = t0 + o.durationMs;
  // at the deadline every request still under way is aborted (counted as unfinished, not as a cancellation)
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(), o.durationMs);
  await Promise.all(Array.from({ length: o.users }, (_, i) => typist(o, i, deadline, stop.signal, t)));
  clearTimeout(timer);
  stop.abort();
  const seconds = (performance.now() - t0) / 1000;
  const cache1 = await cacheCounts(o);
  const reused = cache0 && cache1 ? cache1.reused - cache0.reused : NaN;
  const prompt = cache0 && cache1 ? reused + cache1.computed - cache0.computed : NaN;
  const sorted = [...t.latencies].sort((a, b) => a - b);
  return {
    users: o.users,
    strategy: o.strategy,
    k: o.k,
    seconds: Math.round(seconds * 10) / 10,
    requests: t.requests,
    completed: t.latencies.length,
    cancelled: t.cancelled,
    unfinished: t.unfinished,
    errors: t.errors,
    accepted: t.accepted,
    drafts: t.drafts,
    draftsPerSecond: Math.round((t.drafts / seconds) * 10) / 10,
    p50Ms: Math.round(percentile(sorted, 50)),
    p95Ms: Math.round(percentile(sorted, 95)),
    passes: t.passes,
    promptReuse: prompt > 0 ? Math.round((reused / prompt) * 100) / 100 : NaN,
    ...(t.firstError ? { firstError: t.firstError } : {}),
  };
}

export function formatTable(rows: LoadResult[], model: string): string {
  const head = '| model | strategy | k | users | p50 ms | p95 ms | drafts/s | completed | cancelled | unfinished | accepted | errors | passes/req | prompt reused |';
  const sep = '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|';
  const lines = rows.map(
    (r) =>
      `| ${model} | ${r.strategy} | ${r.k} | ${r.users} | ${r.p50Ms} | ${r.p95Ms} | ${r.draftsPerSecond} | ${r.completed} | ${r.cancelled} | ${r.unfinished} | ${r.accepted} | ${r.errors} | ${r.completed ? (r.passes / r.completed).toFixed(1) : '-'} | ${Number.isNaN(r.promptReuse) ? '-' : `${Math.round(r.promptReuse * 100)} %`} |`,
  );
  return [head, sep, ...lines].join('\n');
}
