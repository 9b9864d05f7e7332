#!/usr/bin/env bash
# The prepared device call of issue 23, item 3: the learned reconstruction prior at the
# DiffusionPDE protocol's resolution (128²), trained on one GPU, scored against the Bayes bound.
# The plan and its CPU scaling curve: BENCHMARKS.md, "128² (item 3)"; the CPU curve puts the
# GRF forward target (within 1.1x of the bound) at ~110 CPU-hours, ~25 H200-minutes.
#   1. the training pairs: `physdiff generate --config prior-128` (N pairs, W workers);
#   2. the posterior training set: `physdiff posterior-set --prior PRIOR` (random patterns;
#      PRIOR=empirical-bayes by default: at 64² the prior conditioned on the EB posterior was
#      the first level with the EB Gaussian on GRF; ~3.7 CPU-s a sample at 128², ~1.6 s with
#      PRIOR=default: the CPU-bound phase, W workers; resumable, so a second call finishes it);
#   3. `physdiff train --config posterior-cpu` on it, TRAIN_MIN minutes of wall budget (bf16
#      on the GPU through `mixed_precision: auto`), batch BATCH;
#   4. `benchmarks/bench_reconstruct.py` on the protocol (128², 500 random nodes, GRF, charges,
#      multipoles; Bayes bound, empirical-Bayes Gaussian, the trained prior on the device).
# Everything lands in $OUT: log.txt, gpu.txt, train-log.csv, reconstruct-128.json,
# prior-128-model.tar. Each phase has its own timeout, so one failure keeps the rest.
#     OUT=runs/gpu-prior bash benchmarks/gpu_prior_128.sh            # one GPU, ~9.5 minutes
#     SMOKE=1 OUT=runs/gpu-prior-smoke bash benchmarks/gpu_prior_128.sh  # CPU, ~3 minutes
set -u
OUT=${OUT:-runs/gpu-prior}
RUN=${RUN:-runs/prior128-gpu}
if [ "${SMOKE:-0}" = 1 ]; then  # every phase on a toy scale, so the script cannot rot
    N=${N:-24}; COUNT=${COUNT:-20}; TRAIN_MIN=${TRAIN_MIN:-0.1}; BATCH=${BATCH:-4}
    VAL=${VAL:-4}; PROBLEMS=${PROBLEMS:-1}; DPROBLEMS=${DPROBLEMS:-1}; STEPS=${STEPS:-2}
    FAMILIES=${FAMILIES:-grf}; DATA_DIR=${DATA_DIR:-$RUN-data}
    METHODS=${METHODS:-"gaussian-eb diffusion"}; SCORE_TIMEOUT=${SCORE_TIMEOUT:-400}
else
    N=${N:-4000}; COUNT=${COUNT:-1400}; TRAIN_MIN=${TRAIN_MIN:-3}; BATCH=${BATCH:-64}
    VAL=${VAL:-64}; PROBLEMS=${PROBLEMS:-12}; DPROBLEMS=${DPROBLEMS:-12}; STEPS=${STEPS:-10}
    FAMILIES=${FAMILIES:-"grf charges multipoles"}; DATA_DIR=${DATA_DIR:-datasets}
    METHODS=${METHODS:-"gaussian-exact gaussian-eb diffusion"}
fi
PRIOR=${PRIOR:-empirical-bayes}
WORKERS=${WORKERS:-$(( $(nproc) > 1 ? $(nproc) - 1 : 1 ))}
mkdir -p "$OUT" "$DATA_DIR"
log() { echo "[$(date +%T)] $*" | tee -a "$OUT/log.txt"; }
export PYTHONUNBUFFERED=1 PHYSDIFF_NO_PROGRESS=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
# numpy's transparent huge pages for large arrays made the 128² Gaussian posteriors spend most
# of their time in the kernel (compaction on page faults: 18 of 27 CPU-s on the 2-core VM);
# 4 KiB pages: 5 of 14 (BENCHMARKS.md, "128² (item 3)")
export NUMPY_MADVISE_HUGEPAGE=${NUMPY_MADVISE_HUGEPAGE:-0}
DEVICE=$(python -c "import torch; print('cuda' if torch.cuda.is_available() else 'cpu')")
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1
  python -c "import torch, platform; print(torch.__version__, torch.cuda.get_device_name() if torch.cuda.is_available() else 'no cuda', platform.processor())"
  nproc; } > "$OUT/gpu.txt"
PAIRS="$DATA_DIR/prior-128.nc"
POST="$DATA_DIR/posterior-128-$PRIOR.nc"
log "device $DEVICE; generate $N pairs, $WORKERS workers"
[ -f "$PAIRS" ] || timeout "${GEN_TIMEOUT:-120}" python -m physdiff.cli generate \
    --config prior-128 --n "$N" --workers "$WORKERS" --out "$PAIRS" >> "$OUT/log.txt" 2>&1 \
    || log "generate failed or timed out"
log "posterior-set, $COUNT samples, $PRIOR prior"
# resumable: a timed-out set is finished by the same command in the next call
[ -f "$POST" ] || timeout "${POST_TIMEOUT:-360}" python -m physdiff.cli posterior-set --source "$PAIRS" \
    --out "$POST" --count "$COUNT" --workers "$WORKERS" --prior "$PRIOR" >> "$OUT/log.txt" 2>&1 \
    || log "posterior-set failed or timed out"
log "train $TRAIN_MIN min, batch $BATCH"
timeout "${TRAIN_TIMEOUT:-$(python -c "print(int(60 * $TRAIN_MIN + 90))")}" python -m physdiff.cli \
    train --config posterior-cpu --data "$POST" --out "$RUN" --overwrite --device "$DEVICE" \
    train.max_minutes="$TRAIN_MIN" train.batch_size="$BATCH" data.val_samples="$VAL" \
    train.val_every=500 >> "$OUT/log.txt" 2>&1 || log "train failed or timed out"
cp "$RUN/log.csv" "$OUT/train-log.csv" 2>/dev/null || true
[ -d "$RUN/model" ] && tar -C "$RUN" -cf "$OUT/prior-128-model.tar" model
log "score on the protocol"
# shellcheck disable=SC2086
timeout "${SCORE_TIMEOUT:-200}" python benchmarks/bench_reconstruct.py --size 128 --n-obs 500 \
    --problems "$PROBLEMS" --diffusion-problems "$DPROBLEMS" --steps "$STEPS" \
    --families $FAMILIES --methods $METHODS --model "$RUN/model" \
    --device "$DEVICE" --seed 0 --out "$OUT/reconstruct-128.json" >> "$OUT/log.txt" 2>&1 \
    || log "scoring failed or timed out"
log done
