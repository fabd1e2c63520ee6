/** Measured forward costs on the current device, read by the cost-driven policies (verifyPolicy.ts, coldPath.ts). */

/**
 * What forwards cost on this device under its current load: a decoding step, and each row of a scoring forward beyond
 * that fixed part. Medians of the last observations, so one slow outlier (a helper session created, an allocator
 * growing for a new shape, another process's burst) does not swing a decision. NaN until measured.
 */
export class ForwardCostMeter {
  private readonly steps: number[] = [];
  private readonly rows: number[] = [];
  private static readonly KEEP = 9;

  private static push(list: number[], v: number): void {
    list.push(v);
    if (list.length > ForwardCostMeter.KEEP) list.shift();
  }

  private static median(list: number[]): number {
    if (list.length === 0) return NaN;
    const s = [...list].sort((a, b) => a - b);
    return s[s.length >> 1]!;
  }

  get stepMs(): number {
    return ForwardCostMeter.median(this.steps);
  }

  get rowMs(): number {
    return ForwardCostMeter.median(this.rows);
  }

  recordStep(ms: number): void {
    ForwardCostMeter.push(this.steps, ms);
  }

  /** A scoring pass of `rows` rows (forward and log-sum-exp) took `ms`. */
  recordRows(rows: number, ms: number): void {
    const step = this.stepMs;
    if (rows <= 0 || Number.isNaN(step)) return;
    ForwardCostMeter.push(this.rows, Math.max(0, ms - step) / rows);
  }

  /** Costs for the verification policy, or undefined before any decoding step was measured. */
  estimate(): { stepMs: number; rowMs: number } | undefined {
    const step = this.stepMs;
    if (Number.isNaN(step)) return undefined;
    // Before the first scoring pass: a row costs about a quarter of a step (measured: 1/7 on Qwen2.5-0.5B q4).
    const row = this.rowMs;
    return { stepMs: step, rowMs: Number.isNaN(row) ? step / 4 : row };
  }
}
