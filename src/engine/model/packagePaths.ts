/** Finding the package's own files (models/, examples/, bench/) from this file, bundled into dist/ or not. */
import * as path from 'node:path';

/** The first of `start` and its parents (at most `levels` up) that `has` accepts. */
export function findUp(start: string, has: (dir: string) => boolean, levels = 5): string | undefined {
  let dir = start;
  for (let i = 0; i < levels; i++) {
    if (has(dir)) return dir;
    dir = path.dirname(dir);
  }
  return undefined;
}
