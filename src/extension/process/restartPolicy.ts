/** When the client restarts a crashed inference process (client.ts): a budget of restarts with exponential backoff. */
/** Restart budget: at most `maxRestarts` automatic restarts within `windowMs`, with exponential backoff. */
export class RestartPolicy {
  private crashes: number[] = [];
  constructor(
    readonly maxRestarts = 3,
    readonly windowMs = 3 * 60_000,
    readonly baseDelayMs = 500,
    readonly maxDelayMs = 8_000,
  ) {}

  /** Records a crash at `now`; says whether to restart and after how long. */
  onCrash(now: number): { restart: true; delayMs: number; attempt: number } | { restart: false; crashes: number } {
    this.crashes = this.crashes.filter((t) => now - t < this.windowMs);
    this.crashes.push(now);
    const n = this.crashes.length;
    if (n > this.maxRestarts) return { restart: false, crashes: n };
    return { restart: true, delayMs: Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (n - 1)), attempt: n };
  }

  reset(): void {
    this.crashes = [];
  }
}
