import { describe, expect, it } from 'vitest';
import { CompletionPipeline, REQUEST_KINDS, type DocInput, type CompletionSource, type RequestEvent } from '../../../src/extension/completions/pipeline';
import { ClientError } from '../../../src/extension/process/client';
import { DEFAULT_SETTINGS } from '../../../src/extension/settings';
import type { CompletionRequest, CompletionResponse } from '../../../src/protocol';

const timing = { totalMs: 1, prefillMs: 1, prefillTokens: 1, reusedTokens: 0, forwards: 1, acceptedSpeculative: 0 };

function doc(text: string, offset = text.length): DocInput {
  return { uri: 'file:///a.py', languageId: 'python', text: { length: text.length, slice: (s, e) => text.slice(s, e) }, offset, details: () => ({ path: 'a.py', snippets: [] }) };
}

const never = { isCancellationRequested: false, onCancellationRequested: () => ({ dispose() {} }) };

function fakeEngine(drafts = ['return x', 'return y']): CompletionSource & { calls: CompletionRequest[]; release: () => void } {
  let release = () => {};
  const calls: CompletionRequest[] = [];
  return {
    state: 'ready',
    calls,
    release: () => release(),
    ready: async () => undefined,
    complete: (req) => {
      calls.push(req);
      return new Promise<CompletionResponse>((resolve) => {
        release = () => resolve({ strategy: req.strategy!, timing, drafts: drafts.map((text) => ({ text, strategy: req.strategy!, score: 0 }) as never) });
      });
    },
  };
}

