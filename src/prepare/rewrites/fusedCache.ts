/** gpt_bigcode's fused key_value cache split into key and value (done before the other rewrites; see prepare.ts). */
import { ATTR, DT, type Graph, type Node, tensorInfo, toNum } from '../../engine/model/onnx/proto';
import type { Editor } from '../graphEditor';
import { PrepareError } from '../report';

export const FUSED_CACHE = /^past_key_values\.(\d+)\.key_value$/;

/**
 * gpt_bigcode's Optimum cache is one tensor per layer: past_key_values.{i}.key_value, [b, past, 2·head_dim] with
 * multi-query attention ([b, heads, past, 2·head_dim] without). The engine's cache is key and value apart
 * ([b, kv_heads, past, head_dim]): new inputs are concatenated into the fused tensor the graph reads, and the fused
 * present is sliced into present.{i}.key / .value. The values are copied, never changed.
 */
export function splitFusedCache(file: string, g: Graph, ed: Editor, added: Node[]): number {
  const fused = g.input.filter((i) => FUSED_CACHE.test(i.name));
  for (const inp of fused) {
    const layer = FUSED_CACHE.exec(inp.name)![1];
    const dims = inp.type?.tensor_type?.shape?.dim ?? [];
    const width = toNum(dims[dims.length - 1]?.dim_value);
    if ((dims.length !== 3 && dims.length !== 4) || !width || width % 2 !== 0) {
      throw new PrepareError(`${file}: ${inp.name} has an unexpected shape (expected [batch, past, 2*head_dim] or [batch, heads, past, 2*head_dim])`);
    }
    const hd = width / 2;
    const mqa = dims.length === 3;
    const b = dims[0]?.dim_param || 'batch_size';
    const past = dims[mqa ? 1 : 2]?.dim_param || 'past_sequence_length';
    const heads: number | string = mqa ? 1 : dims[1]?.dim_param || toNum(dims[1]?.dim_value);
    const kName = `past_key_values.${layer}.key`;
    const vName = `past_key_values.${layer}.value`;
    let kIn = kName;
    let vIn = vName;
    if (mqa) {
      const ks = ed.squeeze(kName, [1], `past_key_squeeze_${layer}`);
      const vs = ed.squeeze(vName, [1], `past_value_squeeze_${layer}`);
      added.push(ks.node, vs.node);
      kIn = ks.out;
      vIn = vs.out;
    }
    const cat = ed.node('Concat', [kIn, vIn], `past_key_value_fuse_${layer}`, [{ name: 'axis', type: ATTR.INT, i: -1 }]);
    cat.node.output = [inp.name];
    added.push(cat.node);
    const at = g.input.indexOf(inp);
    g.input.splice(at, 1, tensorInfo(kName, DT.FLOAT, [b, heads, past, hd]), tensorInfo(vName, DT.FLOAT, [b, heads, past, hd]));

    const outName = `present.${layer}.key_value`;
    const outAt = g.output.findIndex((o) => o.name === outName);
    if (outAt < 0) throw new PrepareError(`${file}: ${inp.name} has no matching output ${outName}`);
    const total = g.output[outAt].type?.tensor_type?.shape?.dim?.[mqa ? 1 : 2]?.dim_param || 'total_sequence_length';
    const parts: [string, number, number][] = [[`present.${layer}.key`, 0, hd], [`present.${layer}.value`, hd, 2 * hd]];
    for (const [name, start, end] of parts) {
      const sl = ed.slice(outName, start, end, -1, `${name.replace(/\./g, '_')}_slice`);
      added.push(sl.node);
      if (mqa) {
        const un = ed.unsqueeze(sl.out, [1], `${name.replace(/\./g, '_')}_unsqueeze`);
        un.node.output = [name];
        added.push(un.node);
      } else sl.node.output = [name];
    }
    g.output.splice(outAt, 1, tensorInfo(`present.${layer}.key`, DT.FLOAT, [b, heads, total, hd]), tensorInfo(`present.${layer}.value`, DT.FLOAT, [b, heads, total, hd]));
  }
  return fused.length;
}
