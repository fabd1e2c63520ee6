import { describe, expect, it } from 'vitest';
import { describeMessage } from '../../../src/extension/panel/panelHtml';

describe('describeMessage (unknown webview messages in the log)', () => {
  it('caps a huge message and says how long it was', () => {
    const huge = { type: 'spam', data: 'x'.repeat(5 * 1024 * 1024) };
    const s = describeMessage(huge);
    expect(s.length).toBeLessThan(400);
    expect(s.startsWith('{"type":"spam"')).toBe(true);
    expect(s).toMatch(/… \(\d{7} characters\)$/);
  });
  it('shows a small message whole and never throws', () => {
    expect(describeMessage({ type: 'odd', n: 1 })).toBe('{"type":"odd","n":1}');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(describeMessage(cyclic)).toBe('(unprintable object)');
    expect(describeMessage(undefined)).toBe('undefined');
  });
});
