/**
 * The `superdraft` command: complete, bench, eval, demo, doctor, serve, loadtest, model (one file each under commands/, model.ts). Commands use
 * the engine facade (src/engine/engine.ts), the installer (src/install) and graph preparation (src/prepare); never the
 * extension.
 * `--json` prints exactly one JSON object on stdout; progress and logs go to stderr.
 * Exit codes: 0 ok, 1 runtime error (model load, inference, I/O), 2 usage error (bad flags or input), 130 interrupted.
 * This file is the bin entry (dist/cli.js): importing it runs the command line; the commands import nothing from it.
 */
import { EngineError } from '../engine/engine';
import { ModelInstallError } from '../install/errors';
import { safeMessage } from '../protocol/redact';
import { RemoteError } from '../remote/errors';
import { cmdBench } from './commands/bench';
import { cmdComplete } from './commands/complete';
import { cmdDemo } from './commands/demo';
import { cmdDoctor } from './commands/doctor';
import { cmdEval } from './commands/eval';
import { UsageError } from './files';
import { COMMAND_OPTIONS, parse, type Command } from './flags';
import { HELP, VERSION } from './help';
import { abortActive } from './run';

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd) {
    process.stderr.write(HELP.main + '\n');
    return 2;
  }
  if (cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(HELP.main + '\n');
    return 0;
  }
  if (cmd === '--version' || cmd === '-v') {
    process.stdout.write(VERSION + '\n');
    return 0;
  }
  if (cmd === 'model') return (await import('./model')).runModelCommand(rest);
  if (!(cmd in COMMAND_OPTIONS)) throw new UsageError(`unknown command ${JSON.stringify(cmd)} (expected complete, eval, bench, demo, doctor, serve, loadtest or model; see superdraft --help)`);
  const command = cmd as Command;
  const flags = parse(command, rest);
  if (flags.help) {
    process.stdout.write(HELP[command] + '\n');
    return 0;
  }
  switch (command) {
    case 'complete':
      return cmdComplete(flags);
    case 'eval':
      return cmdEval(flags);
    case 'bench':
      return cmdBench(flags);
    case 'demo':
      if (flags.backend !== undefined && flags.backend !== 'local') throw new UsageError('demo runs the local engine; for a server use complete, eval or bench with --backend');
      return cmdDemo(flags);
    case 'serve':
      return (await import('./commands/serve')).cmdServe(flags);
    case 'loadtest':
      return (await import('./commands/loadtest')).cmdLoadtest(flags);
    case 'doctor':
      return cmdDoctor(flags);
  }
}

function exitCodeOf(e: unknown): number {
  if (e instanceof UsageError) return 2;
  if (e instanceof ModelInstallError) return e.code === 'bad_input' ? 2 : e.code === 'cancelled' ? 130 : 1;
  if (e instanceof EngineError) return e.code === 'invalid_request' ? 2 : e.code === 'cancelled' ? 130 : 1;
  if (e instanceof RemoteError) return e.code === 'cancelled' ? 130 : 1;
  return 1;
}

{
  process.on('SIGINT', () => {
    if (!abortActive()) process.exit(130);
  });
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      const code = exitCodeOf(e);
      // One redaction for every error that reaches the terminal: URL credentials, tokens, control characters.
      const msg = safeMessage(e instanceof Error ? e.message : String(e), [process.env.HF_TOKEN, process.env.SUPERDRAFT_API_KEY]);
      process.stderr.write(`superdraft: ${code === 2 ? 'usage error: ' : 'error: '}${msg}\n`);
      if (code === 2) process.stderr.write('(see superdraft --help)\n');
      else if (process.env.SUPERDRAFT_DEBUG && e instanceof Error && e.stack) process.stderr.write(safeMessage(e.stack, [process.env.HF_TOKEN, process.env.SUPERDRAFT_API_KEY]) + '\n');
      process.exitCode = code;
    },
  );
}
