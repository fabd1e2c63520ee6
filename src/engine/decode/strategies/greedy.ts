/**
 * Greedy decoding: one draft, the model's argmax at every step. With a speculator, multi-token units are
 * verified in one forward pass and the longest prefix equal to the argmax chain is kept (lossless).
 */
import { DecodeContext, DraftState, RawDraft, Strategy, argmax, checkAbort, logSumExp } from '../decode';
import type { KvState } from '../../model/runtime';

export class GreedyStrategy implements Strategy {
  readonly name = 'greedy' as const;

  async decode(ctx: DecodeContext): Promise<RawDraft[]> {
    const draft = new DraftState(ctx.prompt.heal);
    await greedyContinue(ctx, draft, ctx.kv, ctx.lastLogits, 0);
    return [draft.toRaw()];
  }
}

/**
 * Continues `draft` greedily from a cache whose next-token logits are row `row` of `logits` (the greedy strategy's
 * decode loop).
 */
export async function greedyContinue(ctx: DecodeContext, draft: DraftState, kv: KvState, logits: Float32Array, row: number): Promise<void> {
  const { runtime } = ctx;
  const V = ctx.vocab;
  const history = ctx.prompt.contextIds.slice();
  while (!draft.done) {
    checkAbort(ctx.signal);
    const allowed = draft.healLeft.length > 0 ? ctx.healing.allowed(draft.healLeft) : undefined;
    const t = argmax(logits, V, row, allowed);
    if (draft.push(ctx, t, logits[row * V + t] - logSumExp(logits, V, row))) break;
    history.push(t);

    // Proposals are verified against the constrained argmax while healed (or typed) bytes remain, so they may run ahead.
    const unit = ctx.speculator ? ctx.speculator.propose(history) : [];
    const ids = [t, ...unit];
    const out = await runtime.forward({ ids, batch: 1, seq: ids.length, past: kv });
    ctx.stats.forwards++;
    const recycler = ctx.speculator?.recycler;
    if (recycler) for (let i = 0; i < ids.length; i++) recycler.update(ids[i], out.logits, i * V);
    if (unit.length === 0) {
      kv = out.kv;
      logits = out.logits;
      row = 0;
      continue;
    }
    // Accept the unit's tokens while they equal the argmax the model gives at their position.
    let accepted = 0;
    let stopped = false;
    while (accepted < unit.length) {
      const want = argmax(out.logits, V, accepted, draft.healLeft.length > 0 ? ctx.healing.allowed(draft.healLeft) : undefined);
      if (want !== unit[accepted]) break;
      const lp = out.logits[accepted * V + want] - logSumExp(out.logits, V, accepted);
      accepted++;
      if (draft.push(ctx, want, lp)) {
        stopped = true;
        break;
      }
      history.push(want);
    }
    ctx.speculator!.record(unit.length, accepted);
    ctx.stats.acceptedSpeculative += accepted;
    if (stopped) break;
    // Entries after the accepted prefix hold rejected tokens: drop them (the store rewound, its layout what plain
    // decoding would have at this length), or mask them out (a cache without a store).
    const keep = kv.length + 1 + accepted;
    const rewound = runtime.rewind(out.kv, keep);
    if (rewound) {
      kv = rewound;
    } else {
      const valid = out.kv.valid.slice();
      valid.fill(0, keep);
      kv = { ...out.kv, valid, nextPos: kv.nextPos + 1 + accepted };
    }
    logits = out.logits;
    row = accepted;
  }
}
