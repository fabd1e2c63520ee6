#!/usr/bin/env bash
# Superdraft model pipeline: corpus -> tokenizer -> ngrams -> train -> export -> quantize -> evaluate -> write.
#
#   npm run train-model                      # all stages; finished stages are skipped
#   bash training/run.sh train export        # only these stages (in pipeline order)
#   SD_FORCE=1 bash training/run.sh corpus   # redo a finished stage
#
# 'lines' runs only when SD_LINE_EVAL names a JSONL of {path,prefix,suffix,expected} rest-of-line cases (evaluation
# only, e.g. ../shared/eval/dev-line-completion.jsonl; SD_LINE_EVAL_LIMIT caps the count) and adds it to the card.
# Settings (environment): SD_TRAIN_MINUTES (default 95, wall-clock training budget), SD_PRESET (mini),
# SD_THREADS (2), SD_WORK (training/work). Training resumes from its last verified checkpoint when restarted.
# Every stage's duration is recorded in training/work/durations.json.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
WORK="${SD_WORK:-$HERE/work}"
PY="${SD_PYTHON:-/usr/bin/python3}"
export SD_WORK="$WORK" OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
STAGES_ALL=(corpus tokenizer ngrams train export quantize evaluate write lines)

die() { echo "run.sh: $*" >&2; exit 1; }

check_deps() {
  [ -x "$PY" ] || die "Debian python not found at $PY (set SD_PYTHON). The pyenv python3 first on PATH lacks torch."
  local missing
  missing="$("$PY" - <<'EOF'
import importlib
out = []
for mod, pkg in (("torch", "python3-torch"), ("onnx", "python3-onnx"), ("regex", "python3-regex"), ("numpy", "python3-numpy")):
    try:
        importlib.import_module(mod)
    except Exception:
        out.append(pkg)
print(" ".join(out))
EOF
)" || die "cannot run $PY"
  [ -z "$missing" ] || die "missing Python packages: $missing (apt-get install -y $missing libopenblas0-pthread)"
  local libs
  libs="$(ldconfig -p 2>/dev/null || true)"
  if [[ "$libs" != *libopenblas* ]]; then
    die "OpenBLAS is missing (apt-get install -y libopenblas0-pthread); CPU training would be far slower"
  fi
  command -v node >/dev/null || die "node is required for the evaluate stage and npm pack"
  [ -d "$ROOT/node_modules/onnxruntime-node" ] || die "onnxruntime-node is not installed (npm install at the project root)"
}

need() { for f in "$@"; do [ -e "$f" ] || die "stage input missing: $f (run the earlier stage first)"; done; }

record() { # stage seconds
  "$PY" - "$WORK/durations.json" "$1" "$2" <<'EOF'
import json, os, sys
p, stage, sec = sys.argv[1], sys.argv[2], float(sys.argv[3])
d = json.load(open(p)) if os.path.exists(p) else {}
d[stage] = round(sec, 1)
json.dump(d, open(p + ".tmp", "w"), indent=1); os.replace(p + ".tmp", p)
EOF
}

stage_corpus() {
  mkdir -p "$WORK/npm"
  if [ -z "$(ls -A "$WORK/npm" 2>/dev/null)" ]; then
    (cd "$WORK/npm" && npm pack --silent --pack-destination . $(grep -v '^#' "$HERE/npm-packages.txt") >/dev/null) \
      || echo "run.sh: npm pack failed for some packages; continuing with what was fetched" >&2
  fi
  "$PY" "$HERE/corpus.py"
}
stage_tokenizer() { need "$WORK/corpus/files.jsonl"; "$PY" "$HERE/tokenizer.py"; }
stage_ngrams() { need "$WORK/tokens/train.u16"; "$PY" "$HERE/ngrams.py"; }
stage_train() {
  need "$WORK/tokens/train.u16" "$WORK/tokenizer/merges.json"
  nice -n "${SD_NICE:-5}" "$PY" -u "$HERE/train.py" --preset "${SD_PRESET:-mini}" --minutes "${SD_TRAIN_MINUTES:-95}" \
    --threads "${SD_THREADS:-2}"
}
stage_export() { need "$WORK/train/ckpt.pt"; "$PY" "$HERE/export.py"; }
stage_quantize() { need "$WORK/export/model_fp32.onnx"; "$PY" "$HERE/quantize.py"; }
stage_evaluate() {
  need "$WORK/export/model_fp32.onnx" "$WORK/train/ckpt.pt"
  "$PY" "$HERE/evaluate.py"
}
stage_write() { need "$WORK/export/model_fp32.onnx" "$WORK/ngrams/ngrams.bin"; "$PY" "$HERE/write_model.py"
  local f
  for f in $("$PY" -c "import json,sys; print(' '.join(sorted(set(json.load(open(sys.argv[1]))['superdraft']['onnx']['variants'].values()))))" "$ROOT/models/default/config.json"); do
    (cd "$ROOT" && node "$HERE/verify_onnx.mjs" models/default "$f") || die "verification of models/default/$f failed"
  done; }

stage_lines() {
  if [ -z "${SD_LINE_EVAL:-}" ]; then echo "run.sh: lines: SD_LINE_EVAL not set, skipped"; return 0; fi
  need "$SD_LINE_EVAL" "$ROOT/models/default/config.json"
  mkdir -p "$WORK/eval"
  (cd "$ROOT" && node "$HERE/eval_lines.mjs" models/default "$SD_LINE_EVAL" ${SD_LINE_EVAL_LIMIT:-}) > "$WORK/eval/lines.json.tmp"
  mv "$WORK/eval/lines.json.tmp" "$WORK/eval/lines.json"
  "$PY" "$HERE/write_model.py"
}

main() {
  check_deps
  mkdir -p "$WORK"
  local want=("$@")
  [ ${#want[@]} -gt 0 ] || want=("${STAGES_ALL[@]}")
  for w in "${want[@]}"; do
    [[ " ${STAGES_ALL[*]} " == *" $w "* ]] || die "unknown stage '$w' (stages: ${STAGES_ALL[*]})"
  done
  for s in "${STAGES_ALL[@]}"; do
    [[ " ${want[*]} " == *" $s "* ]] || continue
    if [ -e "$WORK/.done-$s" ] && [ -z "${SD_FORCE:-}" ] && [ $# -eq 0 ]; then
      echo "== $s: done earlier (SD_FORCE=1 or name the stage to redo)"; continue
    fi
    echo "== $s"
    local t0=$SECONDS
    "stage_$s"
    record "$s" $((SECONDS - t0))
    touch "$WORK/.done-$s"
  done
}
main "$@"
