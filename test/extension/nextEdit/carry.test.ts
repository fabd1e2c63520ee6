import { describe, expect, it } from 'vitest';
import { applyEdit, proposeNextEdits, type NextEditDraft } from '../../../src/engine/nextEdit/nextEdit';
import { acceptedEdit, carriedDrafts } from '../../../src/extension/nextEdit/carry';
import { DEFAULTS } from '../../../src/protocol/defaults';

// e2e scenario 13's file: `subtotal` renamed to `net` at its definition (line 1), then carried with Tab, Tab
const original = `def total_price(items, rate):
    subtotal = 0
    for item in items:
        subtotal += item.price * item.quantity
    tax = subtotal * rate
    return subtotal + tax
`;
const renamed = original.replace('subtotal = 0', 'net = 0');
const at = renamed.indexOf('net = 0');
const userEdit = { offset: at, delete: 3, insert: 'net', old: 'subtotal' };
const propose = (text: string, edit = userEdit) => proposeNextEdits({ text, edit, languageId: 'python', k: 3, threshold: DEFAULTS.nextEditThreshold });

describe('the drafts after an accepted next-edit draft', () => {
  it('reads the accepted draft as the user edit it made', () => {
    const d: NextEditDraft = { offset: 10, delete: 8, insert: 'net', old: 'subtotal', score: 0.9, kind: 'same', line: 3 };
    expect(acceptedEdit(d)).toEqual({ offset: 10, delete: 3, insert: 'net', old: 'subtotal' });
  });

  it('carries a rename through every site, where asking the gate again would stop after one Tab', () => {
    const first = propose(renamed);
    expect(first.map((d) => d.line)).toEqual([3, 4, 5]);
    let text = applyEdit(renamed, first[0]);
    // the gate, asked about the accepted draft, reads it as a switch to a name defined elsewhere: nothing
    expect(propose(text, acceptedEdit(first[0]))).toEqual([]);
    const lines: number[] = [first[0].line];
    let accepted = first[0];
    for (let i = 0; i < 5; i++) {
      const next = carriedDrafts(text, accepted, { k: 3, languageId: 'python' });
      if (next.length === 0) break;
      expect(next.every((d) => d.old === 'subtotal' && d.insert === 'net')).toBe(true);
      accepted = next[0];
      lines.push(accepted.line);
      text = applyEdit(text, accepted);
    }
    expect(lines.sort()).toEqual([3, 4, 5]);
    expect(text).toBe(original.replaceAll('subtotal', 'net'));
  });

  it('keeps the session penalties (a dismissed site ranks lower)', () => {
    const first = propose(renamed);
    const text = applyEdit(renamed, first[0]);
    const plain = carriedDrafts(text, first[0], { k: 3 });
    expect(plain.length).toBe(2);
    const lineText = text.split('\n')[plain[0].line];
    const penalties = new Map([[`subtotal\u0000net\u0000${lineText.trim()}`, -10]]);
    const penalised = carriedDrafts(text, first[0], { k: 3, penalties });
    expect(penalised[0].line).toBe(plain[1].line);
  });
});
