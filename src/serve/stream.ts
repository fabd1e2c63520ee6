/**
 * `stream: true` on `POST /v1/completions`: server-sent events in OpenAI's framing. The headers go out at once (the
 * client sees 200 while its request waits in the queue); the engine returns whole drafts, so each draft is one
 * `data:` event with its text and finish_reason, then one event with `choices: []`, `usage` and the `superdraft`
 * account, then `data: [DONE]`. An error after the headers is one `data: {"error": …}` event.
 */
import type { ServerResponse } from 'node:http';
import type { CompletionResponse } from '../protocol';
import { choicesOf, newId, superdraftInfo, usageOf, type Parsed } from './api';
import { sseSend, sseStart } from './http';

export async function streamCompletion(
  pending: Promise<{ res: CompletionResponse; waitMs: number }>,
  res: ServerResponse,
  parsed: Parsed,
  model: string,
  done: (out: CompletionResponse, waitMs: number) => void,
): Promise<void> {
  sseStart(res);
  const { res: out, waitMs } = await pending;
  done(out, waitMs);
  const id = newId('cmpl');
  const created = Math.floor(Date.now() / 1000);
  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) => ({ id, object: 'text_completion', created, model, choices, ...extra });
  choicesOf(parsed, out).forEach((c, index) => sseSend(res, chunk([{ text: c.text, index, logprobs: null, finish_reason: c.finish }])));
  sseSend(res, chunk([], { usage: usageOf(out), superdraft: superdraftInfo(parsed, out, waitMs) }));
  sseSend(res, '[DONE]');
  res.end();
}
