/** package.json's contributions agree with the code: settings schema/defaults, command ids, keybindings. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS, SETTING_KEYS, parseSettings } from '../../src/extension/settings';
import { ROOT } from '../helpers/paths';

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const props: Record<string, { default: unknown; description?: string; enum?: unknown[] }> = pkg.contributes.configuration.properties;

describe('package.json contributions', () => {
  it('declares every setting with a description and the same default the code uses', () => {
    const declared = Object.keys(props).sort();
    const expected = Object.values(SETTING_KEYS).map((k) => `superdraft.${k}`).sort();
    expect(declared).toEqual(expected);
    for (const [field, key] of Object.entries(SETTING_KEYS)) {
      const p = props[`superdraft.${key}`]!;
      expect(p.description, key).toBeTruthy();
      expect(p.default, key).toEqual(DEFAULT_SETTINGS[field as keyof typeof DEFAULT_SETTINGS]);
    }
    // The schema's defaults parse without problems.
    const r = parseSettings((k) => props[`superdraft.${k}`]?.default);
    expect(r.problems).toEqual([]);
    expect(props['superdraft.strategy']!.enum).toEqual(['superposed', 'beam', 'sampling', 'greedy']);
  });

  it('registers in code every contributed command, and binds the cycling and picker keys', () => {
    const src = readFileSync(join(ROOT, 'src/extension/ui/commandIds.ts'), 'utf8');
    const block = /export const Commands = \{([\s\S]*?)\} as const;/.exec(src)![1]!;
    const inCode = new Set([...block.matchAll(/'(superdraft\.[A-Za-z]+)'/g)].map((m) => m[1]));
    for (const c of pkg.contributes.commands as { command: string }[]) expect(inCode.has(c.command), c.command).toBe(true);
    const keys = Object.fromEntries((pkg.contributes.keybindings as { command: string; key: string }[]).map((k) => [k.command, k.key]));
    expect(keys['superdraft.showNextDraft']).toBe('alt+]');
    expect(keys['superdraft.showPreviousDraft']).toBe('alt+[');
    expect(keys['editor.action.inlineSuggest.acceptNextWord']).toBeTruthy();
    expect(keys['editor.action.inlineSuggest.acceptNextLine']).toBeTruthy();
    expect(keys['superdraft.openDraftPicker']).toBeTruthy();
    // next-edit drafts: Tab, Alt+] / Alt+[ and Esc only while one shows and no ghost text does (ghost text wins)
    const bindings = pkg.contributes.keybindings as { command: string; key: string; when: string }[];
    const nextEdit = Object.fromEntries(bindings.filter((b) => b.command.startsWith('superdraft.nextEdit')).map((b) => [b.command, b]));
    expect(Object.fromEntries(Object.entries(nextEdit).map(([c, b]) => [c, b.key]))).toEqual({
      'superdraft.nextEditTab': 'tab',
      'superdraft.nextEditNext': 'alt+]',
      'superdraft.nextEditPrevious': 'alt+[',
      'superdraft.nextEditDismiss': 'escape',
    });
    for (const b of Object.values(nextEdit)) expect(b.when).toMatch(/superdraft\.nextEditVisible && !inlineSuggestionVisible/);
    expect(pkg.contributes.configuration.properties['superdraft.nextEdit'].type).toBe('boolean');
    expect(pkg.capabilities.untrustedWorkspaces.supported).toBe('limited');
    expect(pkg.capabilities.virtualWorkspaces).toBe(true);
    expect(pkg.activationEvents).toContain('onWebviewPanel:superdraft.draftPicker');
  });
});
