// Feeds for the exported decoder (Optimum layout + superposition input) with one plain token per position:
// input_ids [1, S, 1], token_weights 1, attention_mask over past+S, position_ids from pastLen, and the past KV
// (the previous run's `present.*` outputs, or empty). Shared by the Node evaluation scripts.
import ort from "onnxruntime-node";

export function plainFeeds({ layers, kvHeads, headDim }) {
  return function feeds(tokens, past, pastLen) {
    const S = tokens.length;
    const f = {
      input_ids: new ort.Tensor("int64", BigInt64Array.from(tokens.map(BigInt)), [1, S, 1]),
      token_weights: new ort.Tensor("float32", new Float32Array(S).fill(1), [1, S, 1]),
      attention_mask: new ort.Tensor("int64", new BigInt64Array(pastLen + S).fill(1n), [1, pastLen + S]),
      position_ids: new ort.Tensor("int64", BigInt64Array.from({ length: S }, (_, i) => BigInt(pastLen + i)), [1, S]),
    };
    for (let i = 0; i < layers; i++) for (const k of ["key", "value"]) {
      f[`past_key_values.${i}.${k}`] = past ? past[`present.${i}.${k}`] : new ort.Tensor("float32", new Float32Array(0), [1, kvHeads, 0, headDim]);
    }
    return f;
  };
}
