// A typing session as users type: 5 characters a second, word by word, new lines, a jump elsewhere in the file,
// accepting a draft with Tab, typing along a shown draft. Scenario 12 runs it once per model and measures every
// keystroke: keystroke → first ghost text, and whether drafts arrived before the next keystroke.
import { sleep, stats } from './lib/harness.mjs';

export const SESSION_FILE = 'session.py';
export const SESSION_TEXT = `import math
import os


def load(path):
    with open(path) as f:
        return [line.strip() for line in f]
`;

/** Milliseconds between keystrokes: 5 characters per second. */
export const KEY_MS = 200;

// The session. editor.autoIndent is 'none' in the suite, so indentation is typed as spaces (Tab would accept a draft).
// The text between the steps is what a user types; a draft accepted or typed along depends on the model.
export const SESSION = [
  ['jump', 'end'],
  ['key', 'Enter'], ['key', 'Enter'], ['key', 'Enter'],
  ['type', 'def mean(values):'], ['key', 'Enter'],
  ['type', '    total = sum(values)'], ['key', 'Enter'],
  ['type', '    return total / len(values)'],
  ['pause', 1_000],
  ['jump', 'top'],
  ['key', 'Enter'], ['type', 'import json'],
  ['pause', 800],
  ['jump', 'end'],
  ['key', 'Enter'], ['key', 'Enter'], ['key', 'Enter'],
  ['type', 'def save(path, rows):'], ['key', 'Enter'],
  ['accept'],
  ['pause', 800],
  ['key', 'Enter'], ['typeAlong', 10],
  ['pause', 1_000],
  ['jump', 'end'],
  ['key', 'Enter'], ['key', 'Enter'], ['key', 'Enter'],
  ['type', 'def count_words(text):'], ['key', 'Enter'],
  ['type', '    words = text.split()'], ['key', 'Enter'],
  ['type', '    return len(words)'],
  ['pause', 1_500],
];

/** Waits up to `ms` for non-empty ghost text; '' when none came. */
async function ghostWithin(wb, ms) {
  return wb.waitForGhostText({ timeout: ms }).catch(() => '');
}

/**
 * Types SESSION into the focused editor; returns the page-clock window it ran in and what happened at the steps that
 * depend on the model (accept, typeAlong).
 */
export async function runSession(wb) {
  const events = [];
  const press = async (key) => {
    await wb.page.keyboard.press(key);
    await sleep(KEY_MS);
  };
  // a character as typed on a keyboard (keydown, input, keyup), space included
  const typeChar = async (ch) => {
    await wb.page.keyboard.type(ch);
    await sleep(KEY_MS);
  };
  const t0 = await wb.page.evaluate(() => performance.now());
  for (const [what, arg] of SESSION) {
    if (what === 'type') {
      for (const ch of arg) await typeChar(ch);
    } else if (what === 'key') {
      await press(arg);
    } else if (what === 'pause') {
      await sleep(arg);
    } else if (what === 'jump') {
      // Ctrl+Home then End: the end of the first line; Ctrl+End: the end of the file
      if (arg === 'top') {
        await press('Control+Home');
        await press('End');
      } else {
        await press('Control+End');
      }
    } else if (what === 'accept') {
      const g = await ghostWithin(wb, 8_000);
      events.push({ what, ghost: g.slice(0, 80) });
      if (g) await press('Tab');
    } else if (what === 'typeAlong') {
      // what a user types along: the draft's first characters, up to one a keyboard does not have
      const g = /^[ -~]*/.exec((await ghostWithin(wb, 8_000)).split('\n')[0])[0].slice(0, arg);
      events.push({ what, typed: g });
      for (const ch of g) await typeChar(ch);
    }
  }
  const t1 = await wb.page.evaluate(() => performance.now());
  const trace = await wb.page.evaluate(([a, b]) => ({
    keys: window.__sd.keys.filter((k) => k.t >= a && k.t <= b),
    ghost: window.__sd.ghost.filter((g) => g.t >= a),
    origin: performance.timeOrigin,
  }), [t0, t1]);
  return { t0, t1, events, ...trace };
}

