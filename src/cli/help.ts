/** `superdraft --help` and each command's help; the defaults shown are the ones in src/protocol/defaults.ts. */
import { DEFAULTS } from '../protocol/defaults';

export const VERSION = '0.1.0';

export const HELP: Record<'main' | 'complete' | 'eval' | 'bench' | 'demo' | 'serve' | 'loadtest' | 'doctor', string> = {
  main: `superdraft ${VERSION} — multi-draft local code completion (command line)

Usage: superdraft <command> [options]

Commands:
  complete   drafts for a cursor position in a file
  eval       line- or block-completion accuracy and latency on a JSONL case file
  bench      latency, throughput and memory of every strategy on the bundled prompt set
  demo       each strategy's drafts and timing for the bundled example file
  serve      an HTTP server over the engine: OpenAI /v1/completions, llama.cpp /infill, /health, /metrics
  loadtest   replays typists against a server (or one it starts): keystroke → drafts p50/p95, drafts/s, errors
  doctor     execution providers, the GPU adapter, what device auto picks and why, a micro-benchmark per device
  model      install PRESET|OWNER/REPO | list | remove NAME: models from the Hugging Face Hub (HF_ENDPOINT, HF_TOKEN);
             prepare DIR | info DIR [--json]: ready a Hugging Face model for every strategy; describe it

Common options:
  --model DIR      model directory, or embedded (default: the embedded model, models/default)
  --variant V      ONNX variant of the model directory: q4, fp32, … (onnx/model_V.onnx) or a file name
  --device D       auto | cpu | cuda | dml | coreml | webgpu (default ${DEFAULTS.device})
  --threads N      inference threads (default: onnxruntime's choice)
  --no-verify      superposed: skip the verification pass (rank drafts by their search score)
  --verify-tokens N  score N tokens per draft in the verification pass, 1..16 (default: chosen from measured costs)
  --no-copy        no drafts copied from the code (continuations of earlier matches in the file), model drafts only
  --json           print exactly one JSON object on stdout (progress stays on stderr)
  --verbose        engine logs on stderr
  -h, --help       help for a command: superdraft <command> --help

Remote backends (complete, eval, bench): drafts from a server you run instead of the local model
  --backend B      local | llama.cpp | ollama | openai (default local)
  --endpoint URL   the server's base URL (default: llama.cpp :8080, ollama :11434, openai :8000 on 127.0.0.1)
  --remote-model M the server's model (required for ollama; openai: default the first of GET /v1/models)
  --remote-fim F   auto | qwen | starcoder | deepseek | codellama: FIM tokens of a client-built prompt (openai,
                   and an Ollama model without suffix support); auto = from the model name
  The API key, if the server needs one, is read from SUPERDRAFT_API_KEY (sent as Authorization: Bearer; never printed).

Exit codes: 0 success, 1 runtime error, 2 usage error, 130 interrupted.`,
  complete: `Usage: superdraft complete --file F --line L --column C [options]

Completion drafts at a cursor position. Line and column are 1-based; the column counts UTF-16 code units as
VS Code does (column 1 = line start, length+1 = end of line). Files must be text under 10 MB.

Options:
  --file F             source file (required)
  --line L             1-based line of the cursor (required)
  --column C           1-based column of the cursor (required)
  --strategy S         superposed | beam | sampling | greedy (default ${DEFAULTS.strategy})
  -k K                 number of drafts, 1..16 (default ${DEFAULTS.drafts})
  --max-tokens N       1..1024 (default ${DEFAULTS.maxTokens})
  --mode M             line | block | auto (default ${DEFAULTS.mode})
  --language ID        language id (default: from the file extension)
  --no-speculative     disable lossless speculative acceleration
  --temperature T      sampling temperature (default ${DEFAULTS.temperature})
  --top-p P            nucleus top-p (default ${DEFAULTS.topP})
  --seed N             sampling seed
  --time-budget MS     latency budget: once spent, drafts end at their last complete line, or word (default: none)
  --model, --device, --threads, --no-verify, --no-copy, --json, --verbose as for every command
  --backend, --endpoint, --remote-model, --remote-fim: drafts from a server you run (see superdraft --help)`,
  eval: `Usage: superdraft eval --cases FILE.jsonl [options]

Runs each case {id, language, path, prefix, suffix, expected} (expected = rest of the cursor's line) and prints
{cases, strategy, k, top1_exact, anyk_exact, top1_edit_sim, best_edit_sim, latency_ms_p50, latency_ms_p95}.
A draft's first line is compared after trimming trailing whitespace; edit similarity is 1 - Levenshtein / max length.

--mode block scores whole blocks: each case's cursor stands after Enter on a line that opens a block and expected is
the block's body. Drafts are asked for as the editor asks there (mode auto); draft and body are compared after reading
CRLF as LF, dropping each line's trailing whitespace and trailing blank lines (indentation counts). Prints
{first_line_exact, first_line_anyk, block_exact_top1, block_exact_anyk, block_edit_sim_top1, block_edit_sim_best,
latency_ms_p50, latency_ms_p95, top1_shape: how the top draft's lines differ}. A case the editor would complete as a
line is refused, as is a multi-line expected in line mode.

Options:
  --cases FILE         JSONL case file (required)
  --strategy S         superposed | beam | sampling | greedy (default ${DEFAULTS.strategy})
  -k K                 drafts per case, 1..16 (default ${DEFAULTS.drafts})
  --limit N            first N cases only
  --max-tokens N       1..1024 (default ${DEFAULTS.maxTokens})
  --mode M             line | block | auto (default line; block: whole blocks, above; auto: asked as auto, scored as lines)
  --time-budget MS     the editor's latency budget (superdraft.latencyBudgetMs): drafts end at their last complete
                       line once MS of engine time is spent (default 0: none, the figures then do not depend on load)
  --no-speculative     disable speculative acceleration
  --seed N             base sampling seed (case i uses N + i; default 1)
  --details FILE       also write one JSON line per case (id, expected, drafts, latency) to FILE
  --model, --device, --threads, --no-verify, --no-copy, --json, --verbose as for every command
  --backend, --endpoint, --remote-model, --remote-fim: drafts from a server you run (see superdraft --help)`,
  bench: `Usage: superdraft bench [options]

Times every strategy on the committed prompt set (bench/prompts: real code, half with repetition from the context)
with fixed-length drafts (32 tokens, stop rules off): latency median and p95, tokens/s, model load time, process RSS,
and the ratios superposed k=4 / greedy, 4 sequential nucleus runs / superposed k=4, batched nucleus k=4 /
superposed k=4, speculative speed-up over greedy (tokens/s) with the count of identical outputs, and a request
after typing one more character / a cold request (KV cache reuse); and, for a model with present_delta.* outputs,
one decoding step with the append-only KV store and without it at 100, 400 and 800 context tokens. Then the device:
memory bandwidth (a STREAM-like copy) and each variant's decoding step against its roofline (roofline.*), prefill
of 256 and 1,024 tokens at 1 thread and at --threads with the context budget a 1 s cold prefill allows (cold_path.*).

Options:
  --prompts DIR        prompt set directory (default: the bundled bench/prompts)
  --repeat N           timed runs per prompt and strategy (default 2)
  --max-tokens N       draft length (default 32)
  --limit N            first N prompts only
  --peer               also run llama.cpp (bash scripts/install-peer.sh) on the model's GGUF conversion
                       (training/onnx_to_gguf.py → DIR/model-VARIANT.gguf): logits check, greedy tokens/s and 4
                       parallel sequences against ours (peer.*); says so when either is absent
  --peer-gguf FILE     the GGUF file for --peer (default DIR/model-VARIANT.gguf)
  --transfer-only      only kv_transfer: on a GPU device, bytes crossing host<->device and the step time per
                       decoding step at 64 and 256 context tokens, with the KV cache in host memory (host_kv) and
                       in device memory (device_kv); also part of the full run (null on the CPU)
  --model, --device, --threads, --no-verify, --no-copy, --json, --verbose as for every command
  --backend, --endpoint, --remote-model, --remote-fim: drafts from a server you run (see superdraft --help)`,
  demo: `Usage: superdraft demo [options]

Loads the model (default: the embedded one) and prints each strategy's drafts and timing for the bundled example
file (examples/demo.ts).

Options:
  --file F             another example file; the cursor is at the marker <|cursor|> (removed before completing)
  -k K                 drafts for the multi-draft strategies (default ${DEFAULTS.drafts})
  --max-tokens N       1..1024 (default ${DEFAULTS.maxTokens})
  --model, --device, --threads, --no-verify, --no-copy, --json, --verbose as for every command`,
  serve: `Usage: superdraft serve [--model DIR|embedded] [--host 127.0.0.1] [--port 8012] [--tokens FILE] [options]

An HTTP server over the engine for a team: POST /v1/completions (OpenAI: prompt = text before the cursor, suffix,
n = drafts, max_tokens, stop, logprobs, stream; the extra field superdraft_strategy picks the strategy; the answer's
"superdraft" field says how many decoding passes it took), GET /v1/models, POST /infill (llama.cpp: input_prefix,
input_suffix, input_extra, n_cmpl), GET /health, GET /metrics (Prometheus). Every route but /health needs
"Authorization: Bearer TOKEN" when a tokens file is given. Ctrl-C or SIGTERM stops it.

Options:
  --host H             address to bind (default 127.0.0.1); any non-loopback address needs --tokens
  --port P             port (default 8012; 0 = any free port, printed on stderr)
  --tokens FILE        one token a line, "NAME TOKEN" or "TOKEN" (16+ characters), # comments; only digests are kept
  --max-concurrent N   requests queued or running per token (default 32; without tokens: for all clients)
  --strategy S         the strategy when a request names none (default ${DEFAULTS.strategy})
  --max-body-bytes N   largest request body (default 4194304); a larger Content-Length is refused unread
  --max-prompt-chars N largest prompt + suffix + extra context (default 1048576)
  --headers-timeout-ms N, --body-timeout-ms N   time a client has to send its headers, its body (default 10000 each)
  --cache-entries N    prompt KV cache entries (default 32: one or more per typing client)
  --model, --variant, --device, --threads, --no-verify, --verbose as for every command`,
  loadtest: `Usage: superdraft loadtest [--url URL | --model DIR|embedded] [--users 1,4,16] [--strategy superposed,sampling] [options]

Replays typists against a server: each types through a real source file (bench/prompts) at a keystroke cadence,
every keystroke asks for drafts and cancels the previous request, pauses read the drafts and sometimes accept the
first one. Reports, per number of users and strategy: keystroke → drafts p50/p95 (ms), drafts/s, requests,
cancellations, accepted drafts and errors. Without --url it starts a server on loopback with --model.

Options:
  --url URL            a running superdraft serve (default: start one in this process)
  --token-file FILE    a file whose first token line is sent as the Bearer token
  --users LIST         concurrent typists, comma-separated runs (default 1,4,16)
  --strategy LIST      strategies, comma-separated runs (default superposed,sampling)
  -k K                 drafts per request (default 4)
  --max-tokens N       tokens per draft (default 24)
  --seconds S          length of each run (default 15)
  --key-ms MS          mean time between keystrokes (default 120)
  --model, --device, --threads, --json as for every command`,
  doctor: `Usage: superdraft doctor [options]

Lists the execution providers onnxruntime-node offers here and whether each is usable; the WebGPU adapter (name,
vendor, whether it is a software one such as SwiftShader or llvmpipe), found with Dawn for Node (npm package webgpu)
outside onnxruntime (onnxruntime's own Dawn asks for an adapter the same way, so with one GPU they agree; with several
they can differ); what device auto picks and why (never a software adapter); what CUDA lacks; and a micro-benchmark
(at most 5 s each) of the embedded model's decoding step on every usable device.

Options:
  --placement          also run a few forwards of the model on --device with onnxruntime's profiling and count
                       the nodes each execution provider ran (a GPU that silently leaves work to the CPU shows here)
  --no-bench           skip the micro-benchmark
  --model, --device, --json as for every command`,
};
