/**
 * Calibration of the ranking of copied drafts against the model's own (src/engine/rank.ts COPY_PRIOR), on held-out
 * corpus cases (training/heldout_lines.py: files never trained on), never on the shared dev set.
 * Dumps every ranked candidate of each case with its features, then grid-searches the copy prior for top-1 exact.
 *
 *   npx tsx training/copy_calibration.ts CASES.jsonl [--strategy superposed] [-k 3] [--limit N] > report.json
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Engine } from '../src/engine/engine';
import { firstLineOf } from '../src/cli/metrics';
import { COPY_PRIOR } from '../src/engine/rank';

/** rank.ts gives mirrored lines the copies' prior; the grid below tries a separate one. */
const MIRROR_PRIOR = COPY_PRIOR;

interface Cand { mean: number; tokens: number; copy: boolean; mirror: boolean; match: number; dist: number; exact: boolean; model: number }
type Prior = { base: number; perChar: number; cap: number };

const priorOf = (p: Prior, match: number): number => p.base + p.perChar * Math.min(match, p.cap);

/** Every ranked candidate of each case, with the features the grids below score. */
async function candidates(cases: { prefix: string; suffix: string; language: string; path: string; expected: unknown }[], strategy: 'superposed', k: number): Promise<Cand[][]> {
  const all: Cand[][] = [];
  const engine = await Engine.load({ rankAll: true });
  for (const c of cases) {
    const res = await engine.complete({ prefix: c.prefix, suffix: c.suffix, languageId: c.language, path: c.path, strategy, k, mode: 'line', seed: 1 });
    const expected = String(c.expected).trimEnd();
    let model = 0;
    all.push(
      res.drafts.map((d) => ({
        // the score without the prior the engine added (so the grid below is absolute)
        mean: d.copiedFrom ? d.score - priorOf(d.copiedFrom.renamed ? MIRROR_PRIOR : COPY_PRIOR, d.copiedFrom.matchLength) : d.score,
        tokens: d.tokens,
        copy: !!d.copiedFrom,
        mirror: !!d.copiedFrom?.renamed,
        match: d.copiedFrom?.matchLength ?? 0,
        dist: Math.abs(d.copiedFrom?.offset ?? 1e6),
        exact: firstLineOf(d.text) === expected,
        model: d.copiedFrom ? -1 : model++,
      })),
    );
  }
  await engine.dispose();
  return all;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const file = args[0];
  const opt = (name: string, def: string): string => (args.includes(name) ? args[args.indexOf(name) + 1] : def);
  const strategy = opt('--strategy', 'superposed') as 'superposed';
  const k = Number(opt('-k', '3'));
  const limit = Number(opt('--limit', '100000'));
  const cases = readFileSync(file, 'utf8').split('\n').filter(Boolean).slice(0, limit).map((l) => JSON.parse(l));
  // --save FILE keeps the candidates (features) so that --load FILE re-runs the grids without the model
  const all: Cand[][] = args.includes('--load') ? JSON.parse(readFileSync(opt('--load', ''), 'utf8')) : await candidates(cases, strategy, k);
  if (args.includes('--save')) writeFileSync(opt('--save', ''), JSON.stringify(all));
  // Evaluate a prior: model drafts keep their first k (as production does), copies get mean + base + perChar·min(match, cap)
  const evalPrior = (base: number, perChar: number, cap: number, mirror: Prior = MIRROR_PRIOR, copyPlaces = k - 1): { top1: number; anyk: number } => {
    let top1 = 0;
    let anyk = 0;
    for (const cands of all) {
      const pool = cands.filter((x) => x.copy || x.model < k);
      const scored = pool.map((x) => ({ x, s: x.mirror ? x.mean + priorOf(mirror, x.match) : x.copy ? x.mean + base + perChar * Math.min(x.match, cap) : x.mean }));
      scored.sort((a, b) => b.s - a.s);
      // as rank.ts: copies take at most k-1 places when there is a model draft
      const models = scored.filter((t) => !t.x.copy).length;
      const top: typeof scored = [];
      let copies = 0;
      for (const t of scored) {
        if (top.length >= k) break;
        if (t.x.copy && models > 0 && copies >= copyPlaces) continue;
        if (t.x.copy) copies++;
        top.push(t);
      }
      if (top[0]?.x.exact) top1++;
      if (top.some((t) => t.x.exact)) anyk++;
    }
    return { top1: top1 / all.length, anyk: anyk / all.length };
  };
  const grid: { base: number; perChar: number; cap: number; top1: number; anyk: number }[] = [];
  for (const base of [-2, -1, 0, 1, 2])
    for (const perChar of [0, 0.1, 0.2, 0.3, 0.5, 0.7, 1])
      for (const cap of [32, 48, 64]) grid.push({ base, perChar, cap, ...evalPrior(base, perChar, cap) });
  grid.sort((a, b) => b.top1 - a.top1 || b.anyk - a.anyk);
  // the mirrored lines' prior, the copies' prior fixed
  const mirrorGrid: (Prior & { top1: number; anyk: number })[] = [];
  for (const base of [-4, -2, -1, 0, 1, 2, 3])
    for (const perChar of [0, 0.1, 0.2, 0.3, 0.5])
      for (const cap of [16, 32, 48]) {
        const m = { base, perChar, cap };
        mirrorGrid.push({ ...m, ...evalPrior(COPY_PRIOR.base, COPY_PRIOR.perChar, COPY_PRIOR.cap, m) });
      }
  mirrorGrid.sort((a, b) => b.top1 + b.anyk - (a.top1 + a.anyk));
  // the search's own order (longest match, then nearest), copies ahead of the model's drafts
  let searchTop1 = 0;
  let searchAny = 0;
  for (const cands of all) {
    const copies = cands.filter((x) => x.copy).sort((a, b) => b.match - a.match || a.dist - b.dist);
    const top = [...copies, ...cands.filter((x) => !x.copy && x.model < k)].slice(0, k);
    if (top[0]?.exact) searchTop1++;
    if (top.some((x) => x.exact)) searchAny++;
  }
  const copyOnly = all.filter((c) => c.some((x) => x.copy && x.exact)).length / all.length;
  const modelOnly = all.filter((c) => c.some((x) => !x.copy && x.model < k && x.exact)).length / all.length;
  process.stdout.write(JSON.stringify({ cases: all.length, strategy, k, oracle_copy_any: copyOnly, oracle_model_any: modelOnly, search_order: { top1: searchTop1 / all.length, anyk: searchAny / all.length }, current: evalPrior(COPY_PRIOR.base, COPY_PRIOR.perChar, COPY_PRIOR.cap), none: evalPrior(0, 0, 32), copies_take_all_places: evalPrior(COPY_PRIOR.base, COPY_PRIOR.perChar, COPY_PRIOR.cap, MIRROR_PRIOR, k), no_mirrors: evalPrior(COPY_PRIOR.base, COPY_PRIOR.perChar, COPY_PRIOR.cap, { base: -1e9, perChar: 0, cap: 0 }), oracle_mirror_any: all.filter((c) => c.some((x) => x.mirror && x.exact)).length / all.length, mirror_best: mirrorGrid.slice(0, 8), best: grid.slice(0, 6) }, null, 1) + '\n');
}

void main();
