import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PY_FILE, TS_FILE } from '../workspace.mjs';
import { assert } from '../lib/harness.mjs';
import { shot } from '../options.mjs';
import { superdraftLog, typeAndWaitGhost, waitReady } from '../helpers.mjs';

const scenario = (id, title, fn) => ({ id, title, fn });

export default scenario(1, 'The packaged .vsix installs; TypeScript and Python files get ghost text from the embedded model', async (s, ctx) => {
  const { cs, wb } = ctx;
  await s.step('extension is installed', async () => {
    const list = cs.listExtensions();
    assert(list.some((l) => /^superdraft\.superdraft@/.test(l)), `--list-extensions shows: ${list.join(', ') || '(nothing)'}`);
    s.note(`installed: ${list.filter((l) => l.startsWith('superdraft.')).join(', ')}`);
  });
  await s.step('the inference process is ready (status bar)', async () => {
    s.note(`status bar: ${await waitReady(wb)}`);
  });
  await s.step('the embedded model is the one loaded', async () => {
    const log = superdraftLog(cs);
    const m = /model (.+?) ready on (\S+)/.exec(log);
    assert(m, `the Superdraft log has no "model … ready on …" line:\n${log.slice(-2000)}`);
    s.note(`log: model ${m[1]} ready on ${m[2]}`);
    // device auto: the packaged WebGPU adapter probe ran (it says what it found, never that it is missing)
    const why = /model .+? ready on \S+ in \d+ ms \(([^)\n]*)/.exec(log)?.[1];
    s.note(`device auto: ${why}`);
    assert(why && !/not installed/.test(why), `the ready line gives no reason for the device, or the WebGPU probe is missing from the .vsix: ${why}`);
    const ext = ctx.extensionFolder;
    assert(existsSync(join(ext, 'models', 'default', 'config.json')), `installed extension lacks models/default/config.json (${ext})`);
  });
  await s.step(`TypeScript: open ${TS_FILE}, type, ghost text appears`, async () => {
    await wb.openFile(TS_FILE);
    const g = await typeAndWaitGhost(wb, 'export function midpoint(a: Point, b: Point): Point {\n  return ');
    s.note(`TS ghost text: ${JSON.stringify(g.slice(0, 80))}`);
    await wb.screenshot(shot('1-typescript-ghost-text'));
    s.screenshots.push(shot('1-typescript-ghost-text'));
    await wb.page.keyboard.press('Escape');
    await wb.save();
  });
  await s.step(`Python: open ${PY_FILE}, type, ghost text appears`, async () => {
    await wb.openFile(PY_FILE);
    const g = await typeAndWaitGhost(wb, '    def remove(self, name, count):\n        ');
    s.note(`Python ghost text: ${JSON.stringify(g.slice(0, 80))}`);
    await wb.screenshot(shot('1-python-ghost-text'));
    s.screenshots.push(shot('1-python-ghost-text'));
    await wb.page.keyboard.press('Escape');
    await wb.save();
  });
});
