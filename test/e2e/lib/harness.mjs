// A small scenario runner: named steps, a screenshot per scenario, and on failure the step, the error,
// the log tail and the screenshot path.

export class StepError extends Error {
  constructor(step, cause) {
    super(`${step}: ${cause?.message ?? cause}`);
    this.step = step;
    this.cause = cause;
  }
}

export function percentile(sorted, p) {
  if (!sorted.length) return undefined;
  // nearest-rank
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

export function stats(values) {
  const s = [...values].sort((a, b) => a - b);
  if (!s.length) return { count: 0 };
  const sum = s.reduce((a, b) => a + b, 0);
  const r = (x) => Math.round(x * 10) / 10;
  return { count: s.length, p50: r(percentile(s, 50)), p90: r(percentile(s, 90)), p95: r(percentile(s, 95)), mean: r(sum / s.length), min: r(s[0]), max: r(s[s.length - 1]) };
}

export class Scenario {
  constructor(id, title) {
    this.id = id;
    this.title = title;
    this.currentStep = '(setup)';
    this.steps = [];
    this.screenshots = [];
    this.notes = [];
  }

  async step(name, fn) {
    this.currentStep = name;
    const t0 = Date.now();
    try {
      const r = await fn();
      this.steps.push({ name, ms: Date.now() - t0 });
      return r;
    } catch (e) {
      if (e instanceof StepError) throw e;
      throw new StepError(name, e);
    }
  }

  note(s) {
    this.notes.push(s);
    console.log(`    · ${s}`);
  }
}

export function assert(cond, message) {
  if (!cond) throw new Error(message);
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function waitFor(fn, { timeout = 10_000, interval = 100, what = 'condition' } = {}) {
  const t0 = Date.now();
  let last;
  while (Date.now() - t0 < timeout) {
    last = await fn();
    if (last) return last;
    await sleep(interval);
  }
  throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
}
