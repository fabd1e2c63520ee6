import { execFileSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CODE_SERVER_VERSION, RESULTS, ROOT } from '../lib/env.mjs';
import { K, shot } from '../options.mjs';
import { assert, waitFor } from '../lib/harness.mjs';
import { superdraftLog, waitReady, writeMachineSettings } from '../helpers.mjs';
import { KEY_MS, SESSION_FILE, SESSION_TEXT, keystrokeMetrics, requestMetrics, runSession } from '../session.mjs';

const scenario = (id, title, fn) => ({ id, title, fn });

// The Qwen2.5-Coder-0.5B replica (the family's published config and tokenizer, random weights, the Hub's q4 layout),
// built once into .cache/replicas (30 s, 0.8 GB) and prepared by `superdraft model prepare`.
const REPLICA = join(ROOT, '.cache', 'replicas', 'qwen2-0.5b-e2e');

function ensureReplica(s) {
  const done = join(REPLICA, '.complete');
  if (!existsSync(done)) {
    const tmp = `${REPLICA}.partial`;
    rmSync(tmp, { recursive: true, force: true });
    rmSync(REPLICA, { recursive: true, force: true });
    const out = execFileSync('bash', [join(ROOT, 'scripts', 'replica.sh'), 'qwen2', '--size', 'real', '--variants', 'q4', '--out', tmp], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    s.note(`replica: ${out.trim().split('\n').slice(-2).join(' · ')}`);
    renameSync(tmp, REPLICA);
    writeFileSync(done, new Date().toISOString() + '\n');
  } else {
    s.note(`replica cached at ${REPLICA}`);
  }
  // as `model install` prepares a q4 model: with its 8-bit-activation companion, which the engine runs on the CPU
  const out = execFileSync(process.execPath, [join(ROOT, 'dist', 'cli.js'), 'model', 'prepare', REPLICA, '--int8-activations'], { encoding: 'utf8' });
  s.note(`prepare: ${out.trim().split('\n').pop()}`);
}

/** Switches the model (machine settings, as a user of a remote would) and waits until the log says it is ready. */
async function useModel(cs, modelPath, pattern) {
  const ready = () => superdraftLog(cs).match(/model .+? ready on \S+/g) ?? [];
  const before = ready().length;
  writeMachineSettings(cs, modelPath ? { 'superdraft.modelPath': modelPath } : {});
  return waitFor(() => {
    const lines = ready();
    return lines.length > before && pattern.test(lines[lines.length - 1]) ? lines[lines.length - 1] : undefined;
  }, { timeout: 120_000, what: `the log to say ${pattern} is ready` });
}

async function measure(s, ctx, name) {
  const { cs, wb } = ctx;
  writeFileSync(join(cs.workspace, SESSION_FILE), SESSION_TEXT);
  await wb.openFile(SESSION_FILE);
  await waitReady(wb);
  const epoch0 = Date.now();
  const trace = await runSession(wb);
  const epoch1 = Date.now();
  // the whole drafts after a cut (kind rest) come in the session's last pause: the log settles before the file is reset
  let last = '';
  let since = Date.now();
  await waitFor(() => {
    const log = superdraftLog(cs);
    if (log.length !== last.length) {
      last = log;
      since = Date.now();
    }
    return Date.now() - since > 2_000;
  }, { timeout: 30_000, interval: 200, what: 'the Superdraft log to settle after the session' }).catch(() => s.note('the log did not settle within 30 s'));
  await wb.screenshot(shot(`12-session-${name}`));
  s.screenshots.push(shot(`12-session-${name}`));
  // close without saving: the next run starts from the same text
  await wb.page.keyboard.press('Escape');
  await wb.runCommand('File: Revert File').catch(() => {});
  const keys = keystrokeMetrics(trace);
  const requests = requestMetrics(superdraftLog(cs), epoch0, epoch1);
  s.note(`${name}: ${keys.keystrokes} keystrokes, keystroke → ghost text p50 ${keys.p50} ms, p95 ${keys.p95 ?? 'never'} ms; drafts before the next keystroke ${(keys.beforeNextKeystroke * 100).toFixed(1)} %; ${requests.requests} requests (${requests.cold} cold, ${requests.budgetCut} cut by the latency budget, ${requests.rest} whole drafts after a cut), ${requests.cacheHits} cache hits, ${requests.draftsPerRequest} drafts a request; accept/type-along: ${JSON.stringify(trace.events)}`);
  return { keystrokes: keys, requests, events: trace.events };
}

// The same session typed with the embedded model and with the 0.5B replica, side by side in latency.json ("session").
export default scenario(12, `A typing session at ${1000 / KEY_MS} characters/s: keystroke → ghost text with the embedded model and the Qwen2.5-Coder-0.5B replica`, async (s, ctx) => {
  const { cs, wb } = ctx;
  const report = {
    what: `every keystroke of a session typed at ${1000 / KEY_MS} characters/s (words, new lines, a jump, Tab on a draft, typing along one) → the first ghost text after it; code-server ${CODE_SERVER_VERSION}`,
    when: new Date().toISOString(),
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    drafts: K,
    strategy: cs.readSettings()['superdraft.strategy'] ?? 'superposed (default)',
    models: {},
  };
  await s.step('build and prepare the Qwen2.5-Coder-0.5B replica', async () => ensureReplica(s));
  try {
    // SUPERDRAFT_E2E_SESSION=replica measures the replica only (while working on it)
    if (process.env.SUPERDRAFT_E2E_SESSION !== 'replica') {
      await s.step('the session with the embedded model', async () => {
        report.models.embedded = await measure(s, ctx, 'embedded');
      });
    }
    await s.step('superdraft.modelPath = the 0.5B replica: the inference process restarts on it', async () => {
      s.note(await useModel(cs, REPLICA, /Qwen.*model_q4a8\.onnx/));
    });
    await s.step('the session with the 0.5B replica', async () => {
      report.models['qwen2.5-coder-0.5b-replica'] = await measure(s, ctx, 'qwen0.5b');
    });
  } finally {
    await s.step('restore the embedded model', async () => {
      await useModel(cs, undefined, /model default/);
    });
  }
  await s.step('write the session into latency.json', async () => {
    report.load = loadavg().map((x) => Math.round(x * 100) / 100);
    const file = join(RESULTS, 'latency.json');
    const prev = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
    writeFileSync(file, JSON.stringify({ ...prev, session: report }, null, 2) + '\n');
    for (const [name, m] of Object.entries(report.models)) {
      assert(m.keystrokes.keystrokes >= 100, `${name}: only ${m.keystrokes.keystrokes} keystrokes were recorded`);
      assert(m.keystrokes.withGhost.count > 0, `${name}: no keystroke of the session got ghost text`);
    }
    // The replica's requests outlast the latency budget: its drafts are cut, and the whole ones follow in pauses.
    const replica = report.models['qwen2.5-coder-0.5b-replica'];
    assert(replica.requests.budgetCut > 0, 'the 0.5B replica\'s drafts were never cut by the latency budget');
    assert(replica.requests.rest > 0, 'no whole drafts (kind rest) followed the cut ones in the session\'s pauses');
  });
});
