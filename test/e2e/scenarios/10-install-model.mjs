import { existsSync } from 'node:fs';
import { shot } from '../options.mjs';
import { HUB_MODEL_FILE } from '../workspace.mjs';
import { HUB_PRESET, HUB_REPO } from '../lib/hub.mjs';
import { assert, waitFor } from '../lib/harness.mjs';
import { superdraftLog, superdraftStatus, typeAndWaitGhost } from '../helpers.mjs';

const scenario = (id, title, fn) => ({ id, title, fn });

const row = (page, text) => page.locator('.quick-input-list .monaco-list-row', { hasText: text }).first();

// "Superdraft: Install Model…" against the loopback Hub (HF_ENDPOINT in code-server's environment, set by the runner):
// the preset is downloaded (slowly, so that the progress is seen), verified, prepared, switched to; ghost text comes
// from it; "Superdraft: Manage Models…" removes it and the embedded model is back.
export default scenario(10, 'Install Model… from a loopback Hub (HF_ENDPOINT): progress notification, the model switched, ghost text from it, Manage Models… removes it', async (s, ctx) => {
  const { cs, wb, hub } = ctx;
  assert(hub, 'the runner did not start the loopback Hub');
  const page = wb.page;
  let folder;
  await s.step('Install Model…: the quick pick lists the presets with size, memory and fit', async () => {
    hub.reset();
    hub.faults = { slow: [{ file: 'onnx/model_q4.onnx_data', delayMs: 60 }] };
    await wb.openFile(HUB_MODEL_FILE);
    await wb.runCommand('Superdraft: Install Model…');
    const r = row(page, HUB_PRESET);
    await r.waitFor({ state: 'visible', timeout: 15_000 });
    const detail = await r.textContent();
    assert(/download \(q4\).*needs ~.*memory/.test(detail ?? ''), `the preset row lacks size/memory: ${detail}`);
    s.note(`row: ${detail?.replace(/\s+/g, ' ').slice(0, 160)}`);
    await wb.screenshot(shot('10-install-pick'));
    s.screenshots.push(shot('10-install-pick'));
    await r.click();
  });
  await s.step('the progress notification shows the download; the status bar shows the percentage', async () => {
    const toast = page.locator('.notification-toast', { hasText: `installing ${HUB_PRESET}` }).first();
    await toast.waitFor({ state: 'visible', timeout: 20_000 });
    const msg = await waitFor(async () => {
      const t = (await toast.textContent().catch(() => '')) ?? '';
      return /\d+% · [\d.]+ kB of [\d.]+ kB/.test(t) ? t : undefined;
    }, { timeout: 20_000, what: 'the notification to show the percentage and bytes' });
    s.note(`notification: ${msg.replace(/\s+/g, ' ').slice(0, 120)}`);
    const st = await superdraftStatus(wb);
    s.note(`status bar: ${st}`);
    await wb.screenshot(shot('10-install-progress'));
    s.screenshots.push(shot('10-install-progress'));
  });
  await s.step('installed and switched: the inference process restarts on it', async () => {
    const line = await waitFor(() => superdraftLog(cs).match(new RegExp(`model ${HUB_PRESET.replace(/\./g, '\\.')} installed at (\\S+)`)), { timeout: 90_000, what: 'the log to say the model is installed' });
    folder = line[1];
    s.note(`installed at ${folder}`);
    assert(hub.requests.some((q) => q.path === `/api/models/${HUB_REPO}/tree/main`), 'the Hub listing was not requested from the loopback Hub');
    await waitFor(() => {
      const log = superdraftLog(cs);
      const i = log.lastIndexOf(`installed at ${folder}`);
      return i >= 0 && /model .+? ready on \S+/.test(log.slice(i)) && /-> qwen2\.5-coder-0\.5b\//.test(log.slice(i));
    }, { timeout: 90_000, what: 'the inference process to be ready on the installed model' });
    const st = await waitFor(async () => {
      const t = await superdraftStatus(wb);
      return t.includes(HUB_PRESET) && /ready/.test(t) ? t : undefined;
    }, { timeout: 30_000, what: 'the status bar tooltip to name the model' });
    s.note(`status bar: ${st}`);
  });
  await s.step(`type in ${HUB_MODEL_FILE}: ghost text from the installed model`, async () => {
    await wb.openFile(HUB_MODEL_FILE);
    const g = await typeAndWaitGhost(wb, 'def volume(r):\n    depth = r.');
    s.note(`ghost: ${JSON.stringify(g.slice(0, 60))}`);
    await wb.screenshot(shot('10-installed-ghost'));
    s.screenshots.push(shot('10-installed-ghost'));
    await page.keyboard.press('Escape');
  });
  await s.step('Manage Models…: Remove; the embedded model is back and the folder is gone', async () => {
    await wb.runCommand('Superdraft: Manage Models…');
    await row(page, HUB_PRESET).click({ timeout: 15_000 });
    await row(page, 'Remove').click({ timeout: 15_000 });
    const button = page.locator('.monaco-dialog-box .monaco-button', { hasText: 'Remove' }).first();
    await button.click({ timeout: 15_000 });
    await waitFor(() => superdraftLog(cs).includes(`removed model ${HUB_PRESET}`), { timeout: 60_000, what: 'the log to say the model was removed' });
    assert(!existsSync(folder), `${folder} still exists`);
    // switched away first (to the embedded model, or superdraft.modelPath where a machine setting still has one)
    const back = await waitFor(() => {
      const log = superdraftLog(cs);
      const m = [...log.matchAll(new RegExp(`model/device changed \\(${HUB_PRESET.replace(/\./g, '\\.')}/\\S+ -> ([^)]+)\\)`, 'g'))].pop();
      const ready = m && log.slice(m.index).match(/model (.+?) ready on \S+/);
      return ready ? `${m[1]}: ${ready[0]}` : undefined;
    }, { timeout: 60_000, what: 'the process to restart on the model in use before' });
    s.note(`back: ${back}`);
    await page.keyboard.press('Escape');
    await wb.save();
  });
});
