// Large vocabularies: the share of a decoding step that the engine's per-step work over the logits row takes (log-sum-
// exp, top-9 candidates), and the share of a verification forward (3 drafts × 16 tokens) that the row log-sum-exp
// takes, on a prepared model directory (e.g. the real-size Qwen2.5-Coder replica, vocabulary 151,936).
// Usage: npx tsx bench/vocab-share.ts DIR [--variant q4] [--threads 2]
//   e.g. npm run replica -- qwen2 --size real --variants q4 && node dist/cli.js model prepare .cache/replicas/qwen2-real \
//        && npx tsx bench/vocab-share.ts .cache/replicas/qwen2-real
// Prints one JSON object (medians of 12 decoding steps after a 100-token prefill).
import { Engine } from '../src/engine/engine';
import { logSumExp, topN } from '../src/engine/decode/math';
(async () => {
  const args = process.argv.slice(2);
  const opt = (name: string, def: string): string => (args.includes(name) ? args[args.indexOf(name) + 1] : def);
  if (!args[0]) {
    console.error('usage: npx tsx bench/vocab-share.ts DIR [--variant q4] [--threads 2]');
    process.exit(2);
  }
  const e = await Engine.load({ modelDir: args[0], variant: opt('--variant', 'q4'), threads: Number(opt('--threads', '2')) });
  const rt = (e as any).runtime;
  // A replica's tokenizer is tiny: masking the ~151k columns past it (-Infinity) would time a case no real model has
  // (a real Qwen2.5 masks 271 padding rows). Time the arithmetic on full rows.
  rt.maskFrom = Infinity;
  // a warm cache of ~100 tokens, then decode steps
  const ids = Array.from({ length: 100 }, (_, i) => 100 + (i * 7) % 400);
  let out = await rt.forward({ ids, batch: 1, seq: ids.length, past: rt.emptyKv(1), lastRows: 1 });
  const fwd: number[] = []; const lse: number[] = []; const top: number[] = [];
  for (let s = 0; s < 12; s++) {
    let t = performance.now();
    const nx = await rt.forward({ ids: [200 + s], batch: 1, seq: 1, past: out.kv });
    const V: number = nx.vocab;
    fwd.push(performance.now() - t);
    t = performance.now(); logSumExp(nx.logits, V, 0); lse.push(performance.now() - t);
    t = performance.now(); topN(nx.logits, 9, 0, V); top.push(performance.now() - t);
    out = nx;
  }
  // verification-style: 3 rows x 16 positions, native row LSE
  const t0 = performance.now();
  const vout = await rt.forward({ ids: Array(48).fill(300), batch: 3, seq: 16, past: rt.selectRows(out.kv, [0, 0, 0]), wantKv: false });
  const tv = performance.now() - t0;
  const V: number = vout.vocab;
  await rt.rowLogSumExp(vout.logits, 48, V); // the first call creates the helper session: not timed
  const t1 = performance.now(); await rt.rowLogSumExp(vout.logits, 48, V); const tl = performance.now() - t1;
  const med = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];
  const r = (x: number) => Math.round(x * 100) / 100;
  console.log(JSON.stringify({ vocab: V, decode_step_ms: r(med(fwd)), step_logsumexp_ms: r(med(lse)), step_top9_ms: r(med(top)), step_share: r((med(lse) + med(top)) / med(fwd)), verify_forward_ms: r(tv), verify_row_logsumexp_ms: r(tl), verify_lse_share: r(tl / tv) }));
  await e.dispose();
})();
