#!/usr/bin/env node
// End-to-end suite: the packaged .vsix in a real VS Code (code-server 4.139.1 = VS Code 1.139.1) driven in
// Debian's chromium by playwright-core. One file per scenario under scenarios/:
//   1 install + ghost text in TypeScript and Python   2 Alt+] / Alt+[ cycling, Tab accepts the shown draft
//   3 draft picker: keybinding, k drafts, "2" inserts  4 superdraft.strategy change applies with no reload
//   5 killed inference process: status bar restart    6 keystroke -> ghost text latency over >= 30 completions
//   7 prefetch: Tab, then the next drafts from cache   8 suggest widget open: ghost text extends the selected item
//   9 a Hugging Face model (prepared Qwen2.5-Coder replica) as superdraft.modelPath: ghost text, cycling, k drafts
//  10 Install Model… from a loopback Hub (HF_ENDPOINT): progress, switched, ghost text, Manage Models… removes it
//  11 superdraft serve as the openai remote backend
//  12 a typing session at 5 characters/s, embedded model vs the Qwen2.5-Coder-0.5B replica (latency.json "session")
//  13 next-edit drafts (superdraft.nextEdit): a rename's next site struck through with → new, Tab jumps / accepts,
//     Alt+] cycles, Esc dismisses, a one-off change shows nothing
// workspace.mjs writes the workspace files, helpers.mjs holds the shared steps, options.mjs the command line.
//
//   node test/e2e/run.mjs [--vsix file] [--only 1,3] [--samples 30] [--keep]
//
// Prerequisites: bash scripts/setup-e2e.sh, npm run package. Artifacts: test-results/e2e/ (screenshots,
// latency.json, summary.json, logs of failed runs).
import { copyFileSync, existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { superdraftStatus } from './helpers.mjs';
import { BASE_SETTINGS, CodeServer } from './lib/codeserver.mjs';
import { CODE_SERVER_VERSION, RESULTS, checkTools } from './lib/env.mjs';
import { Scenario, StepError } from './lib/harness.mjs';
import { Workbench } from './lib/workbench.mjs';
import { findVsix, keep, only, rel, shot } from './options.mjs';
import { WORKSPACE_FILES } from './workspace.mjs';
import s1 from './scenarios/01-install.mjs';
import s2 from './scenarios/02-cycling.mjs';
import s3 from './scenarios/03-draft-picker.mjs';
import s4 from './scenarios/04-strategy-setting.mjs';
import s5 from './scenarios/05-process-restart.mjs';
import s6 from './scenarios/06-latency.mjs';
import s7 from './scenarios/07-prefetch.mjs';
import s8 from './scenarios/08-suggest-widget.mjs';
import s9 from './scenarios/09-hub-model.mjs';
import s10 from './scenarios/10-install-model.mjs';
import s11 from './scenarios/11-remote-serve.mjs';
import s12 from './scenarios/12-typing-session.mjs';
import s13 from './scenarios/13-next-edit.mjs';
import { startLoopbackHub } from './lib/hub.mjs';

const scenarios = [s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, s12, s13];

// ------------------------------------------------------------------------------------------------ main
async function main() {
  const t0 = Date.now();
  console.log(`e2e: Superdraft in code-server ${CODE_SERVER_VERSION} + Debian chromium`);
  checkTools();
  const vsix = findVsix();
  console.log(`e2e: vsix ${rel(vsix)} (${(statSync(vsix).size / 1048576).toFixed(1)} MiB)`);
  rmSync(RESULTS, { recursive: true, force: true });
  mkdirSync(RESULTS, { recursive: true });

  const cs = new CodeServer({ keep });
  const ctx = { cs, wb: undefined, latency: undefined, timings: {} };
  // Ctrl+C / a CI timeout: stop code-server and its children, remove the sandbox
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.once(sig, async () => {
      console.log(`\ne2e: ${sig}, stopping code-server`);
      await ctx.wb?.close().catch(() => {});
      await cs.stop().catch(() => {});
      if (!keep) cs.cleanup();
      process.exit(130);
    });
  }
  const results = [];
  let fatal;
  try {
    // SUPERDRAFT_E2E_SETTINGS='{"superdraft.prefetch": false}' adds user settings (experiments, e.g. latency with a feature off)
    const extra = process.env.SUPERDRAFT_E2E_SETTINGS ? JSON.parse(process.env.SUPERDRAFT_E2E_SETTINGS) : {};
    cs.writeSettings({ ...BASE_SETTINGS, 'files.hotExit': 'off', 'superdraft.logLevel': 'debug', ...extra });
    for (const [name, text] of Object.entries(WORKSPACE_FILES)) writeFileSync(join(cs.workspace, name), text);
    let t = Date.now();
    const inst = cs.installExtension(vsix);
    ctx.extensionFolder = inst.folders.find((f) => basename(f).startsWith('superdraft.superdraft')) ?? inst.folders[0];
    ctx.timings.installMs = Date.now() - t;
    console.log(`e2e: installed in ${ctx.timings.installMs} ms → ${ctx.extensionFolder}`);
    // the loopback Hub for scenario 10: code-server's extension host inherits HF_ENDPOINT
    ctx.hub = await startLoopbackHub(cs.dir);
    process.env.HF_ENDPOINT = ctx.hub.url;
    console.log(`e2e: loopback Hub at ${ctx.hub.url}`);
    await cs.start();
    ctx.timings.codeServerStartMs = cs.startMs;
    console.log(`e2e: code-server listening in ${cs.startMs} ms (${cs.url})`);
    t = Date.now();
    ctx.wb = await Workbench.launch({ url: cs.url });
    ctx.timings.workbenchMs = Date.now() - t;
    console.log(`e2e: workbench loaded in ${ctx.timings.workbenchMs} ms`);
  } catch (e) {
    fatal = e;
  }

  if (!fatal) {
    for (const sc of scenarios) {
      if (only && !only.has(sc.id)) continue;
      const s = new Scenario(sc.id, sc.title);
      const st = Date.now();
      console.log(`\n[${sc.id}] ${sc.title}`);
      try {
        await sc.fn(s, ctx);
        results.push({ id: sc.id, title: sc.title, ok: true, ms: Date.now() - st, screenshots: s.screenshots.map(rel), notes: s.notes, steps: s.steps });
        console.log(`  PASS [${sc.id}] in ${((Date.now() - st) / 1000).toFixed(1)} s`);
      } catch (e) {
        const step = e instanceof StepError ? e.step : s.currentStep;
        const failShot = shot(`${sc.id}-FAILED`);
        let shotOk = true;
        await ctx.wb.screenshot(failShot).catch(() => { shotOk = false; });
        const status = await superdraftStatus(ctx.wb).catch(() => '?');
        results.push({ id: sc.id, title: sc.title, ok: false, ms: Date.now() - st, step, error: String(e.cause?.message ?? e.message), screenshot: shotOk ? rel(failShot) : undefined, notes: s.notes, steps: s.steps });
        console.log(`  FAIL [${sc.id}] at step "${step}"`);
        console.log(`  error: ${e.cause?.stack ?? e.cause?.message ?? e.message}`);
        console.log(`  status bar: ${status}`);
        console.log(`  screenshot: ${shotOk ? rel(failShot) : '(could not take one)'}`);
        console.log(`  log tail:\n${indent(cs.logTail(30))}`);
        // leave a clean editor for the next scenario
        await ctx.wb.page.keyboard.press('Escape').catch(() => {});
        await ctx.wb.page.keyboard.press('Escape').catch(() => {});
      }
    }
  }

  if (ctx.wb) await ctx.wb.close();
  await cs.stop();
  await ctx.hub?.stop();
  if (fatal || results.some((r) => !r.ok)) {
    // keep the logs of a failed run
    const logDir = join(RESULTS, 'logs');
    mkdirSync(logDir, { recursive: true });
    if (existsSync(cs.logFile)) copyFileSync(cs.logFile, join(logDir, 'code-server.log'));
    for (const f of cs.findLogs(/\.log$/)) {
      const name = relative(join(cs.userData, 'logs'), f).replace(/[\\/]/g, '__');
      copyFileSync(f, join(logDir, name));
    }
  }
  if (!keep) cs.cleanup();
  else console.log(`e2e: sandbox kept at ${cs.dir}`);

  const summary = {
    ok: !fatal && results.length > 0 && results.every((r) => r.ok),
    seconds: Math.round((Date.now() - t0) / 1000),
    codeServer: CODE_SERVER_VERSION,
    vsix: rel(vsix),
    timings: ctx.timings,
    fatal: fatal ? String(fatal.stack ?? fatal) : undefined,
    scenarios: results,
    latency: ctx.latency ? { completions: ctx.latency.completions, excludingTypedAsSuggested: ctx.latency.excludingTypedAsSuggested, misses: ctx.latency.misses } : undefined,
  };
  writeFileSync(join(RESULTS, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');

  console.log('\n========== e2e summary ==========');
  if (fatal) {
    console.log(`SETUP FAILED: ${fatal.stack ?? fatal}`);
    console.log(`log tail:\n${indent(cs.logTail(40))}`);
  }
  for (const r of results) {
    console.log(`${r.ok ? 'PASS' : 'FAIL'}  [${r.id}] ${r.title} (${(r.ms / 1000).toFixed(1)} s)${r.ok ? '' : `\n        step: ${r.step}\n        error: ${r.error.split('\n')[0]}\n        screenshot: ${r.screenshot ?? '-'}`}`);
  }
  if (ctx.latency) {
    const l = ctx.latency.completions;
    console.log(`latency: ${l.count} completions, keystroke→ghost text p50 ${l.p50} ms, p95 ${l.p95} ms → ${rel(join(RESULTS, 'latency.json'))}`);
  }
  const passed = results.filter((r) => r.ok).length;
  console.log(`${passed}/${results.length} scenarios passed in ${summary.seconds} s; artifacts in ${rel(RESULTS)}`);
  process.exitCode = summary.ok ? 0 : 1;
}

function indent(t) {
  return t.split('\n').map((l) => `    ${l}`).join('\n');
}

main().catch((e) => {
  console.error(`e2e: ${e.stack ?? e}`);
  process.exitCode = 1;
});
