/** A temporary copy of a replica (test/fixtures/replicas/FAMILY), prepared as `superdraft model prepare` prepares it. */
import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { prepareModel } from '../../src/prepare/prepare';
import { REPLICAS } from './paths';

/** The copy's folder; the caller removes it (rmSync, recursive) when done. */
export function preparedReplicaCopy(family: string, prefix = `superdraft-${family}-`): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  cpSync(path.join(REPLICAS, family), dir, { recursive: true });
  prepareModel(dir);
  return dir;
}
