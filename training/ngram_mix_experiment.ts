/**
 * Superposed decoding's n-gram mix (α, the LM sharpening temperature, the unsupported-candidate floor), measured
 * without copied drafts on held-out corpus cases (training/heldout_lines.py), so that it says what the mix itself
 * brings. Prints one JSON line per configuration.
 *
 *   npx tsx training/ngram_mix_experiment.ts CASES.jsonl [--limit N]
 */
import { readFileSync } from 'node:fs';
import { firstLineOf } from '../src/cli/metrics';
import { Engine } from '../src/engine/engine';
import { SUPERPOSED_DEFAULTS, type SuperposedOptions } from '../src/engine/decode/strategies/superposed';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const limit = args.includes('--limit') ? Number(args[args.indexOf('--limit') + 1]) : 300;
  const cases = readFileSync(args[0], 'utf8').split('\n').filter(Boolean).slice(0, limit).map((l) => JSON.parse(l));
  const sets: Record<string, Partial<SuperposedOptions>[]> = {
    first: [{}, { alpha: 0 }, { alpha: 0.8 }, { temperature: 1 }, { temperature: 1, alpha: 0.8 }, { unsupportedLogProb: -3 }],
    third: [{ temperature: 1, alpha: 0.8, ngramCandidate: true }, { temperature: 1, alpha: 0.8 }, { temperature: 1, alpha: 0.5, ngramCandidate: true }],
    second: [{ temperature: 1, alpha: 0.9 }, { temperature: 2, alpha: 0.8 }, { temperature: 0.5, alpha: 0.8 }, { temperature: 1, alpha: 0.8, unsupportedLogProb: -5 }],
  };
  const configs = sets[args.includes('--set') ? args[args.indexOf('--set') + 1] : 'first'];
  for (const over of configs) {
    const engine = await Engine.load({ superposed: over });
    let top1 = 0;
    let anyk = 0;
    for (const c of cases) {
      const res = await engine.complete({ prefix: c.prefix, suffix: c.suffix, languageId: c.language, path: c.path, strategy: 'superposed', k: 3, mode: 'line', copyDrafts: false });
      const exp = String(c.expected).trimEnd();
      const firsts = res.drafts.map((d) => firstLineOf(d.text));
      if (firsts[0] === exp) top1++;
      if (firsts.includes(exp)) anyk++;
    }
    await engine.dispose();
    console.log(JSON.stringify({ ...SUPERPOSED_DEFAULTS, ...over, cases: cases.length, top1: top1 / cases.length, anyk: anyk / cases.length }));
  }
}
void main();
