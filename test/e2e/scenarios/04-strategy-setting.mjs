import { PICKER_FILE } from '../workspace.mjs';
import { assert, waitFor } from '../lib/harness.mjs';
import { panelState, typeAndWaitGhost } from '../helpers.mjs';
import { shot } from '../options.mjs';

const scenario = (id, title, fn) => ({ id, title, fn });

export default scenario(4, 'Changing superdraft.strategy in settings.json changes the strategy the panel reports, with no reload', async (s, ctx) => {
  const { cs, wb } = ctx;
  const marker = `no-reload-${Date.now()}`;
  await s.step('panel open and reporting the default strategy', async () => {
    await wb.page.evaluate((m) => { window.__sdMarker = m; }, marker);
    await wb.openFile(PICKER_FILE);
    await typeAndWaitGhost(wb, '\ndef double(x):\n    return ');
    await wb.page.keyboard.press('Escape');
    await wb.runCommand('Superdraft: Open Draft Picker');
    const st = await waitFor(async () => {
      const p = await panelState(wb).catch(() => undefined);
      return p && p.count > 0 ? p : undefined;
    }, { timeout: 30_000, what: 'drafts in the panel' });
    assert(st.strategies.includes('superposed'), `panel reports ${st.strategies.join(',')}, expected superposed (default)`);
  });
  await s.step('write superdraft.strategy = beam into settings.json', async () => {
    await wb.writeUserSettings({ ...cs.readSettings(), 'superdraft.strategy': 'beam' }, { returnTo: PICKER_FILE });
    await waitFor(() => cs.readSettings()['superdraft.strategy'] === 'beam', { timeout: 10_000, what: 'settings.json on disk to hold strategy beam' });
  });
  await s.step('the next completion is reported as beam', async () => {
    await wb.openFile(PICKER_FILE);
    await typeAndWaitGhost(wb, '\ndef halve(x):\n    return ');
    const st = await waitFor(async () => {
      const p = await panelState(wb).catch(() => undefined);
      return p && p.count > 0 && p.strategies.includes('beam') ? p : undefined;
    }, { timeout: 30_000, what: 'the panel to report strategy beam' });
    s.note(`panel strategies: ${st.strategies.join(',')}; drafts ${st.count}`);
    await wb.screenshot(shot('4-strategy-beam'));
    s.screenshots.push(shot('4-strategy-beam'));
  });
  await s.step('the window was not reloaded', async () => {
    const m = await wb.page.evaluate(() => window.__sdMarker);
    assert(m === marker, 'the workbench page was reloaded');
  });
  await s.step('restore the default strategy', async () => {
    const st = cs.readSettings();
    delete st['superdraft.strategy'];
    await wb.writeUserSettings(st, { returnTo: PICKER_FILE });
    await waitFor(() => !('superdraft.strategy' in cs.readSettings()), { timeout: 10_000, what: 'settings.json without strategy' });
    await wb.openFile(PICKER_FILE);
    await wb.save();
  });
});
