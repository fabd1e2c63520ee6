// Verify an exported model directory from Node with onnxruntime-node and @huggingface/tokenizers:
// reference logits, prefill + cached decode == one full forward, superposition k=1 == plain, k=2 mix,
// tokenizer ids == the Python tokenizer's and exact round trips.
// Usage: node training/verify_onnx.mjs <model dir> [model file]   (exits 1 on any failure)
import fs from "node:fs";
import path from "node:path";
import ort from "onnxruntime-node";
import { Tokenizer } from "@huggingface/tokenizers";

const dir = process.argv[2] ?? "models/default";
const cfgPath = path.join(dir, "config.json");
const ref = JSON.parse(fs.readFileSync(path.join(dir, "reference.json"), "utf8"));
const cfg = fs.existsSync(cfgPath) ? JSON.parse(fs.readFileSync(cfgPath, "utf8")) : null;
const modelFile = process.argv[3] ?? (cfg ? cfg.superdraft.onnx.default : "model_fp32.onnx");
const mc = cfg ?? JSON.parse(fs.readFileSync(path.join(dir, "model_config.json"), "utf8")).config;
const L = mc.num_hidden_layers, KVH = mc.num_key_value_heads, HD = mc.head_dim, V = mc.vocab_size;
const isInt8 = cfg ? Object.entries(cfg.superdraft.onnx.variants).some(([k, f]) => k === "int8" && f === modelFile) : /int8/.test(modelFile);
// int8: activations are quantized per call with a per-tensor scale, so logits move by a few hundredths
const tol = Number(process.env.SD_TOL ?? (isInt8 ? ref.tolerance.int8_abs : ref.tolerance.fp32_abs));
const decodeTol = isInt8 ? (ref.tolerance.int8_chunking_abs ?? 1.0) : 1e-3;
let failures = 0;
const check = (ok, msg) => { console.log(`${ok ? "ok  " : "FAIL"} ${msg}`); if (!ok) failures++; };

const session = await ort.InferenceSession.create(path.join(dir, modelFile));

function feeds(idsK, weights, past, pastLen) {
  const S = idsK.length, K = idsK[0].length;
  const f = {
    input_ids: new ort.Tensor("int64", BigInt64Array.from(idsK.flat().map(BigInt)), [1, S, K]),
    token_weights: new ort.Tensor("float32", Float32Array.from(weights.flat()), [1, S, K]),
    attention_mask: new ort.Tensor("int64", new BigInt64Array(pastLen + S).fill(1n), [1, pastLen + S]),
    position_ids: new ort.Tensor("int64", BigInt64Array.from({ length: S }, (_, i) => BigInt(pastLen + i)), [1, S]),
  };
  for (let i = 0; i < L; i++) {
    for (const kind of ["key", "value"]) {
      f[`past_key_values.${i}.${kind}`] = past ? past[`present.${i}.${kind}`]
        : new ort.Tensor("float32", new Float32Array(0), [1, KVH, 0, HD]);
    }
  }
  return f;
}
const plain = (ids) => [ids.map((i) => [i]), ids.map(() => [1])];
const row = (logits, t) => logits.data.subarray(t * V, (t + 1) * V);
const maxAbs = (a, b) => { let m = 0; for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i])); return m; };

// 1. reference logits
for (const c of ref.cases) {
  const [idsK, w] = c.input_ids_k ? [c.input_ids_k, c.token_weights] : plain(c.input_ids);
  const out = await session.run(feeds(idsK, w, null, 0));
  const last = row(out.logits, idsK.length - 1);
  const d = Math.max(...c.top_ids.map((id, j) => Math.abs(last[id] - c.top_logits[j])));
  let argmax = 0; for (let i = 1; i < V; i++) if (last[i] > last[argmax]) argmax = i;
  check(d <= tol && (isInt8 ? c.top_ids.slice(0, 3).includes(argmax) : argmax === c.top_ids[0]), `reference ${c.name}: max |dlogit| over top-${c.top_ids.length} = ${d.toExponential(2)} (tol ${tol}), argmax ${argmax} vs ${c.top_ids[0]}`);
}
// 2. prefill + cached decode == full forward
{
  const ids = ref.cases[1].input_ids;
  const full = await session.run(feeds(...plain(ids), null, 0));
  const cut = ids.length - 3;
  let out = await session.run(feeds(...plain(ids.slice(0, cut)), null, 0));
  let worst = maxAbs(row(out.logits, cut - 1), row(full.logits, cut - 1));
  for (let t = cut; t < ids.length; t++) {
    out = await session.run(feeds(...plain([ids[t]]), out, t));
    worst = Math.max(worst, maxAbs(row(out.logits, 0), row(full.logits, t)));
  }
  check(worst <= decodeTol, `prefill(${cut}) + ${ids.length - cut} cached decode steps == full forward: max |d| ${worst.toExponential(2)}`);
  check(out[`present.0.key`].dims[2] === ids.length, `present length ${out["present.0.key"].dims[2]} == ${ids.length}`);
}
// 3. superposition with k=1, weight 1 == plain; k=2 with weights (1, 0) == plain
{
  const ids = ref.cases[0].input_ids;
  const a = await session.run(feeds(...plain(ids), null, 0));
  const b = await session.run(feeds(ids.map((i) => [i, (i + 7) % V]), ids.map(() => [1, 0]), null, 0));
  check(maxAbs(a.logits.data, b.logits.data) <= 1e-4, `k=2 weights (1,0) == plain: ${maxAbs(a.logits.data, b.logits.data).toExponential(2)}`);
  check(a.logits.dims.join() === `1,${ids.length},${V}`, `logits dims ${a.logits.dims}`);
}
// 4. tokenizer
{
  const tj = JSON.parse(fs.readFileSync(path.join(dir, "tokenizer.json"), "utf8"));
  const tc = JSON.parse(fs.readFileSync(path.join(dir, "tokenizer_config.json"), "utf8"));
  const tok = new Tokenizer(tj, tc);
  for (const c of ref.tokenizer) {
    const ids = tok.encode(c.text).ids;
    const same = ids.length === c.ids.length && ids.every((x, i) => x === c.ids[i]);
    check(same, `tokenizer ids == python for ${JSON.stringify(c.text).slice(0, 40)}${same ? "" : ` (js ${ids} py ${c.ids})`}`);
    const back = tok.decode(ids, { skip_special_tokens: false });
    check(back === c.text, `round trip ${JSON.stringify(c.text).slice(0, 40)}${back === c.text ? "" : ` -> ${JSON.stringify(back)}`}`);
  }
  for (const c of ref.cases.filter((c) => c.text)) {
    const ids = tok.encode(c.text).ids;
    check(ids.join() === c.input_ids.join(), `prompt ids ${c.name} == python`);
  }
}
if (failures) { console.log(`${failures} check(s) failed`); process.exit(1); }
console.log("all checks passed");
