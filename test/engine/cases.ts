/**
 * Line-completion cases for engine tests: cut from this repository's own TypeScript sources (always present),
 * plus the shared dev set when the checkout sits beside it (never copied into the repository).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { EvalCase } from '../../src/cli/commands/evalCases';
import { CODE_CORPUS, ROOT } from '../helpers/paths';

/** The CLI's eval case ({id, language, path, prefix, suffix, expected}). */
export type LineCase = EvalCase;


/** Deterministic cases: every few lines of the fixed TypeScript corpus (CODE_CORPUS), the cursor after the line's first token. */
export function sourceCases(limit: number): LineCase[] {
  const dir = CODE_CORPUS;
  const files = readdirSync(dir).sort();
  const out: LineCase[] = [];
  for (let round = 0; out.length < limit && round < 50; round++) {
    for (const f of files) {
      if (out.length >= limit) break;
      const text = readFileSync(path.join(dir, f), 'utf8');
      const name = f.replace(/\.txt$/, '');
      const lines = text.split('\n');
      const lineNo = 20 + round * 23;
      if (lineNo >= lines.length) continue;
      const line = lines[lineNo];
      const m = /^(\s*\S+\s?)(.+)$/.exec(line);
      if (!m || m[2].trim().length < 4) continue;
      const offset = lines.slice(0, lineNo).join('\n').length + 1 + m[1].length;
      out.push({
        id: `src/engine/${name}:${lineNo + 1}`,
        language: 'typescript',
        path: `src/engine/${name}`,
        prefix: text.slice(0, offset),
        suffix: text.slice(offset + m[2].length),
        expected: m[2],
      });
    }
  }
  return out;
}

/** The shared dev cases, if this checkout has them beside it (../shared/eval or SUPERDRAFT_DEV_CASES). */
export function devCasesFile(): string | undefined {
  const candidates = [process.env.SUPERDRAFT_DEV_CASES, path.join(ROOT, '..', 'shared', 'eval', 'dev-line-completion.jsonl'), '/work/shared/eval/dev-line-completion.jsonl'];
  return candidates.find((f) => f && existsSync(f));
}

export function loadDevCases(): LineCase[] {
  const file = devCasesFile();
  if (!file) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as LineCase);
}
