import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { shot } from '../options.mjs';
import { REMOTE_FILE } from '../workspace.mjs';
import { ROOT } from '../lib/env.mjs';
import { assert, waitFor } from '../lib/harness.mjs';
import { nextDifferentDraft, panelState, settledGhost, superdraftLog, typeAndWaitGhost } from '../helpers.mjs';

const scenario = (id, title, fn) => ({ id, title, fn });

/** `superdraft serve` on a free loopback port (the embedded model); resolves with its URL and the child. */
function startServe() {
  const child = spawn(process.execPath, [join(ROOT, 'dist', 'cli.js'), 'serve', '--model', 'embedded', '--port', '0', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`superdraft serve did not start within 60 s: ${err.slice(-400)}`)), 60_000);
    child.stdout.on('data', (d) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(t);
      resolve({ child, url: JSON.parse(out.slice(0, nl)).url });
    });
    child.on('exit', (code) => reject(new Error(`superdraft serve exited (${code}): ${err.slice(-400)}`)));
  });
}

/** Decoding passes the server made with a strategy (its Prometheus /metrics). */
async function passes(url, strategy) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const re = new RegExp(`^superdraft_decoding_passes_total\\{[^}]*strategy="${strategy}"[^}]*\\} (\\S+)$`, 'm');
  return Number(re.exec(text)?.[1] ?? 0);
}

// The remote backends (src/remote) in the editor: `superdraft serve` on loopback stands in for a team server; the
// openai backend recognises it (owned_by "superdraft") and asks it for superposed drafts itself.
export default scenario(11, 'A remote backend: superdraft serve as the openai backend — ghost text from the server, Alt+] cycles, the picker names it; then back to local', async (s, ctx) => {
  const { cs, wb } = ctx;
  let serve;
  await s.step('start superdraft serve on loopback (embedded model)', async () => {
    serve = await startServe();
    s.note(`server at ${serve.url}`);
  });
  try {
    await s.step('superdraft.backend = openai at the server: the log says drafts come from it', async () => {
      await wb.openFile(REMOTE_FILE);
      const before = (superdraftLog(cs).match(/drafts from openai at /g) ?? []).length;
      await wb.writeUserSettings(
        { ...cs.readSettings(), 'superdraft.backend': 'openai', 'superdraft.endpoint': serve.url, 'superdraft.remoteModel': 'superdraft-embedded' },
        { returnTo: REMOTE_FILE },
      );
      const line = await waitFor(() => {
        const lines = superdraftLog(cs).match(/drafts from openai at [^\n]+/g) ?? [];
        return lines.length > before ? lines[lines.length - 1] : undefined;
      }, { timeout: 30_000, what: 'the log to say drafts come from the openai backend' });
      s.note(`log: ${line}`);
    });
    const superposed0 = await passes(serve.url, 'superposed');
    let first;
    let total;
    await s.step(`type in ${REMOTE_FILE}: ghost text from the server, several drafts`, async () => {
      await wb.openFile(REMOTE_FILE);
      await typeAndWaitGhost(wb, 'def fahrenheit(celsius):\n    return ');
      await wb.waitForHintCounter((c) => /^1\/\d+$/.test(c) && Number(c.split('/')[1]) >= 2, 20_000);
      ({ ghost: first, counter: total } = await settledGhost(wb));
      s.note(`toolbar 1/${total}; draft 1: ${JSON.stringify(first.slice(0, 60))}`);
    });
    await s.step('the server made them by superposed decoding (its /metrics)', async () => {
      const made = (await passes(serve.url, 'superposed')) - superposed0;
      assert(made > 0, `the server counted no superposed pass (${made})`);
      s.note(`superposed passes on the server: ${made}`);
    });
    await s.step('Alt+] shows another draft', async () => {
      await nextDifferentDraft(s, wb, first, total);
    });
    await s.step('the draft picker names the server and its model for each draft', async () => {
      await wb.page.keyboard.press('Escape');
      await wb.runCommand('Superdraft: Open Draft Picker');
      const st = await waitFor(async () => {
        const p = await panelState(wb).catch(() => undefined);
        return p && p.count >= 2 ? p : undefined;
      }, { timeout: 30_000, what: 'the picker to show the drafts' });
      const sources = await wb.webviewFrame().locator('.sd-draft .sd-source').allTextContents();
      s.note(`picker: ${st.count} drafts, strategy ${st.strategies.join(',')}; sources ${JSON.stringify(sources.slice(0, 3))}`);
      assert(sources.some((t) => /openai superdraft-embedded/.test(t)), `no draft names the server: ${JSON.stringify(sources)}`);
      await wb.screenshot(shot('11-remote-picker'));
      s.screenshots.push(shot('11-remote-picker'));
    });
    await s.step('back to the local backend: the inference process starts again and completes', async () => {
      const before = (superdraftLog(cs).match(/ready on/g) ?? []).length;
      const st = cs.readSettings();
      for (const k of ['superdraft.backend', 'superdraft.endpoint', 'superdraft.remoteModel']) delete st[k];
      await wb.writeUserSettings(st, { returnTo: REMOTE_FILE });
      await waitFor(() => (superdraftLog(cs).match(/ready on/g) ?? []).length > before, { timeout: 60_000, what: 'a new "ready on" line: the local model loaded again' });
      await wb.openFile(REMOTE_FILE);
      const ghost = await typeAndWaitGhost(wb, '\n\ndef kelvin(celsius):\n    return ');
      s.note(`local ghost text: ${JSON.stringify(ghost.slice(0, 60))}`);
      await wb.save();
    });
  } finally {
    serve?.child.kill();
  }
});
