#!/usr/bin/env bash
# The one prepared device call of issues 18 and 22 (one GPU, about 8 minutes):
#   1. the test sets and the training set, generated there (14 workers);
#   2. the learned solver's ablation (benchmarks/ablation.py --device cuda): every arm trains for
#      the same GPU wall budget (ARM_MIN minutes of its own synchronised steps), batch 64, bf16;
#   3. benchmarks/ablation_winner.py: the rule of benchmarks/results/ablation-18-rule.md picks the
#      winner, which is exported (the candidate shipped model) and scored on the four test sets
#      with the rho-driven error (network alone, guided, the CG control);
#   4. benchmarks/gpu_check.py (issue 22: GPU tests in suite order, bf16 training of the shipped
#      recipe for a fixed wall budget, samples/s, peak memory, host syncs, accuracy) in the
#      time that is left of TOTAL seconds.
# Everything lands in $OUT (at most 8 files): log.txt, gpu.txt, curves.jsonl, winner.json,
# gpu_check.json, winner-model.tar. Each phase has its own timeout, so one failure keeps the rest.
#     OUT=runs/gpu-session bash benchmarks/gpu_session.sh 0.7
set -u
OUT=${OUT:-runs/gpu-session}
ARM_MIN=${1:-0.7}
ARMS=${ARMS:-"refiner+aug+spectral harmonic+spectral harmonic+spectral-reflect harmonic+unet unet-regression+harmonic"}
TESTS="datasets/test-id.nc datasets/test-shift-family.nc datasets/test-shift-bc.nc datasets/test-shift-amplitude.nc"
WORKERS=${WORKERS:-14}
TOTAL=${TOTAL:-540}   # seconds for the whole call; gpu_check gets what is left
START=$(date +%s)
mkdir -p "$OUT"
log() { echo "[$(date +%T)] $*" | tee -a "$OUT/log.txt"; }
export PYTHONUNBUFFERED=1 PHYSDIFF_NO_PROGRESS=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
DEVICE=$(python -c "import torch; print('cuda' if torch.cuda.is_available() else 'cpu')")
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1
  python -c "import torch, platform; print(torch.__version__, torch.cuda.get_device_name() if torch.cuda.is_available() else 'no cuda', platform.processor())"
  nproc; } > "$OUT/gpu.txt"
log "device $DEVICE; generate"
for c in default test-id test-shift-family test-shift-bc test-shift-amplitude; do
    timeout 120 python -m physdiff.cli generate --config "$c" --workers "$WORKERS" >> "$OUT/log.txt" 2>&1 \
        || log "generate $c failed"
done
log "ablation: $ARMS, $ARM_MIN min each"
# shellcheck disable=SC2086
timeout "${ABLATION_TIMEOUT:-300}" python benchmarks/ablation.py --device "$DEVICE" --arms $ARMS \
    --minutes "$ARM_MIN" --val-every "$ARM_MIN" --batch-size 64 --n-val 64 \
    --preload-workers "$WORKERS" --out runs/gpu-abl >> "$OUT/log.txt" 2>&1 || log "ablation failed or timed out"
cp runs/gpu-abl/curves.jsonl "$OUT/" 2>/dev/null || true
log "winner"
# shellcheck disable=SC2086
timeout "${WINNER_TIMEOUT:-150}" python benchmarks/ablation_winner.py --out runs/gpu-abl \
    --export runs/gpu-abl/winner --test $TESTS --limit 256 --device "$DEVICE" --batch-size 64 \
    --json "$OUT/winner.json" >> "$OUT/log.txt" 2>&1 || log "winner failed or timed out"
[ -d runs/gpu-abl/winner ] && tar -C runs/gpu-abl -cf "$OUT/winner-model.tar" winner
left=$(( TOTAL - ($(date +%s) - START) - 15 ))
if [ -f benchmarks/gpu_check.py ] && [ "$left" -gt 90 ]; then
    log "gpu_check, $left s left"
    budget=$(python -c "print(round(($left - 10) / 60, 2))")
    timeout "$left" python benchmarks/gpu_check.py --out runs/gpu-check --minutes 0.5 \
        --budget-minutes "$budget" --train-n 4000 --test-n 256 train.batch_size=128 \
        >> "$OUT/log.txt" 2>&1 || log "gpu_check failed or timed out"
    cp runs/gpu-check/gpu_check.json "$OUT/gpu_check.json" 2>/dev/null || true
fi
log done