const MODIFIERS = new Set(['Control', 'Shift', 'Alt', 'Meta']);
/** Keys that move the cursor without editing: VS Code asks for no inline completion after them. */
const NAVIGATION = new Set(['Home', 'End', 'PageUp', 'PageDown', 'ArrowUp', 'ArrowDown', 'ArrowLeft', 'ArrowRight', 'Escape']);

/**
 * Per keystroke: the first ghost-text change after it that shows text (typing along a shown draft shortens it at
 * once; otherwise VS Code hides it and the next drafts appear when they arrive), and whether that came before the
 * next keystroke. A keystroke with no ghost text until the session's end counts as never (Infinity in p95). The
 * keystrokes are those that edit the document (characters, Enter, Tab on a draft); a jump's Ctrl+Home / End only
 * moves the cursor, and VS Code asks for nothing after it.
 */
export function keystrokeMetrics(trace) {
  const keys = trace.keys.filter((k) => !MODIFIERS.has(k.key) && !NAVIGATION.has(k.key));
  const rows = keys.map((k, i) => {
    const next = keys[i + 1]?.t ?? Infinity;
    const g = trace.ghost.find((x) => x.t >= k.t && x.text.trim());
    const ms = g ? g.t - k.t : Infinity;
    return { key: k.key, ms, beforeNext: g !== undefined && g.t < next };
  });
  const finite = rows.filter((r) => Number.isFinite(r.ms)).map((r) => r.ms);
  const all = stats(finite);
  const sorted = rows.map((r) => r.ms).sort((a, b) => a - b);
  const at = (p) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
  const r = (x) => (Number.isFinite(x) ? Math.round(x) : null);
  return {
    keystrokes: rows.length,
    // over every keystroke, a never-shown one counting as infinitely late (null)
    p50: r(at(0.5)),
    p95: r(at(0.95)),
    withGhost: all,
    never: rows.length - finite.length,
    beforeNextKeystroke: rows.length ? Math.round((rows.filter((x) => x.beforeNext).length / rows.length) * 1000) / 1000 : 0,
    // every keystroke: the key, ms to ghost text (null: never), whether before the next keystroke
    rows: rows.map((x) => [x.key, r(x.ms), x.beforeNext ? 1 : 0]),
  };
}

/**
 * The extension's requests in the session's wall-clock window, from its debug log ("superposed k=3: 3 drafts in
 * 212 ms (engine 205 ms, prefill 4 tok, reused 310…"): how many, cold ones (no reused KV), drafts per request, cache hits.
 */
export function requestMetrics(log, fromEpoch, toEpoch) {
  const inWindow = (stamp) => {
    const t = Date.parse(stamp);
    return t >= fromEpoch && t <= toEpoch + 10_000;
  };
  const reqs = [...log.matchAll(/^(\S+) \[debug\] (\S*?:? ?)(\w+) k=\d+: (\d+) drafts in (\d+) ms \(engine (\d+) ms, prefill (\d+) tok, reused (\d+)/gm)]
    .filter((m) => inWindow(m[1]))
    .map((m) => ({ label: m[2].trim(), drafts: Number(m[4]), ms: Number(m[5]), engineMs: Number(m[6]), prefill: Number(m[7]), reused: Number(m[8]) }));
  const hits = [...log.matchAll(/^(\S+) \[debug\] cache hit/gm)].filter((m) => inWindow(m[1])).length;
  const cold = reqs.filter((x) => x.reused === 0);
  return {
    requests: reqs.length,
    // drafts the latency budget cut, and whole drafts computed after them (kind rest)
    budgetCut: [...log.matchAll(/^(\S+) \[debug\] .*time budget: \d+ cut/gm)].filter((m) => inWindow(m[1])).length,
    rest: reqs.filter((x) => x.label === 'rest:').length,
    cold: cold.length,
    warm: reqs.length - cold.length,
    cacheHits: hits,
    draftsPerRequest: reqs.length ? Math.round((reqs.reduce((a, x) => a + x.drafts, 0) / reqs.length) * 100) / 100 : null,
    requestMs: stats(reqs.map((x) => x.ms)),
    prefillTokens: stats(reqs.map((x) => x.prefill)),
    coldMs: stats(cold.map((x) => x.ms)),
  };
}
