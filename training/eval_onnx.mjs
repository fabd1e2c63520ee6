// Loss and latency of ONNX graphs with onnxruntime-node (used by training/evaluate.py).
// Usage: node training/eval_onnx.mjs <seqs.json> <model_config.json> name=path.onnx [name=path.onnx ...]
// Prints one JSON line: {name: {val_loss, sequences, tokens, decode_ms, prefill_ms, decode_ms_median, ...}}.
// Latency: the graphs are timed in interleaved rounds in one process (1 intra-op thread each), and the minimum
// over rounds is reported, which is the least sensitive estimate on a machine shared with other jobs.
import fs from "node:fs";
import ort from "onnxruntime-node";
import { plainFeeds } from "./onnx_feeds.mjs";

const [seqPath, cfgPath, ...specs] = process.argv.slice(2);
const cfg = JSON.parse(fs.readFileSync(cfgPath, "utf8")).config;
const seqs = JSON.parse(fs.readFileSync(seqPath, "utf8"));
const L = cfg.num_hidden_layers, KVH = cfg.num_key_value_heads, HD = cfg.head_dim, V = cfg.vocab_size;
const ROUNDS = Number(process.env.SD_LATENCY_ROUNDS ?? 7);

const feeds = plainFeeds({ layers: L, kvHeads: KVH, headDim: HD });

const models = [];
for (const spec of specs) {
  const [name, p] = spec.split("=");
  models.push({ name, session: await ort.InferenceSession.create(p, { intraOpNumThreads: 1 }) });
}
const res = {};
for (const { name, session } of models) {
  let nll = 0, n = 0, count = 0;
  for (const [ids, mask] of seqs.l2r) {
    const out = await session.run(feeds(ids.slice(0, -1), null, 0));
    const lg = out.logits.data;
    for (let t = 0; t < ids.length - 1; t++) {
      if (!mask[t + 1]) continue;
      const row = lg.subarray(t * V, (t + 1) * V);
      let mx = -Infinity; for (let i = 0; i < V; i++) if (row[i] > mx) mx = row[i];
      let s = 0; for (let i = 0; i < V; i++) s += Math.exp(row[i] - mx);
      nll += Math.log(s) + mx - row[ids[t + 1]];
      n++;
    }
    count++;
  }
  res[name] = { val_loss: nll / n, sequences: count, tokens: n, prefill: [], decode: [] };
}
const ids = seqs.l2r[0][0].slice(0, 512);
for (let r = 0; r < ROUNDS; r++) {
  for (const { name, session } of models) {
    const t0 = performance.now();
    let out = await session.run(feeds(ids, null, 0));
    res[name].prefill.push(performance.now() - t0);
    const t1 = performance.now();
    for (let s = 0; s < 16; s++) out = await session.run(feeds([ids[s % ids.length]], out, ids.length + s));
    res[name].decode.push((performance.now() - t1) / 16);
  }
}
// chunking consistency: one full forward vs prefill + cached single-token steps over the same tokens. Lossless
// speculative decoding needs these to agree (a verification pass must score tokens as sequential decoding does).
const chk = seqs.l2r[0][0].slice(0, 64);
for (const { name, session } of models) {
  const full = await session.run(feeds(chk, null, 0));
  const cut = 48;
  let out = await session.run(feeds(chk.slice(0, cut), null, 0));
  let worst = 0, flips = 0;
  for (let t = cut; t < chk.length; t++) {
    out = await session.run(feeds([chk[t]], out, t));
    const a = out.logits.data.subarray(0, V), b = full.logits.data.subarray(t * V, (t + 1) * V);
    let am = 0, bm = 0;
    for (let i = 0; i < V; i++) { worst = Math.max(worst, Math.abs(a[i] - b[i])); if (a[i] > a[am]) am = i; if (b[i] > b[bm]) bm = i; }
    if (am !== bm) flips++;
  }
  res[name].chunking_max_abs = worst;
  res[name].chunking_argmax_flips = flips;
}
const med = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
for (const r of Object.values(res)) {
  r.prefill_ms = Math.min(...r.prefill); r.decode_ms = Math.min(...r.decode);
  r.prefill_ms_median = med(r.prefill); r.decode_ms_median = med(r.decode);
  r.rounds = ROUNDS; delete r.prefill; delete r.decode;
}
console.log(JSON.stringify(res));
