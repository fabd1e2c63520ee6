/**
 * One large LFS file through the install's download path (@huggingface/hub's resolve + storage redirect, streamed
 * to a .part file with sha256 computed on the way) from the loopback Hub in a child process: throughput, the
 * same file's plain sha256 over the disk for comparison, and the downloader's peak RSS above its start (the
 * file must stream, never sit in memory). Usage: npx tsx bench/model-download.ts [MB=256]
 */
import { fork } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { downloadVerified } from '../src/install/download';
import { LoopbackHub } from '../test/helpers/hubServer';

async function serve(dir: string): Promise<void> {
  const hub = new LoopbackHub({ 'bench/big': { dir } });
  process.send!(await hub.start());
}

async function main(): Promise<void> {
  const mb = Number(process.argv[2] ?? 256);
  const tmp = mkdtempSync(path.join(tmpdir(), 'sd-bench-dl-'));
  const repo = path.join(tmp, 'repo');
  mkdirSync(repo);
  const chunk = randomBytes(1 << 20);
  const file = path.join(repo, 'model.onnx_data');
  writeFileSync(file, Buffer.concat(Array.from({ length: mb }, () => chunk)));
  const sha = createHash('sha256');
  let t = performance.now();
  for await (const c of createReadStream(file)) sha.update(c as Buffer);
  const sha256 = sha.digest('hex');
  const hashMs = performance.now() - t;

  const child = fork(__filename, ['--serve', repo], { execArgv: process.execArgv, stdio: 'inherit' });
  const url = await new Promise<string>((r) => child.once('message', (m) => r(String(m))));
  const rss0 = process.memoryUsage().rss;
  let peak = rss0;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  t = performance.now();
  await downloadVerified({ path: 'model.onnx_data', size: statSync(file).size, sha256 }, path.join(tmp, 'out', 'model.onnx_data'), { repo: 'bench/big', revision: 'main', endpoint: url });
  const dlMs = performance.now() - t;
  clearInterval(sampler);
  child.kill();
  rmSync(tmp, { recursive: true, force: true });
  const out = {
    file_mb: mb,
    download_verify_ms: Math.round(dlMs),
    download_mb_per_s: Math.round((mb / dlMs) * 1000),
    sha256_only_ms: Math.round(hashMs),
    rss_start_mb: Math.round(rss0 / 1048576),
    rss_peak_above_start_mb: Math.round((peak - rss0) / 1048576),
  };
  process.stdout.write(JSON.stringify(out, null, 2) + '\n');
}

if (process.argv[2] === '--serve') void serve(process.argv[3]);
else void main();
