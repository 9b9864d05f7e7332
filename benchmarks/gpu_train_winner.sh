#!/usr/bin/env bash
# The second prepared device call of issue 18: train the ablation's winner for longer on one
# GPU (the candidate shipped model), score it on the test sets, then the GPU tests in suite
# order with the time that is left (the first call's gpu_check gave them too little).
#     OUT=runs/gpu-winner bash benchmarks/gpu_train_winner.sh harmonic+spectral-reflect 3.0
set -u
OUT=${OUT:-runs/gpu-winner}
ARM=${1:-harmonic+spectral-reflect}
MIN=${2:-3.0}
TOTAL=${TOTAL:-330}
START=$(date +%s)
mkdir -p "$OUT"
log() { echo "[$(date +%T)] $*" | tee -a "$OUT/log.txt"; }
export PYTHONUNBUFFERED=1 PHYSDIFF_NO_PROGRESS=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
log "generate"
for c in default test-id test-shift-family test-shift-bc test-shift-amplitude; do
    timeout 60 python -m physdiff.cli generate --config "$c" --workers 14 >> "$OUT/log.txt" 2>&1 \
        || log "generate $c failed"
done
log "train $ARM for $MIN GPU-minutes"
timeout 260 python benchmarks/ablation.py --device cuda --arms "$ARM" --minutes "$MIN" \
    --val-every 1.0 --batch-size 64 --n-val 64 --preload-workers 14 --out runs/gpu-winner \
    >> "$OUT/log.txt" 2>&1 || log "training failed or timed out"
cp runs/gpu-winner/curves.jsonl "$OUT/" 2>/dev/null || true
log "score"
timeout 90 python benchmarks/ablation_winner.py --out runs/gpu-winner --export runs/gpu-winner/model \
    --test datasets/test-id.nc datasets/test-shift-family.nc datasets/test-shift-bc.nc \
    datasets/test-shift-amplitude.nc --limit 256 --device cuda --batch-size 64 \
    --json "$OUT/winner.json" >> "$OUT/log.txt" 2>&1 || log "score failed or timed out"
[ -d runs/gpu-winner/model ] && tar -C runs/gpu-winner -cf "$OUT/model.tar" model
left=$(( TOTAL - ($(date +%s) - START) ))
log "GPU tests in suite order, $left s left"
if [ "$left" -gt 20 ]; then
    timeout "$left" python -m pytest -q -p no:cacheprovider tests/training/test_trainer.py \
        tests/training/test_gpu_paths.py tests/models/test_harmonic_lift.py > "$OUT/tests.txt" 2>&1
    echo "suite-order rc $?" >> "$OUT/tests.txt"
    left=$(( TOTAL - ($(date +%s) - START) ))
    [ "$left" -gt 10 ] && timeout "$left" python -m pytest -q -p no:cacheprovider -m gpu tests \
        >> "$OUT/tests.txt" 2>&1
    echo "gpu-marked rc $?" >> "$OUT/tests.txt"
fi
log done
