import { TS_FILE } from '../workspace.mjs';
import { assert, waitFor } from '../lib/harness.mjs';
import { shot } from '../options.mjs';
import { superdraftLog, waitReady } from '../helpers.mjs';

const scenario = (id, title, fn) => ({ id, title, fn });

export default scenario(8, 'With the suggest widget open, the ghost text extends the selected item (selectedCompletionInfo)', async (s, ctx) => {
  const { cs, wb } = ctx;
  const WIDGET = /\[debug\] inline \w+ \S+ v\d+: [1-9]\d* items in [\d.]+ ms.*, suggest widget/g;
  const count = () => (superdraftLog(cs).match(WIDGET) ?? []).length;
  const typed = 'const d2 = dist';
  await s.step('word-based suggestions on (the suite turns them off), without a reload', async () => {
    await waitReady(wb);
    const st = cs.readSettings();
    st['editor.wordBasedSuggestions'] = 'currentDocument';
    await wb.writeUserSettings(st);
    await waitFor(() => cs.readSettings()['editor.wordBasedSuggestions'] === 'currentDocument', { timeout: 10_000, what: 'settings.json with word-based suggestions' });
  });
  await s.step(`open ${TS_FILE}, type "${typed}" and open the suggest widget (Ctrl+Space) on "distance"`, async () => {
    await wb.openFile(TS_FILE);
    await wb.gotoEnd();
    await wb.page.keyboard.press('Enter');
    await wb.type(typed, 25);
    await wb.page.keyboard.press('Escape');
    await wb.page.keyboard.press('Control+Space');
    const row = wb.page.locator('.suggest-widget.visible .monaco-list-row.focused', { hasText: 'distance' });
    await row.first().waitFor({ state: 'visible', timeout: 20_000 });
  });
  await s.step('ghost text continues "distance" beyond the typed "dist", and the provider saw the selected item', async () => {
    const g = await waitFor(async () => {
      const t = await wb.ghostText();
      return t.trim() ? t : undefined;
    }, { timeout: 20_000, what: 'ghost text while the suggest widget is open' });
    s.note(`ghost text with the widget open: ${JSON.stringify(g.slice(0, 60))}`);
    assert(g.startsWith('ance') && g.length > 'ance'.length, `the ghost text does not extend the selected item "distance": ${JSON.stringify(g)}`);
    await waitFor(() => count() > 0, { timeout: 5_000, what: 'an "inline ..., suggest widget" line in the Superdraft log' });
    await wb.screenshot(shot('8-suggest-widget'));
    s.screenshots.push(shot('8-suggest-widget'));
    await wb.page.keyboard.press('Escape');
    await wb.page.keyboard.press('Escape');
    await wb.save();
  });
  await s.step('restore the suite\'s settings', async () => {
    const st = cs.readSettings();
    st['editor.wordBasedSuggestions'] = 'off';
    await wb.writeUserSettings(st, { returnTo: TS_FILE });
    await waitFor(() => cs.readSettings()['editor.wordBasedSuggestions'] === 'off', { timeout: 10_000, what: 'settings.json restored' });
  });
});
