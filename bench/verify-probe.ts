// Probe: where a verification pass's time goes on a prepared model (forward, logits masking, row log-sum-exp), and
// decode-step time, as the engine runs them. Usage: npx tsx bench/verify-probe.ts DIR [--variant q4] [--threads 2]
import { Engine } from '../src/engine/engine';
(async () => {
  const args = process.argv.slice(2);
  const opt = (name: string, def: string): string => (args.includes(name) ? args[args.indexOf(name) + 1] : def);
  const e = await Engine.load({ modelDir: args[0], variant: opt('--variant', 'q4'), threads: Number(opt('--threads', '2')) });
  const rt = (e as any).runtime;
  const ids = Array.from({ length: 200 }, (_, i) => 100 + (i * 7) % 300);
  let out = await rt.forward({ ids, batch: 1, seq: ids.length, past: rt.emptyKv(1), lastRows: 1 });
  const med = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];
  const r = (x: number) => Math.round(x * 10) / 10;
  const res: Record<string, unknown> = { maskFrom: rt.maskFrom };
  const steps: number[] = [];
  for (let s = 0; s < 8; s++) {
    const t = performance.now();
    out = await rt.forward({ ids: [200 + s], batch: 1, seq: 1, past: out.kv });
    steps.push(performance.now() - t);
  }
  res.decode_step_ms = r(med(steps));
  for (const [n, seq] of [[4, 15], [4, 7], [4, 3], [8, 15]] as const) {
    const past = rt.selectRows(out.kv, new Array(n).fill(0), out.kv.length - 256);
    const f: number[] = []; const l: number[] = [];
    for (let rep = 0; rep < 3; rep++) {
      let t = performance.now();
      const v = await rt.forward({ ids: Array(n * seq).fill(300), batch: n, seq, past, wantKv: false });
      f.push(performance.now() - t);
      t = performance.now();
      await rt.rowLogSumExp(v.logits, n * seq, v.vocab);
      l.push(performance.now() - t);
    }
    res[`verify_${n}x${seq}`] = { forward_ms: r(med(f)), lse_ms: r(med(l)), steps_equiv: r(med(f) / med(steps)) };
  }
  console.log(JSON.stringify(res));
  await e.dispose();
})();
