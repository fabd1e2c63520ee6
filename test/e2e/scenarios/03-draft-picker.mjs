import { K, shot } from '../options.mjs';
import { PICKER_FILE } from '../workspace.mjs';
import { assert, waitFor } from '../lib/harness.mjs';
import { assertFileHasDraft, panelState, readWorkspaceFile, typeAndWaitGhost } from '../helpers.mjs';

const scenario = (id, title, fn) => ({ id, title, fn });

export default scenario(3, 'The draft picker opens by its keybinding, lists k drafts, and "2" inserts the second one', async (s, ctx) => {
  const { cs, wb } = ctx;
  const typed = 'def cube(x):\n    return ';
  await s.step(`open ${PICKER_FILE} and type a completion point`, async () => {
    await wb.openFile(PICKER_FILE);
    await typeAndWaitGhost(wb, typed);
    await wb.page.keyboard.press('Escape');
  });
  let st;
  await s.step('Ctrl+Alt+Enter opens the draft picker with k drafts', async () => {
    await wb.page.keyboard.press('Control+Alt+Enter');
    st = await waitFor(async () => {
      const p = await panelState(wb).catch(() => undefined);
      return p && p.count >= K ? p : undefined;
    }, { timeout: 30_000, what: `the draft picker to list ${K} drafts` });
    assert(st.count === K, `the panel lists ${st.count} drafts, expected k=${K}`);
    s.note(`panel: ${st.count} drafts, strategies ${[...new Set(st.drafts.map((d) => d.strategy))].join(',')}`);
    await wb.screenshot(shot('3-draft-picker'));
    s.screenshots.push(shot('3-draft-picker'));
  });
  await s.step('pressing 2 in the panel inserts the second draft', async () => {
    const second = st.drafts.find((d) => d.index === 1);
    assert(second && second.text.trim(), 'the panel has no non-empty second draft');
    const before = readWorkspaceFile(cs, PICKER_FILE);
    // focus the panel without clicking a draft (a click inserts)
    await wb.webviewFrame().locator('#sd-header').click();
    await wb.page.keyboard.press('2');
    // back to the editor (the panel keeps focus) and save it
    await waitFor(() => readWorkspaceFile(cs, PICKER_FILE) !== before || wb.page.locator('.tab.active.dirty', { hasText: PICKER_FILE }).count(), { timeout: 10_000, what: 'the insertion' }).catch(() => {});
    await wb.leaveWebview();
    await wb.focusEditor(PICKER_FILE);
    await wb.save();
    const saved = await waitFor(async () => {
      const t = readWorkspaceFile(cs, PICKER_FILE);
      return t !== before && t.includes(second.text.trim().split('\n')[0].trim()) ? t : undefined;
    }, { timeout: 15_000, what: 'the saved file to contain the second draft' }).catch((e) => {
      throw new Error(`${e.message}\n--- file ---\n${readWorkspaceFile(cs, PICKER_FILE)}\n--- draft 2 ---\n${second.text}`);
    });
    assertFileHasDraft(saved, typed, second.text, 'inserted draft 2');
    s.note(`inserted draft 2: ${JSON.stringify(second.text.slice(0, 60))}`);
    await wb.screenshot(shot('3-inserted-second'));
    s.screenshots.push(shot('3-inserted-second'));
  });
});
