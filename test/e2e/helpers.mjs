// Steps the scenarios share: waiting for the status bar, reading the log and the workspace, ghost text, the picker.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assert, sleep, waitFor } from './lib/harness.mjs';

/** Waits until the Superdraft status bar item says ready (model loaded). */
export async function waitReady(wb, timeout = 120_000) {
  return waitFor(async () => {
    const st = (await wb.statusBarTexts()).find((s) => /superdraft/i.test(s));
    return st && /ready/i.test(st) ? st : undefined;
  }, { timeout, interval: 250, what: 'the Superdraft status bar item to say "ready"' });
}

export async function superdraftStatus(wb) {
  return (await wb.statusBarTexts()).find((s) => /superdraft/i.test(s)) ?? '(no Superdraft status bar item)';
}

/** The Superdraft output channel's log (all sessions of this run). */
export function superdraftLog(cs) {
  return cs.findLogs(/Superdraft\.log$/).map((f) => readFileSync(f, 'utf8')).join('\n');
}

export function readWorkspaceFile(cs, name) {
  return readFileSync(join(cs.workspace, name), 'utf8');
}

/** Lines of a ghost text as they will appear in the file, for containment checks. */
export function ghostLines(g) {
  return g.split('\n').map((l) => l.replace(/\s+$/, '')).filter((l) => l.trim());
}

export function assertFileHasDraft(saved, typedLine, draft, what) {
  const lines = ghostLines(draft);
  assert(lines.length > 0, `${what}: empty draft`);
  const first = (typedLine.split('\n').pop() + lines[0]).trim();
  const flat = saved.split('\n').map((l) => l.trim()).join('\n');
  assert(flat.includes(first.trim()), `${what}: saved file lacks ${JSON.stringify(first.trim())}\n--- file ---\n${saved}`);
  let from = flat.indexOf(first.trim());
  for (const l of lines.slice(1)) {
    const i = flat.indexOf(l.trim(), from);
    assert(i >= 0, `${what}: saved file lacks draft line ${JSON.stringify(l.trim())}\n--- file ---\n${saved}`);
    from = i;
  }
}

/** Types a prefix at the end of the file on a fresh line and waits for ghost text. */
export async function typeAndWaitGhost(wb, text, timeout = 30_000) {
  await waitReady(wb);
  await wb.gotoEnd();
  await wb.type(text, 25);
  return wb.waitForGhostText({ timeout });
}

/** The draft picker's frame and its state. */
export async function panelState(wb) {
  const f = wb.webviewFrame();
  const root = f.locator('#superdraft-panel');
  await root.waitFor({ state: 'attached', timeout: 20_000 });
  return root.evaluate((el) => ({
    count: Number(el.getAttribute('data-count')),
    state: el.getAttribute('data-state'),
    viewId: el.getAttribute('data-view-id'),
    strategies: [...el.querySelectorAll('.sd-group')].map((g) => g.getAttribute('data-strategy')),
    drafts: [...el.querySelectorAll('.sd-draft')].map((d) => ({
      index: Number(d.getAttribute('data-index')),
      rank: Number(d.getAttribute('data-rank')),
      strategy: d.getAttribute('data-strategy'),
      text: d.querySelector('.sd-text')?.textContent ?? '',
    })),
  }));
}

/** The ghost text and the toolbar's draft count once neither has changed for `quietMs` (draft 1 of the list shown). */
export async function settledGhost(wb, { quietMs = 1_000, timeout = 20_000 } = {}) {
  const t0 = Date.now();
  let last = '';
  let since = Date.now();
  while (Date.now() - t0 < timeout) {
    const ghost = await wb.ghostText();
    const counter = await wb.hintCounter();
    const now = JSON.stringify([ghost, counter]);
    if (now !== last) {
      last = now;
      since = Date.now();
    } else if (ghost.trim() && /^1\/\d+$/.test(counter ?? '') && Date.now() - since >= quietMs) {
      return { ghost, counter: Number(counter.split('/')[1]) };
    }
    await sleep(100);
  }
  throw new Error(`the ghost text did not settle on draft 1 of a list within ${timeout} ms (last: ${last})`);
}

/**
 * Alt+] until the ghost text differs from `first` (draft 1 of a list of `total`), noting each draft; fails when none
 * does. VS Code keeps the draft it showed at the head of a new list unless the list holds the same edit: after typing
 * through a draft, the list may open with it twice, so one Alt+] is not always another text.
 */
export async function nextDifferentDraft(s, wb, first, total) {
  let second;
  for (let i = 2; i <= total && second === undefined; i++) {
    await wb.page.keyboard.press('Alt+BracketRight');
    await wb.waitForHintCounter((c) => c === `${i}/${total}`);
    second = await wb.waitForGhostText({ differentFrom: first, timeout: 2_000 }).catch(() => undefined);
    s.note(`draft ${i}: ${second === undefined ? 'shown as draft 1' : JSON.stringify(second.slice(0, 60))}`);
  }
  assert(second !== undefined, `Alt+] stepped through ${total} drafts and every one showed ${JSON.stringify(first)}`);
  return second;
}

/**
 * Machine settings (code-server's "Remote" settings, watched on disk): where machine-overridable settings such as
 * superdraft.modelPath are read on a remote.
 */
export function writeMachineSettings(cs, settings) {
  mkdirSync(join(cs.userData, 'Machine'), { recursive: true });
  writeFileSync(join(cs.userData, 'Machine', 'settings.json'), JSON.stringify(settings, null, 2) + '\n');
}
