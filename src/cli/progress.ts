/**
 * The install progress bar on stderr: bytes done of total, rate and time left, the file being fetched. On a
 * terminal it redraws one line (at most 10 times a second); otherwise (a pipe, a log, CI) it prints a line every
 * 10% or every 5 seconds, whichever comes first.
 */
import { formatBytes } from '../install/errors';
import type { InstallProgress } from '../install/install';

function clock(s: number): string {
  const t = Math.round(s);
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const sec = String(t % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

export function progressLine(p: InstallProgress, width = 24): string {
  const frac = p.total > 0 ? Math.min(1, p.bytes / p.total) : 0;
  const fill = Math.round(frac * width);
  const bar = `[${'#'.repeat(fill)}${'-'.repeat(width - fill)}]`;
  const rate = p.rate > 0 ? `${formatBytes(p.rate)}/s` : '-- /s';
  const eta = p.eta !== undefined ? `${clock(p.eta)} left` : '--:-- left';
  return `${bar} ${String(Math.floor(frac * 100)).padStart(3)}%  ${formatBytes(p.bytes)} / ${formatBytes(p.total)}  ${rate}  ${eta}${p.file ? `  ${p.file}` : ''}`;
}

export function progressBar(stream: NodeJS.WriteStream = process.stderr): { update: (p: InstallProgress) => void; end: () => void } {
  const tty = stream.isTTY === true;
  let lastDraw = 0;
  let lastDecile = -1;
  let drawn = false;
  let last: InstallProgress | undefined;
  const draw = (p: InstallProgress): void => {
    const line = progressLine(p);
    if (tty) stream.write(`\r${line.slice(0, (stream.columns || 120) - 1)}\x1b[K`);
    else stream.write(line + '\n');
    drawn = true;
  };
  return {
    update(p) {
      if (p.phase === 'listing') return void stream.write('listing the repository ...\n');
      if (p.phase === 'preparing') {
        if (last && last.bytes < p.total) draw({ ...last, bytes: p.total, eta: 0 });
        if (tty && drawn) stream.write('\n');
        drawn = false;
        return void stream.write('preparing the model (superdraft model prepare) ...\n');
      }
      if (p.phase !== 'downloading') return;
      last = p;
      const now = Date.now();
      const decile = p.total > 0 ? Math.floor((10 * p.bytes) / p.total) : 0;
      if (tty ? now - lastDraw >= 100 : decile > lastDecile || now - lastDraw >= 5000) {
        lastDraw = now;
        lastDecile = decile;
        draw(p);
      }
    },
    end() {
      if (tty && drawn) stream.write('\n');
    },
  };
}
