import { PY_FILE } from '../workspace.mjs';
import { assert, waitFor } from '../lib/harness.mjs';
import { shot } from '../options.mjs';
import { superdraftLog, typeAndWaitGhost, waitReady } from '../helpers.mjs';

const scenario = (id, title, fn) => ({ id, title, fn });

export default scenario(5, 'Killing the inference process: the status bar shows the restart and completions come back', async (s, ctx) => {
  const { cs, wb } = ctx;
  let victim;
  await s.step('find the inference process', async () => {
    await waitReady(wb);
    const procs = cs.findProcesses(/dist\/server\.js/);
    assert(procs.length === 1, `expected one inference process, found ${procs.length}: ${JSON.stringify(procs)}`);
    victim = procs[0];
    s.note(`inference process pid ${victim.pid}`);
  });
  let killedAt;
  await s.step('SIGKILL it', async () => {
    killedAt = await wb.page.evaluate(() => performance.now());
    process.kill(victim.pid, 'SIGKILL');
  });
  await s.step('the status bar leaves "ready" and comes back to "ready"', async () => {
    const hist = await waitFor(async () => {
      const h = await wb.page.evaluate((t) => window.__sd.status.filter((x) => x.t >= t), killedAt);
      const i = h.findIndex((x) => !/ready/i.test(x.status));
      return i >= 0 && h.slice(i + 1).some((x) => /ready/i.test(x.status)) ? h : undefined;
    }, { timeout: 60_000, what: 'a non-ready then ready Superdraft status after the kill' });
    const seq = hist.map((x) => `${Math.round(x.t - killedAt)}ms ${x.status.split(' | ')[1] || x.status}`);
    s.note(`status after kill: ${seq.join(' → ')}`);
    const procs = cs.findProcesses(/dist\/server\.js/);
    assert(procs.length === 1 && procs[0].pid !== victim.pid, `expected a new inference process, found ${JSON.stringify(procs)}`);
    s.note(`new inference process pid ${procs[0].pid}`);
    const log = superdraftLog(cs);
    assert(/stopped unexpectedly|restart/i.test(log), 'the Superdraft log does not mention the restart');
  });
  await s.step('completions come back', async () => {
    await wb.openFile(PY_FILE);
    const g = await typeAndWaitGhost(wb, '\n    def total(self):\n        ');
    s.note(`ghost text after restart: ${JSON.stringify(g.slice(0, 60))}`);
    await wb.screenshot(shot('5-after-restart'));
    s.screenshots.push(shot('5-after-restart'));
    await wb.page.keyboard.press('Escape');
    await wb.save();
  });
});
