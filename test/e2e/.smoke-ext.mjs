// Temporary extension-owner smoke (not committed).
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { BASE_SETTINGS, CodeServer } from './lib/codeserver.mjs';
import { Workbench } from './lib/workbench.mjs';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const cs = new CodeServer({ keep: true });
const out = [];
const log = (...a) => { const s = a.join(' '); out.push(s); console.log(s); };
let wb;
try {
  cs.writeSettings({ ...BASE_SETTINGS, 'superdraft.logLevel': 'debug', 'superdraft.maxTokens': 12 });
  writeFileSync(join(cs.workspace, 'a.ts'), 'export function add(a: number, b: number): number {\n  return a + b;\n}\n\nexport function mul(a: number, b: number): number {\n  ');
  writeFileSync(join(cs.workspace, '.gitignore'), 'ignored/\n');
  mkdirSync(join(cs.workspace, 'ignored'));
  writeFileSync(join(cs.workspace, 'ignored', 'x.ts'), 'const secret = 1;\n');
  log('install', cs.installExtension('/tmp/sd.vsix').output.split('\n').pop());
  await cs.start();
  wb = await Workbench.launch({ url: cs.url });
  await wb.openFile('a.ts');
  await wb.gotoEnd();
  await wb.type('re');
  const t0 = Date.now();
  let g;
  try { g = await wb.waitForGhostText({ timeout: 30000 }); log('ghost (typed during load)', JSON.stringify(g), Date.now() - t0, 'ms'); } catch (e) { log('noghost', e.message); }
  log('status', JSON.stringify((await wb.statusBarTexts()).filter((t) => t.includes('Superdraft'))));
  await wb.type('t');
  try { g = await wb.waitForGhostText({ timeout: 10000 }); log('ghost', JSON.stringify(g)); } catch (e) { log('noghost', e.message); }
  log('counter', await wb.hintCounter());
  await wb.page.keyboard.press('Alt+BracketRight');
  await sleep(800);
  log('after alt+]', JSON.stringify(await wb.ghostText()), await wb.hintCounter());
  await wb.page.keyboard.press('Alt+BracketLeft');
  await sleep(800);
  log('after alt+[', JSON.stringify(await wb.ghostText()), await wb.hintCounter());
  const gg = await wb.ghostText();
  if (gg) { await wb.type(gg.slice(0, 2)); await sleep(500); log('after typing 2 chars of ghost', JSON.stringify(await wb.ghostText())); }
  await wb.page.keyboard.press('Tab');
  await sleep(800);
  await wb.page.keyboard.press('Control+Alt+Enter');
  await sleep(4000);
  const f = wb.webviewFrame();
  try {
    await f.locator('#superdraft-panel').waitFor({ timeout: 15000 });
    log('panel count', await f.locator('#superdraft-panel').getAttribute('data-count'), 'state', await f.locator('#superdraft-panel').getAttribute('data-state'));
    log('rows', JSON.stringify(await f.locator('.sd-draft').evaluateAll((els) => els.map((e) => [e.id, e.textContent.slice(0, 60)]))));
    await wb.page.keyboard.press('2');
    await sleep(1500);
  } catch (e) { log('panel error', e.message); }
  log('status2', JSON.stringify((await wb.statusBarTexts()).filter((t) => t.includes('Superdraft'))));
  await wb.screenshot('/tmp/smoke/shot.png');
  await wb.runCommand('Superdraft: Compare Strategies at Cursor');
  await sleep(8000);
  try { log('compare', JSON.stringify(await f.locator('.sd-group').evaluateAll((els) => els.map((e) => [e.getAttribute('data-strategy'), e.getAttribute('data-ms'), e.querySelectorAll('.sd-draft').length])))); } catch (e) { log('compare err', e.message); }
  await wb.screenshot('/tmp/smoke/shot2.png');
  const procs = cs.findProcesses(/dist\/server\.js/);
  log('server procs', JSON.stringify(procs));
  for (const p of procs) process.kill(p.pid ?? p, 'SIGKILL');
  for (let i = 0; i < 20; i++) { await sleep(500); const st = (await wb.statusBarTexts()).filter((t) => t.includes('Superdraft')); log('status after kill', i, JSON.stringify(st)); if (st.join().includes('ready on')) break; }
  log('server procs after', JSON.stringify(cs.findProcesses(/dist\/server\.js/)));
  await wb.runCommand('Superdraft: Restart Inference Process');
  await sleep(6000);
  log('status after restart cmd', JSON.stringify((await wb.statusBarTexts()).filter((t) => t.includes('Superdraft'))));
  log('console errors', JSON.stringify(wb.consoleErrors.slice(0, 5)));
} catch (e) {
  log('FAIL', e.stack);
} finally {
  log(cs.logTail(60));
  writeFileSync('/tmp/smoke/out.txt', out.join('\n'));
  await wb?.close();
  await cs.stop?.();
}