describe('CompletionPipeline', () => {
  it('asks the engine once, publishes start/done/end, then serves typing-as-suggested from the cache', async () => {
    const engine = fakeEngine();
    const p = new CompletionPipeline(engine, () => ({ ...DEFAULT_SETTINGS, debounceMs: 0 }), { debug() {}, warn() {} });
    const events: RequestEvent['phase'][] = [];
    p.onRequest.on((e) => events.push(e.phase));
    const first = p.draftsAt(doc('def f(x):\n    '), { kind: 'provider' }, never);
    await new Promise((r) => setTimeout(r, 0));
    expect(p.busy).toBe(1);
    engine.release();
    const res = await first;
    expect(res?.drafts.map((d) => d.text)).toEqual(['return x', 'return y']);
    expect(events).toEqual(['start', 'done', 'end']);
    expect(p.busy).toBe(0);
    expect(engine.calls[0]!.timeBudgetMs).toBe(DEFAULT_SETTINGS.latencyBudgetMs);
    const typed = await p.draftsAt(doc('def f(x):\n    ret'), { kind: 'provider' }, never);
    expect(typed?.source).toBe('cache');
    expect(typed?.drafts[0]!.text).toBe('urn x');
    expect(engine.calls).toHaveLength(1);
  });

  it('a provider request joins the keystroke request under way for the same position', async () => {
    const engine = fakeEngine();
    const p = new CompletionPipeline(engine, () => ({ ...DEFAULT_SETTINGS, debounceMs: 0 }), { debug() {}, warn() {} });
    const keystroke = p.draftsAt(doc('x = '), { kind: 'keystroke' }, never);
    await new Promise((r) => setTimeout(r, 0));
    const provider = p.draftsAt(doc('x = '), { kind: 'provider' }, never);
    engine.release();
    expect((await provider)?.drafts).toEqual((await keystroke)?.drafts);
    expect(engine.calls).toHaveLength(1);
    expect(p.joins).toBe(1);
  });

  it('request kinds: only interactive kinds get the latency budget, the prefetch and the rest of cut drafts run in the background', () => {
    expect(Object.entries(REQUEST_KINDS).filter(([, k]) => k.budget).map(([n]) => n)).toEqual(['provider', 'keystroke', 'panel']);
    expect(Object.entries(REQUEST_KINDS).filter(([, k]) => !k.foreground).map(([n]) => n)).toEqual(['prefetch', 'rest']);
    expect(Object.entries(REQUEST_KINDS).filter(([, k]) => k.refresh).map(([n]) => n)).toEqual(['rest']);
  });

  it('the rest of cut drafts: computed again without the budget, it replaces the cached cut drafts of that position', async () => {
    let n = 0;
    const calls: CompletionRequest[] = [];
    const engine: CompletionSource = {
      state: 'ready',
      ready: async () => undefined,
      complete: async (req) => {
        calls.push(req);
        // the first answer was cut by the budget at a word, the second is whole
        const text = n++ === 0 ? 'return total' : 'return total / len(values)';
        return { strategy: req.strategy!, timing: { ...timing, ...(n === 1 ? { budgetCuts: 1 } : {}) }, drafts: [{ text, strategy: req.strategy!, score: 0 } as never] };
      },
    };
    const p = new CompletionPipeline(engine, () => ({ ...DEFAULT_SETTINGS, debounceMs: 0 }), { debug() {}, warn() {} });
    const at = doc('def mean(values):\n    ');
    const cut = await p.draftsAt(at, { kind: 'provider' }, never);
    expect(cut?.timing?.budgetCuts).toBe(1);
    await new Promise((r) => setTimeout(r, 0)); // the registry forgets the finished request
    // a prefetch of a cached position is skipped; the rest is not
    expect(await p.draftsAt(at, { kind: 'prefetch' }, never)).toBeUndefined();
    const rest = await p.draftsAt(at, { kind: 'rest' }, never);
    expect(calls.map((c) => c.timeBudgetMs)).toEqual([DEFAULT_SETTINGS.latencyBudgetMs, undefined]);
    expect(rest?.drafts[0]!.text).toBe('return total / len(values)');
    // VS Code asks again: the whole drafts, from the cache
    const again = await p.draftsAt(at, { kind: 'provider' }, never);
    expect(again?.source).toBe('cache');
    expect(again?.drafts.map((d) => d.text)).toEqual(['return total / len(values)']);
    expect(calls).toHaveLength(2);
  });

  it('a cancelled request publishes cancelled, a failed one failed (and rethrows); a background prefetch publishes nothing', async () => {
    const events: RequestEvent[] = [];
    const failing = (err: Error): CompletionSource => ({ state: 'ready', ready: async () => undefined, complete: () => Promise.reject(err) });
    const warn: string[] = [];
    const log = { debug() {}, warn: (m: string) => warn.push(m) };
    const settings = () => ({ ...DEFAULT_SETTINGS, debounceMs: 0 });
    const cancelled = new CompletionPipeline(failing(new ClientError('cancelled', 'cancelled')), settings, log);
    cancelled.onRequest.on((e) => events.push(e));
    expect(await cancelled.draftsAt(doc('a = '), { kind: 'panel' }, never)).toBeUndefined();
    const failed = new CompletionPipeline(failing(new Error('boom')), settings, log);
    failed.onRequest.on((e) => events.push(e));
    await expect(failed.draftsAt(doc('a = '), { kind: 'provider' }, never)).rejects.toThrow('boom');
    await expect(failed.draftsAt(doc('b = '), { kind: 'prefetch', insert: { start: 4, text: '1' } }, never)).rejects.toThrow('boom');
    expect(events.map((e) => e.phase)).toEqual(['start', 'cancelled', 'end', 'start', 'failed', 'end']);
    expect(warn).toEqual(['completion failed: boom', 'prefetch: completion failed: boom']);
  });

  it('the in-flight registry: a foreground request cancels a background one; busy and settled are per document', async () => {
    // An engine that answers each call when told, and rejects a call whose token is cancelled (as the client does).
    const pending: { req: CompletionRequest; resolve: () => void }[] = [];
    const engine: CompletionSource = {
      state: 'ready',
      ready: async () => undefined,
      complete: (req, token) =>
        new Promise<CompletionResponse>((resolve, reject) => {
          token?.onCancellationRequested(() => reject(new ClientError('request cancelled', 'cancelled')));
          pending.push({ req, resolve: () => resolve({ strategy: req.strategy!, timing, drafts: [{ text: `for ${req.prefix.length}`, strategy: req.strategy!, score: 0 } as never] }) });
        }),
    };
    const p = new CompletionPipeline(engine, () => ({ ...DEFAULT_SETTINGS, debounceMs: 0 }), { debug() {}, warn() {} });
    const settled: string[] = [];
    p.inFlight.onSettled.on((uri) => settled.push(uri));
    const text = 'def f(x):\n    return x\n';
    const prefetch = p.draftsAt(doc(text), { kind: 'prefetch', insert: { start: text.length, text: 'y = 1\n' } }, never);
    await Promise.resolve();
    expect(pending).toHaveLength(1);
    // a background request does not make the document busy, and ends without a settled event
    expect(p.inFlight.busy('file:///a.py')).toBe(false);
    const ghost = p.draftsAt(doc('def g(y):\n    '), { kind: 'provider' }, never);
    const late = new Promise((r) => setTimeout(() => r('still running'), 2000));
    expect(await Promise.race([prefetch, late])).toBeUndefined(); // cancelled by the foreground request
    expect(p.inFlight.busy('file:///a.py')).toBe(true);
    expect(settled).toEqual([]);
    await Promise.resolve();
    pending[1]!.resolve();
    const res = await ghost;
    expect(res?.source).toBe('engine');
    await new Promise((r) => setTimeout(r, 0));
    expect(p.inFlight.busy('file:///a.py')).toBe(false);
    expect(settled).toEqual(['file:///a.py']);
  });
});
