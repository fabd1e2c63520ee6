/** What every command shares: output, loading the engine, one timed completion, printing drafts, the package root. */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { Engine, defaultModelDir } from '../engine/engine';
import { findUp } from '../engine/model/packagePaths';
import type { CompletionRequest, CompletionResponse } from '../protocol';
import { fitRequest } from '../protocol/fitRequest';
import { engineOptions, type Flags } from './flags';

export function out(obj: unknown): void {
  process.stdout.write(JSON.stringify(obj, null, 2) + '\n');
}

export function progress(msg: string): void {
  process.stderr.write(msg + '\n');
}

/** The package root (where models/, examples/ and bench/ live), found from this file, bundled or not. */
export function packageRoot(): string {
  return findUp(__dirname, (dir) => existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'examples'))) ?? path.resolve(__dirname, '..');
}

export async function loadEngine(flags: Flags, quiet: boolean): Promise<Engine> {
  const opts = engineOptions(flags);
  if (!quiet) progress(`loading model ${opts.modelDir ?? defaultModelDir()} ...`);
  return Engine.load(opts);
}

let activeAbort: AbortController | null = null;

/** The operation Ctrl-C cancels (a model install); null when it ends. */
export function setActiveAbort(ac: AbortController | null): void {
  activeAbort = ac;
}

/** Ctrl-C: cancels the request under way; false when there is none. */
export function abortActive(): boolean {
  if (!activeAbort) return false;
  activeAbort.abort();
  return true;
}

/** What a command completes with: the local Engine or a remote backend (remote.ts: RemoteSource). */
export interface Completer {
  complete(req: CompletionRequest, signal?: AbortSignal): Promise<CompletionResponse>;
}

export async function complete(engine: Completer, req: CompletionRequest): Promise<{ res: CompletionResponse; wallMs: number }> {
  const ac = new AbortController();
  activeAbort = ac;
  const t0 = performance.now();
  try {
    const res = await engine.complete(fitRequest(req), ac.signal);
    return { res, wallMs: performance.now() - t0 };
  } finally {
    activeAbort = null;
  }
}

export function indent(text: string, pad: string): string {
  return text
    .split('\n')
    .map((l) => pad + l)
    .join('\n');
}

export function printDrafts(res: CompletionResponse, wallMs: number): void {
  if (res.drafts.length === 0) process.stdout.write('  (no draft)\n');
  res.drafts.forEach((d, i) => {
    const o = d.copiedFrom;
    const where = o ? `${o.path || 'this file'}${o.offset !== undefined ? ` (${Math.abs(o.offset)} lines ${o.offset < 0 ? 'up' : 'down'})` : o.line !== undefined ? `:${o.line}` : ''}` : '';
    const server = d.server ? `  from ${d.server.backend} ${d.server.model} (${d.server.msPerDraft.toFixed(0)} ms per draft)` : '';
    const from = !o ? server : o.renamed ? `  like a line of ${where} with ${o.renamed.map(([a, b]) => `${a} → ${b}`).join(', ')}` : `  copied from ${where}`;
    process.stdout.write(`  #${i + 1}  score ${d.score.toFixed(3)}  ${d.tokens} tokens${from}\n`);
    process.stdout.write(indent(d.text.length ? d.text : '(empty)', '      │ ') + '\n');
  });
  const t = res.timing;
  process.stdout.write(
    `  time ${wallMs.toFixed(0)} ms (prefill ${t.prefillMs.toFixed(0)} ms: ${t.prefillTokens} tokens computed, ${t.reusedTokens} reused; ` +
      `${t.forwards} forwards${t.acceptedSpeculative ? `, ${t.acceptedSpeculative} tokens accepted from speculative units` : ''}` +
      `${t.budgetCuts ? `; time budget spent: ${t.budgetCuts} draft(s) ended at a line boundary` : ''})\n`,
  );
}
