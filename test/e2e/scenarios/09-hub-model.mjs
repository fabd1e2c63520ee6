import { execFileSync } from 'node:child_process';
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { K, shot } from '../options.mjs';
import { HUB_MODEL_FILE } from '../workspace.mjs';
import { ROOT } from '../lib/env.mjs';
import { assert, waitFor } from '../lib/harness.mjs';
import { nextDifferentDraft, panelState, settledGhost, superdraftLog, typeAndWaitGhost, writeMachineSettings } from '../helpers.mjs';

const scenario = (id, title, fn) => ({ id, title, fn });

// A model in the Hugging Face ONNX layout (the Qwen2.5-Coder replica: the family's config, tokenizer and special
// tokens, random weights), readied by `superdraft model prepare` and chosen with superdraft.modelPath.
export default scenario(9, 'A Hugging Face model (prepared Qwen2.5-Coder replica) as superdraft.modelPath: ghost text, Alt+] cycling, k drafts in the picker', async (s, ctx) => {
  const { cs, wb } = ctx;
  const dir = join(cs.dir, 'models', 'qwen2-replica');
  await s.step('copy the Qwen2.5-Coder replica and run superdraft model prepare on it', async () => {
    cpSync(join(ROOT, 'test', 'fixtures', 'replicas', 'qwen2'), dir, { recursive: true });
    const out = execFileSync(process.execPath, [join(ROOT, 'dist', 'cli.js'), 'model', 'prepare', dir], { encoding: 'utf8' });
    s.note(`prepare: ${out.trim().split('\n').pop()}`);
  });
  await s.step('set superdraft.modelPath: the inference process restarts on the replica', async () => {
    const before = (superdraftLog(cs).match(/ready on/g) ?? []).length;
    await wb.openFile(HUB_MODEL_FILE);
    // superdraft.modelPath is machine-overridable: on a remote such as code-server it is read from the machine's
    // settings (Remote settings), which VS Code watches on disk
    writeMachineSettings(cs, { 'superdraft.modelPath': dir });
    const m = await waitFor(() => {
      const log = superdraftLog(cs);
      const lines = log.match(/model .+? ready on \S+/g) ?? [];
      return lines.length > before && /Qwen/.test(lines[lines.length - 1]) ? lines[lines.length - 1] : undefined;
    }, { timeout: 60_000, what: 'the log to say the Qwen replica is ready' });
    s.note(`log: ${m}`);
  });
  let first;
  let total;
  await s.step(`type in ${HUB_MODEL_FILE}: ghost text from the replica, the toolbar shows several drafts`, async () => {
    await wb.openFile(HUB_MODEL_FILE);
    await typeAndWaitGhost(wb, 'def perimeter(r):\n    width = r.right');
    await wb.waitForHintCounter((c) => /^1\/\d+$/.test(c) && Number(c.split('/')[1]) >= 2, 20_000);
    // Typing can outrun a request: VS Code shows the typed-through draft of an earlier list until the list for the
    // final position replaces it. Cycle only through that last list.
    ({ ghost: first, counter: total } = await settledGhost(wb));
    s.note(`toolbar 1/${total}; draft 1: ${JSON.stringify(first.slice(0, 60))}`);
  });
  await s.step('Alt+] shows another draft', async () => {
    await nextDifferentDraft(s, wb, first, total);
    await wb.screenshot(shot('9-hub-model-draft-2'));
    s.screenshots.push(shot('9-hub-model-draft-2'));
    await wb.page.keyboard.press('Escape');
  });
  await s.step('the draft picker lists k drafts, each with its source', async () => {
    await wb.page.keyboard.press('Control+Alt+Enter');
    const st = await waitFor(async () => {
      const p = await panelState(wb).catch(() => undefined);
      return p && p.count >= K ? p : undefined;
    }, { timeout: 30_000, what: `the draft picker to list ${K} drafts` });
    assert(new Set(st.drafts.map((d) => d.text)).size === st.count, 'the picker lists the same draft twice');
    s.note(`picker: ${st.drafts.map((d) => JSON.stringify(d.text.slice(0, 30))).join(', ')}`);
    await wb.screenshot(shot('9-hub-model-picker'));
    s.screenshots.push(shot('9-hub-model-picker'));
    await wb.page.keyboard.press('Escape');
  });
  await s.step('restore the embedded model', async () => {
    const readyLines = () => (superdraftLog(cs).match(/model default \(model\.onnx\) ready on/g) ?? []).length;
    const before = readyLines();
    writeMachineSettings(cs, {});
    await waitFor(() => readyLines() > before, { timeout: 60_000, what: 'the embedded model to be ready again' });
    // the replica's file is still the active editor: dismiss the ghost text and save it where it is
    await wb.page.keyboard.press('Escape');
    await wb.save();
  });
});
