import { NEXT_EDIT_FILE, WORKSPACE_FILES } from '../workspace.mjs';
import { assert, sleep, waitFor } from '../lib/harness.mjs';
import { readWorkspaceFile, superdraftLog, waitReady } from '../helpers.mjs';
import { shot } from '../options.mjs';

const scenario = (id, title, fn) => ({ id, title, fn });

/**
 * What the focused editor shows of next-edit drafts, read from the DOM: each visible line (1-based number, its text
 * without ghost text), the text rendered struck through (the decoration's `textDecoration: line-through`), the `after`
 * label (a CSS ::after pseudo-element whose `content` is the decoration's contentText) and the lines with the gutter
 * icon (the glyph margin's element whose background is media/icon.svg).
 */
async function editorView(wb) {
  return wb.page.evaluate(() => {
    const ed = document.querySelector('.editor-group-container.active .monaco-editor.focused') ?? document.querySelector('.editor-group-container.active .monaco-editor');
    if (!ed) return null;
    const top = (el) => parseFloat(el.style.top || el.parentElement?.style.top || 'NaN');
    // line numbers by their top offset (the view lines and the margin share it)
    const numberAt = new Map();
    for (const n of ed.querySelectorAll('.margin-view-overlays .line-numbers')) {
      const t = top(n.parentElement?.style.top ? n.parentElement : n);
      const v = Number(n.textContent.trim());
      if (Number.isFinite(t) && v) numberAt.set(Math.round(t), v);
    }
    const lineOf = (el) => {
      let e = el;
      while (e && !(e.classList?.contains('view-line') || e.parentElement?.classList?.contains('glyph-margin-widgets'))) e = e.parentElement;
      if (!e) e = el;
      return numberAt.get(Math.round(parseFloat(e.style.top))) ?? null;
    };
    const unquote = (c) => {
      if (!c || c === 'none' || c === 'normal') return '';
      try {
        return JSON.parse(c);
      } catch {
        return c.replace(/^"|"$/g, '');
      }
    };
    const lines = [];
    const struck = [];
    const labels = [];
    for (const vl of ed.querySelectorAll('.view-lines .view-line')) {
      if (vl.closest('.ghost-text')) continue; // a multi-line ghost text's later lines
      const line = lineOf(vl);
      // the line as in the document: without completion ghost text, which VS Code renders inside the line
      const doc = vl.cloneNode(true);
      for (const g of doc.querySelectorAll('[class*="ghost-text"]')) g.remove();
      lines.push({ line, text: doc.textContent.replace(/\u00a0/g, ' ') });
      for (const sp of vl.querySelectorAll('span')) {
        if (sp.children.length) continue;
        const cs = getComputedStyle(sp);
        if (/line-through/.test(cs.textDecorationLine) && sp.textContent) struck.push({ line, text: sp.textContent.replace(/\u00a0/g, ' ') });
        const after = unquote(getComputedStyle(sp, '::after').content);
        if (after) labels.push({ line, text: after.replace(/\u00a0/g, ' ') });
      }
    }
    const gutter = [];
    for (const el of ed.querySelectorAll('.margin *')) {
      const bg = getComputedStyle(el).backgroundImage;
      if (bg && /icon\.svg/.test(bg)) gutter.push({ line: lineOf(el), className: el.className });
    }
    lines.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
    return { lines, struck, labels, gutter };
  });
}

/** The decoration shown now, or null: the struck-through text, its label and the gutter mark, all on one line. */
async function decoration(wb) {
  const v = await editorView(wb);
  if (!v || (!v.struck.length && !v.labels.some((l) => l.text.includes('→')))) return null;
  const label = v.labels.find((l) => l.text.includes('→'));
  return { line: v.struck[0]?.line ?? label?.line, old: v.struck.map((s) => s.text).join(''), label: label?.text ?? '', gutter: v.gutter.map((g) => g.line), view: v };
}

async function waitDecoration(wb, pred = () => true, { timeout = 15_000, what = 'the next-edit decoration' } = {}) {
  let last;
  try {
    return await waitFor(async () => {
      last = await decoration(wb);
      return last && pred(last) ? last : undefined;
    }, { timeout, interval: 100, what });
  } catch (e) {
    throw new Error(`${e.message} (last: ${JSON.stringify(last ? { line: last.line, old: last.old, label: last.label, gutter: last.gutter } : null)})`);
  }
}

async function waitNoDecoration(wb, timeout = 5_000) {
  await waitFor(async () => (await decoration(wb)) === null, { timeout, interval: 100, what: 'the next-edit decoration to go away' });
}

/** The cursor as the status bar shows it ("Ln 4, Col 9"). */
async function cursor(wb) {
  for (const t of await wb.statusBarTexts()) {
    const m = /Ln (\d+), Col (\d+)/.exec(t);
    if (m) return { line: Number(m[1]), col: Number(m[2]) };
  }
  return null;
}

