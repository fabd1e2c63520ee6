import { describe, expect, it } from 'vitest';
import { RestartPolicy } from '../../../src/extension/process/client';

describe('RestartPolicy', () => {
  it('backs off exponentially and stops after N crashes within the window', () => {
    const p = new RestartPolicy(3, 60_000, 500, 8000);
    expect(p.onCrash(0)).toEqual({ restart: true, delayMs: 500, attempt: 1 });
    expect(p.onCrash(1000)).toEqual({ restart: true, delayMs: 1000, attempt: 2 });
    expect(p.onCrash(2000)).toEqual({ restart: true, delayMs: 2000, attempt: 3 });
    expect(p.onCrash(3000)).toEqual({ restart: false, crashes: 4 });
  });
  it('forgets crashes older than the window and resets', () => {
    const p = new RestartPolicy(2, 10_000, 100, 1000);
    p.onCrash(0);
    p.onCrash(1);
    expect(p.onCrash(20_000)).toEqual({ restart: true, delayMs: 100, attempt: 1 });
    p.onCrash(20_001);
    expect(p.onCrash(20_002).restart).toBe(false);
    p.reset();
    expect(p.onCrash(20_003).restart).toBe(true);
  });
});
