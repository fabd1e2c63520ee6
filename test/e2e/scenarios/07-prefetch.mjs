import { PREFETCH_FILE } from '../workspace.mjs';
import { assert, sleep, waitFor } from '../lib/harness.mjs';
import { ghostLines, readWorkspaceFile, superdraftLog, typeAndWaitGhost, waitReady } from '../helpers.mjs';
import { shot } from '../options.mjs';

const scenario = (id, title, fn) => ({ id, title, fn });

export default scenario(7, 'Prefetch: Tab accepts draft 1 at the end of a line and the next drafts appear without a new model request', async (s, ctx) => {
  // Needs superdraft.prefetch on (the default): with SUPERDRAFT_E2E_SETTINGS turning it off, leave 7 out (--only).
  const { cs, wb } = ctx;
  const count = (re) => (superdraftLog(cs).match(re) ?? []).length;
  const PREFETCHED = /\[debug\] prefetch: \w+ k=\d+: [1-9]\d* drafts/g;
  // model requests other than prefetches: the provider's, and those started on the keystroke ("keystroke: ...")
  const REQUESTS = /\[debug\] (?:keystroke: )?\w+ k=\d+: \d+ drafts in/g;
  const FROM_CACHE = /\[debug\] inline \w+ \S+ v\d+: [1-9]\d* items in [\d.]+ ms, from cache/g;
  let shown;
  await s.step(`open ${PREFETCH_FILE}, type a line and get ghost text at its end`, async () => {
    await waitReady(wb);
    await wb.openFile(PREFETCH_FILE);
    const before = count(PREFETCHED);
    shown = await typeAndWaitGhost(wb, 'def count_files(root):\n    total = ');
    s.note(`ghost text: ${JSON.stringify(shown.slice(0, 60))}`);
    // the prefetch for "draft 1 accepted" runs in the background ~100 ms after the drafts are shown; give it
    // time to finish (it may also have run for an earlier position while typing, hence the pause)
    await waitFor(() => count(PREFETCHED) > before, { timeout: 20_000, what: 'a "prefetch:" line in the Superdraft log' });
    await sleep(1_500);
  });
  await s.step('Tab accepts; the next ghost text comes from the cache', async () => {
    const requests = count(REQUESTS);
    const cached = count(FROM_CACHE);
    const t0 = await wb.page.evaluate(() => performance.now());
    await wb.page.keyboard.press('Tab');
    const next = await waitFor(async () => wb.page.evaluate((t) => {
      const k = window.__sd.keys.find((x) => x.t >= t && x.key === 'Tab');
      const g = k && window.__sd.ghost.find((x) => x.t > k.t && x.text.trim());
      return g ? { ms: g.t - k.t, text: g.text } : undefined;
    }, t0), { timeout: 10_000, interval: 20, what: 'ghost text after accepting' });
    s.note(`Tab → next ghost text in ${next.ms.toFixed(0)} ms: ${JSON.stringify(next.text.slice(0, 60))}`);
    await waitFor(() => count(FROM_CACHE) > cached, { timeout: 5_000, what: 'an "inline ... from cache" line after Tab' });
    await sleep(500);
    assert(count(REQUESTS) === requests, `a new model request ran after Tab (${count(REQUESTS) - requests}); the prefetched drafts were not used`);
    await wb.screenshot(shot('7-after-accept'));
    s.screenshots.push(shot('7-after-accept'));
    await wb.page.keyboard.press('Escape');
    await wb.save();
    await sleep(300);
    const saved = readWorkspaceFile(cs, PREFETCH_FILE);
    assert(saved.includes(`total = ${ghostLines(shown)[0].trim()}`), `the saved file lacks the accepted draft ${JSON.stringify(shown)}`);
  });
});
