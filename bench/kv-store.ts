// The append-only KV store on a prepared model (present_delta.* outputs): a decoding step that fetches only the
// entries it appends against one that fetches the whole present.* cache, at a given context length. Both runtimes
// are loaded side by side and alternate round by round (robust to load changing during the run).
// Usage: npx tsx bench/kv-store.ts DIR [--variant q4] [--threads 2] [--contexts 100,600] [--steps 16] [--rounds 5]
//   e.g. node dist/cli.js model prepare .cache/replicas/qwen2-real && npx tsx bench/kv-store.ts .cache/replicas/qwen2-real
// Prints one JSON object: per context, median wall ms and CPU ms (process user + system, all threads) per step of each
// path, their ratios, and the cache bytes per step. On a shared machine the CPU time is the steadier figure (a step
// that waits for a core is not charged for it); with --threads 1 there is no spinning worker thread in it either.
import { readModelConfig } from '../src/engine/model/config';
import { ModelRuntime } from '../src/engine/model/runtime';

(async () => {
  const args = process.argv.slice(2);
  const opt = (name: string, def: string): string => (args.includes(name) ? args[args.indexOf(name) + 1] : def);
  if (!args[0]) {
    console.error('usage: npx tsx bench/kv-store.ts DIR [--variant q4] [--threads 2] [--contexts 100,600] [--steps 16] [--rounds 5]');
    process.exit(2);
  }
  const cfg = readModelConfig(args[0], opt('--variant', 'q4'));
  const threads = Number(opt('--threads', '2'));
  const STEPS = Number(opt('--steps', '16'));
  const ROUNDS = Number(opt('--rounds', '5'));
  const store = await ModelRuntime.load(cfg, { device: 'cpu', threads });
  const plain = await ModelRuntime.load(cfg, { device: 'cpu', threads, appendOnlyKv: false });
  if (!store.appendOnlyKv) {
    console.error(`${cfg.modelFile} has no present_delta.* outputs: run \`superdraft model prepare ${args[0]}\``);
    process.exit(1);
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  const out: Record<string, unknown> = { model: cfg.modelFile, threads, steps: STEPS, rounds: ROUNDS, kv_heads: cfg.numKvHeads, layers: cfg.numLayers };
  for (const context of opt('--contexts', '100,600').split(',').map(Number)) {
    const prompt = Array.from({ length: context }, (_, i) => 100 + ((i * 7919) % 400));
    const ms: Record<'store' | 'present', number[]> = { store: [], present: [] };
    const cpu: Record<'store' | 'present', number[]> = { store: [], present: [] };
    let slots = 0;
    for (let r = 0; r < ROUNDS; r++) {
      for (const [name, rt] of [['store', store], ['present', plain]] as const) {
        let kv = (await rt.forward({ ids: prompt, batch: 1, seq: context, past: rt.emptyKv(1), lastRows: 1 })).kv;
        const t = performance.now();
        const c = process.cpuUsage();
        for (let i = 0; i < STEPS; i++) kv = (await rt.forward({ ids: [prompt[i]], batch: 1, seq: 1, past: kv })).kv;
        ms[name].push((performance.now() - t) / STEPS);
        const used = process.cpuUsage(c);
        cpu[name].push((used.user + used.system) / 1000 / STEPS);
        if (name === 'store') slots = kv.slots ?? kv.length;
      }
    }
    const a = median(ms.store);
    const b = median(ms.present);
    out[`context_${context}`] = {
      store_ms_per_step: +a.toFixed(2),
      present_ms_per_step: +b.toFixed(2),
      present_over_store: +(b / a).toFixed(3),
      store_cpu_ms_per_step: +median(cpu.store).toFixed(2),
      present_cpu_ms_per_step: +median(cpu.present).toFixed(2),
      present_over_store_cpu: +(median(cpu.present) / median(cpu.store)).toFixed(3),
      present_bytes_fetched_per_step: store.kvBytes({ ...plain.emptyKv(1), length: context + STEPS }),
      store_slots_fed: slots,
      store_samples: ms.store.map((x) => +x.toFixed(1)),
      present_samples: ms.present.map((x) => +x.toFixed(1)),
      store_cpu_samples: cpu.store.map((x) => +x.toFixed(1)),
      present_cpu_samples: cpu.present.map((x) => +x.toFixed(1)),
    };
  }
  console.log(JSON.stringify(out, null, 2));
  await store.dispose();
  await plain.dispose();
})();
