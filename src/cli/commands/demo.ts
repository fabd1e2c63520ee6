/** `superdraft demo`: each strategy's drafts and timing for the bundled example file. */
import * as path from 'node:path';
import type { CompletionRequest } from '../../protocol';
import { UsageError, languageOf, readTextFile } from '../files';
import { draftFlags, engineOptions, type Flags } from '../flags';
import { round } from '../metrics';
import { complete, indent, loadEngine, out, packageRoot, printDrafts } from '../run';

const CURSOR_MARK = '<|cursor|>';

export async function cmdDemo(flags: Flags): Promise<number> {
  const file = (flags.file as string | undefined) ?? path.join(packageRoot(), 'examples', 'demo.ts');
  const { k, maxTokens } = draftFlags(flags);
  engineOptions(flags);
  const raw = readTextFile(file);
  const at = raw.indexOf(CURSOR_MARK);
  if (at < 0) throw new UsageError(`${file} has no cursor marker ${CURSOR_MARK}`);
  const prefix = raw.slice(0, at);
  const suffix = raw.slice(at + CURSOR_MARK.length);
  const line = prefix.split('\n').length;
  const column = prefix.length - prefix.lastIndexOf('\n');
  const engine = await loadEngine(flags, false);
  const runs: { name: string; over: Partial<CompletionRequest> }[] = [
    { name: 'greedy', over: { strategy: 'greedy', k: 1, speculative: false } },
    { name: 'greedy + speculative', over: { strategy: 'greedy', k: 1, speculative: true } },
    { name: `superposed k=${k}`, over: { strategy: 'superposed', k } },
    { name: `beam k=${k}`, over: { strategy: 'beam', k } },
    { name: `sampling k=${k}`, over: { strategy: 'sampling', k, seed: 7 } },
  ];
  const results: unknown[] = [];
  try {
    if (!flags.json) {
      process.stdout.write(`Superdraft demo · ${path.basename(file)}:${line}:${column} · model ${engine.info.model} on ${engine.info.device} (loaded in ${engine.info.loadMs.toFixed(0)} ms)\n`);
      process.stdout.write(`context before the cursor:\n${indent(prefix.split('\n').slice(-4).join('\n'), '    ')}█\n\n`);
    }
    for (const r of runs) {
      const { res, wallMs } = await complete(engine, {
        prefix,
        suffix,
        languageId: languageOf(file),
        path: path.basename(file),
        strategy: 'superposed',
        k,
        maxTokens,
        mode: 'auto',
        speculative: false,
        ...(flags['no-copy'] === true ? { copyDrafts: false } : {}),
        ...r.over,
      });
      if (flags.json) results.push({ name: r.name, wallMs: round(wallMs, 1), drafts: res.drafts.map((d) => ({ text: d.text, score: round(d.score, 4), tokens: d.tokens, ...(d.copiedFrom ? { copiedFrom: d.copiedFrom } : {}) })), timing: res.timing });
      else {
        process.stdout.write(`${r.name}\n`);
        printDrafts(res, wallMs);
        process.stdout.write('\n');
      }
    }
  } finally {
    await engine.dispose();
  }
  if (flags.json) out({ file, line, column, model: engine.info.model, device: engine.info.device, loadMs: round(engine.info.loadMs, 1), runs: results });
  return 0;
}
