/** What every `eval` mode shares: the case file, and the counting of latency and drafts per case. */
import { readFileSync } from 'node:fs';
import { UsageError } from '../files';
import { percentile, round } from '../metrics';

/** A completion case: `expected` is the rest of the cursor's line (line mode) or the block's body (block mode). */
export interface EvalCase {
  id: string;
  language: string;
  path: string;
  prefix: string;
  suffix: string;
  expected: string;
}

export function readCases(file: string, limit?: number): EvalCase[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(code === 'ENOENT' ? `case file ${file} does not exist` : `cannot read case file ${file}: ${(e as Error).message}`);
  }
  const cases: EvalCase[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (limit !== undefined && cases.length >= limit) break;
    const l = lines[i].trim();
    if (!l) continue;
    let obj: Record<string, unknown>;
    try {
      obj = JSON.parse(l);
    } catch (e) {
      throw new UsageError(`${file}:${i + 1}: not valid JSON (${(e as Error).message})`);
    }
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new UsageError(`${file}:${i + 1}: a case must be a JSON object`);
    for (const k of ['prefix', 'expected'] as const) {
      if (typeof obj[k] !== 'string') throw new UsageError(`${file}:${i + 1}: "${k}" must be a string`);
    }
    for (const k of ['suffix', 'id', 'language', 'path'] as const) {
      if (obj[k] !== undefined && typeof obj[k] !== 'string') throw new UsageError(`${file}:${i + 1}: "${k}" must be a string`);
    }
    cases.push({
      id: (obj.id as string | undefined) ?? `${file}:${i + 1}`,
      language: (obj.language as string | undefined) ?? 'plaintext',
      path: (obj.path as string | undefined) ?? '',
      prefix: obj.prefix as string,
      suffix: (obj.suffix as string | undefined) ?? '',
      expected: obj.expected as string,
    });
  }
  if (cases.length === 0) throw new UsageError(`case file ${file} has no cases`);
  return cases;
}

/** How a mode scores its cases: one case at a time, then the figures (`--json`) and the human table. */
export interface CaseScorer {
  /** Scores one case's drafts; `detail` goes into its `--details` line, `progress` is the running figures. */
  add(drafts: readonly { text: string; tokens?: number }[], c: EvalCase, wallMs: number): { detail: Record<string, unknown>; progress: string };
  result(): Record<string, unknown>;
  table(): string;
}

/** What every mode counts: latency and drafts per case (fewer than k: the engine found fewer distinct drafts). */
export class CaseTally {
  draftsTotal = 0;
  fewerThanK = 0;
  protected readonly lat: number[] = [];

  constructor(protected readonly k: number) {}

  protected count(drafts: readonly unknown[], wallMs: number): void {
    this.lat.push(wallMs);
    this.draftsTotal += drafts.length;
    if (drafts.length < this.k) this.fewerThanK++;
  }

  get n(): number {
    return this.lat.length;
  }

  protected timing() {
    const n = this.n;
    return {
      latency_ms_p50: round(percentile(this.lat, 0.5), 1),
      latency_ms_p95: round(percentile(this.lat, 0.95), 1),
      drafts_per_case: round(this.draftsTotal / n, 3),
      fewer_than_k: this.fewerThanK,
    };
  }

  protected timingTable(): string {
    const t = this.timing();
    return `  latency p50/p95  ${t.latency_ms_p50} / ${t.latency_ms_p95} ms\n  drafts per case  ${(this.draftsTotal / this.n).toFixed(2)} (fewer than k: ${this.fewerThanK})\n`;
  }
}
