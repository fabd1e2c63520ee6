import { CYCLE_FILE, WORKSPACE_FILES } from '../workspace.mjs';
import { assert, sleep, waitFor } from '../lib/harness.mjs';
import { assertFileHasDraft, ghostLines, readWorkspaceFile, typeAndWaitGhost } from '../helpers.mjs';
import { shot } from '../options.mjs';

const scenario = (id, title, fn) => ({ id, title, fn });

export default scenario(2, 'Alt+] shows another draft, Alt+[ goes back, Tab accepts and the saved file holds the shown draft', async (s, ctx) => {
  const { cs, wb } = ctx;
  const typed = 'def count_lines(path):\n    with open(path) as f:\n        return ';
  let first;
  let second;
  await s.step(`open ${CYCLE_FILE} and get ghost text`, async () => {
    await wb.openFile(CYCLE_FILE);
    first = await typeAndWaitGhost(wb, typed);
  });
  let total;
  await s.step('the toolbar shows draft 1 of several', async () => {
    const c = await wb.waitForHintCounter((c) => /^1\/\d+$/.test(c) && Number(c.split('/')[1]) >= 2, 20_000);
    total = Number(c.split('/')[1]);
    s.note(`toolbar ${c}; draft 1: ${JSON.stringify(first.slice(0, 60))}`);
  });
  await s.step('Alt+] shows draft 2 (index changes, the text differs)', async () => {
    await wb.page.keyboard.press('Alt+BracketRight');
    const c = await wb.waitForHintCounter((c) => c === `2/${total}`);
    second = await wb.waitForGhostText({ differentFrom: first, timeout: 5_000 });
    s.note(`toolbar ${c}; draft 2: ${JSON.stringify(second.slice(0, 60))}`);
    await wb.screenshot(shot('2-second-draft'));
    s.screenshots.push(shot('2-second-draft'));
  });
  await s.step('Alt+[ goes back to draft 1', async () => {
    await wb.page.keyboard.press('Alt+BracketLeft');
    await wb.waitForHintCounter((c) => c === `1/${total}`);
    await waitFor(async () => (await wb.ghostText()) === first, { timeout: 5_000, what: 'draft 1 text again' });
  });
  await s.step('Alt+] then Tab accepts draft 2; the saved file contains it', async () => {
    await wb.page.keyboard.press('Alt+BracketRight');
    await wb.waitForHintCounter((c) => c === `2/${total}`);
    const shown = await wb.waitForGhostText({ differentFrom: first, timeout: 5_000 });
    assert(shown === second, `draft 2 changed between views: ${JSON.stringify(second)} vs ${JSON.stringify(shown)}`);
    await wb.page.keyboard.press('Tab');
    await wb.waitForNoGhostText(5_000).catch(() => {}); // a follow-up suggestion may appear right after accepting
    await wb.save();
    await sleep(300);
    const saved = readWorkspaceFile(cs, CYCLE_FILE);
    assertFileHasDraft(saved, typed, shown, 'accepted draft 2');
    const d1 = (typed.split('\n').pop() + ghostLines(first)[0]).trim();
    if (ghostLines(first)[0] !== ghostLines(shown)[0]) {
      // draft 1 may be a copy of a line already in the file: the file must hold it no more often than before
      const count = (text) => text.split('\n').filter((l) => l.trim() === d1).length;
      assert(count(saved) === count(WORKSPACE_FILES[CYCLE_FILE]), `the saved file contains draft 1 (${JSON.stringify(d1)}) although draft 2 was shown`);
    }
    await wb.page.keyboard.press('Escape');
    await wb.screenshot(shot('2-accepted'));
    s.screenshots.push(shot('2-accepted'));
  });
});