async function lineText(wb, n) {
  const v = await editorView(wb);
  return v?.lines.find((l) => l.line === n)?.text;
}

/**
 * No completion ghost text, for a quiet moment: ghost text wins Tab and Alt+] (package.json's `when` clauses), so a
 * suggestion the last edit brought is dismissed with Escape (which, while it is visible, hides only it).
 */
let ghostDismissed = 0;
async function noGhost(wb, quietMs = 700, timeout = 15_000) {
  const t0 = Date.now();
  let since = Date.now();
  while (Date.now() - t0 < timeout) {
    if ((await wb.ghostText()).trim()) {
      ghostDismissed++;
      await wb.page.keyboard.press('Escape');
      await wb.waitForNoGhostText(3_000).catch(() => {});
      since = Date.now();
    } else if (Date.now() - since >= quietMs) return;
    await sleep(50);
  }
  throw new Error(`ghost text kept coming back for ${timeout} ms`);
}

const countMatches = (text, re) => (text.match(re) ?? []).length;

export default scenario(13, 'Next-edit drafts: a rename shows the next site struck through with → new; Tab jumps, Tab accepts and drafts the next; Alt+] cycles; Esc dismisses; a one-off change shows nothing', async (s, ctx) => {
  const { cs, wb } = ctx;
  const page = wb.page;
  const original = WORKSPACE_FILES[NEXT_EDIT_FILE];
  ghostDismissed = 0;
  try {
    await s.step(`open ${NEXT_EDIT_FILE}, superdraft.nextEdit: true`, async () => {
      await waitReady(wb);
      await wb.openFile(NEXT_EDIT_FILE);
      await wb.writeUserSettings({ ...cs.readSettings(), 'superdraft.nextEdit': true }, { returnTo: NEXT_EDIT_FILE });
      await waitFor(() => cs.readSettings()['superdraft.nextEdit'] === true, { timeout: 10_000, what: 'settings.json on disk to hold nextEdit true' });
      await wb.focusEditor(NEXT_EDIT_FILE);
      assert((await decoration(wb)) === null, 'a next-edit decoration shows before any edit');
    });

    await s.step('rename `subtotal` at its definition by typing: the next site shows struck through with → net', async () => {
      // line 2, the definition: select the word and type over it, as a user does
      await page.keyboard.press('Control+Home');
      await page.keyboard.press('ArrowDown');
      await page.keyboard.press('End');
      await page.keyboard.press('Home');
      await page.keyboard.press('Control+Shift+ArrowRight');
      await wb.type('net', 60);
      await waitFor(async () => (await lineText(wb, 2))?.trim() === 'net = 0', { timeout: 5_000, what: 'line 2 to read "net = 0"' });
      const d = await waitDecoration(wb, (d) => d.old === 'subtotal' && /→ net\b/.test(d.label));
      s.note(`decoration: line ${d.line}, struck ${JSON.stringify(d.old)}, label ${JSON.stringify(d.label)}, gutter icon on line(s) ${d.gutter.join(',')}`);
      assert(d.line === 4, `the first draft is on line ${d.line}, expected 4 (the nearest use)`);
      assert(d.gutter.includes(d.line), `no gutter mark on the draft's line ${d.line} (gutter marks: ${JSON.stringify(d.view.gutter)})`);
      assert(/\(1\/\d+, Alt\+\] next\)/.test(d.label), `the label does not say which of several drafts it is: ${JSON.stringify(d.label)}`);
      await wb.screenshot(shot('13-next-edit-draft'));
      s.screenshots.push(shot('13-next-edit-draft'));
    });

    await s.step('Tab jumps to the site (the cursor moves there, the text is unchanged)', async () => {
      await noGhost(wb);
      const before = await cursor(wb);
      await waitDecoration(wb, (d) => d.line === 4);
      await page.keyboard.press('Tab');
      const c = await waitFor(async () => {
        const c = await cursor(wb);
        return c && c.line === 4 ? c : undefined;
      }, { timeout: 5_000, what: 'the cursor on line 4' });
      s.note(`cursor ${before?.line}:${before?.col} → ${c.line}:${c.col}`);
      assert(c.col === 9, `the cursor is at column ${c.col}, expected 9 (the start of \`subtotal\`)`);
      assert((await lineText(wb, 4))?.trim() === 'subtotal += item.price * item.quantity', `line 4 changed on the jump: ${JSON.stringify(await lineText(wb, 4))}`);
      assert((await lineText(wb, 2))?.trim() === 'net = 0', `line 2 changed on the jump: ${JSON.stringify(await lineText(wb, 2))}`);
      await waitDecoration(wb, (d) => d.line === 4);
    });

    await s.step('Tab again accepts: the site reads `net`, and the next draft is drafted from the accepted edit', async () => {
      await noGhost(wb);
      await page.keyboard.press('Tab');
      await waitFor(async () => (await lineText(wb, 4))?.trim() === 'net += item.price * item.quantity', { timeout: 5_000, what: 'line 4 to read "net += …"' });
      const d = await waitDecoration(wb, (d) => d.old === 'subtotal' && d.line !== 4 && /→ net\b/.test(d.label), { what: 'the next draft after accepting' });
      s.note(`next draft: line ${d.line}, label ${JSON.stringify(d.label)}`);
      assert(d.line === 5 || d.line === 6, `the next draft is on line ${d.line}, expected 5 or 6`);
      await wb.save();
      const saved = readWorkspaceFile(cs, NEXT_EDIT_FILE);
      assert(saved.includes('\n    net = 0\n') && saved.includes('\n        net += item.price * item.quantity\n'), `the saved file lacks the renamed definition or the accepted use:\n${saved}`);
      s.state = { first: d };
    });

    await s.step('Alt+] shows another draft (a different site), Alt+[ goes back', async () => {
      const first = s.state.first;
      assert(/\(1\/[2-9], Alt\+\] next\)/.test(first.label), `only one draft is shown: ${JSON.stringify(first.label)}`);
      await noGhost(wb);
      await page.keyboard.press('Alt+BracketRight');
      const second = await waitDecoration(wb, (d) => d.line !== first.line && /\(2\/\d+/.test(d.label), { what: 'draft 2 on another line' });
      s.note(`Alt+]: line ${first.line} → ${second.line}, label ${JSON.stringify(second.label)}`);
      await noGhost(wb);
      await page.keyboard.press('Alt+BracketLeft');
      await waitDecoration(wb, (d) => d.line === first.line && /\(1\//.test(d.label), { what: 'draft 1 again' });
    });

    await s.step('Esc dismisses: the decoration goes, and Tab indents as usual (the context key is off)', async () => {
      await noGhost(wb);
      const c = await cursor(wb);
      const line = await lineText(wb, c.line);
      await page.keyboard.press('Escape');
      await waitNoDecoration(wb);
      await noGhost(wb);
      await page.keyboard.press('Tab');
      const after = await waitFor(async () => {
        const t = await lineText(wb, c.line);
        return t !== line ? t : undefined;
      }, { timeout: 5_000, what: `Tab to change line ${c.line}` });
      s.note(`Tab after Esc: ${JSON.stringify(line)} → ${JSON.stringify(after)}`);
      assert(after.replace(/ /g, '') === line.replace(/ /g, '') && after.length > line.length, `Tab did something other than insert whitespace: ${JSON.stringify(after)}`);
      await noGhost(wb); // past the next-edit debounce too
      assert((await decoration(wb)) === null, 'a next-edit decoration came back after Tab');
      await page.keyboard.press('Control+z');
      await waitFor(async () => (await lineText(wb, c.line)) === line, { timeout: 5_000, what: 'undo to restore the line' });
    });

    await s.step('a one-off change (a number literal) shows no next-edit draft', async () => {
      await noGhost(wb);
      const re = /next edit: 0 draft\(s\) in/g;
      const zeros = countMatches(superdraftLog(cs), re);
      // the last line, RETRIES = 3: 3 → 5
      await page.keyboard.press('Control+End');
      await page.keyboard.press('ArrowUp');
      await page.keyboard.press('End');
      await page.keyboard.press('Backspace');
      await wb.type('5', 60);
      await waitFor(async () => /^RETRIES = 5\s*$/.test((await lineText(wb, 13)) ?? ''), { timeout: 5_000, what: 'line 13 to read "RETRIES = 5"' });
      // the controller ran on the edit (its debug line) and drafted nothing
      await waitFor(() => countMatches(superdraftLog(cs), re) > zeros, { timeout: 10_000, what: 'the log line "next edit: 0 draft(s)" for the literal change' });
      assert((await decoration(wb)) === null, 'a next-edit decoration shows after changing a number literal');
    });

    await s.step('the saved file: the definition and the accepted use renamed, the literal changed, nothing else', async () => {
      await noGhost(wb);
      await wb.save();
      const saved = readWorkspaceFile(cs, NEXT_EDIT_FILE);
      const expected = original.replace('subtotal = 0', 'net = 0').replace('subtotal += item', 'net += item').replace('RETRIES = 3', 'RETRIES = 5');
      assert(saved === expected, `the saved file differs from the expected one:\n--- saved ---\n${saved}\n--- expected ---\n${expected}`);
      s.note(`ghost text dismissed with Escape before a key: ${ghostDismissed} time(s)`);
    });
  } finally {
    if (cs.readSettings()['superdraft.nextEdit'] !== undefined) {
      const st = cs.readSettings();
      delete st['superdraft.nextEdit'];
      await wb.writeUserSettings(st).catch((e) => s.note(`could not restore superdraft.nextEdit: ${e.message}`));
    }
  }
});
