#!/usr/bin/env bash
# The project's test command (`make test`; CI runs it through .ci/run). Checks, in order:
#  1. nbdev_export leaves mgnb/ unchanged (library and notebooks agree);
#  2. nbdev_clean leaves nbs/ unchanged (no outputs or metadata noise);
#  3. every dvc.yaml stage depends on each mgnb module its notebook imports, transitively (scripts/check_dvc_deps.py);
#  4. every library notebook passes nbdev_test (cells flagged slow/gpu are skipped);
#     the docs site builds (`make docs`: those notebooks executed and rendered with outputs, scripts/build_docs.py);
#  5. the smoke pipeline (configs/smoke.yaml) runs end to end with `dvc repro` in a scratch copy (a git repository of
#     its own, so committed outputs are untouched) and must fine-tune in CMPL, then one `dvc exp run -S` experiment on top of it.
# It ends with the line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH" MPLBACKEND=Agg MGNB_PROGRESS=0 OMP_WAIT_POLICY=PASSIVE
passed=0; failed=0; failures=()
record() {  # record NAME STATUS
  if [ "$2" -eq 0 ]; then passed=$((passed + 1)); echo "PASS  $1"
  else failed=$((failed + 1)); failures+=("$1"); echo "FAIL  $1"; fi
}
# logs in a folder of this run (two runs on one machine must not share them)
logs=$(mktemp -d)
tree_hash() { find "$@" -type f -not -path '*/__pycache__/*' -print0 | sort -z | xargs -0 sha1sum | sha1sum; }

before=$(tree_hash mgnb); nbdev_export; after=$(tree_hash mgnb)
[ "$before" == "$after" ]; s=$?
[ $s -eq 0 ] || echo "nbdev_export changed mgnb/: the library was out of date with the notebooks (commit the export)"
record "library in sync with notebooks (nbdev_export)" $s

before=$(tree_hash nbs); nbdev_clean; after=$(tree_hash nbs)
[ "$before" == "$after" ]; s=$?
[ $s -eq 0 ] || echo "nbdev_clean changed nbs/: notebooks carried outputs or metadata (commit the cleaned notebooks)"
record "notebooks clean (nbdev_clean)" $s

python scripts/readme.py --check; record "README.md generated from nbs/index.ipynb" $?

python scripts/check_params.py; record "parameter sets valid (params.yaml, configs/)" $?

python scripts/check_dvc_deps.py; record "dvc.yaml stages depend on every mgnb module their notebooks run" $?

for nb in nbs/*.ipynb; do
  start=$(date +%s)
  nbdev_test --path "$nb" > "$logs/test.log" 2>&1; s=$?
  [ $s -eq 0 ] || tail -40 "$logs/test.log"
  record "nbdev_test $nb ($(( $(date +%s) - start ))s)" $s
done

# the docs site (`make docs`): the builder's self-test, then every library notebook executed and rendered into _site/
python scripts/build_docs.py --check > "$logs/docs.log" 2>&1; s=$?
[ $s -eq 0 ] || tail -30 "$logs/docs.log"
record "docs builder self-test (scripts/build_docs.py --check)" $s
start=$(date +%s)
python scripts/build_docs.py --out _site --jobs 2 > "$logs/docs.log" 2>&1; s=$?
[ $s -eq 0 ] || tail -60 "$logs/docs.log"
record "docs site built (make docs, $(( $(date +%s) - start ))s)" $s

scratch=$(mktemp -d)
git ls-files -z --cached --others --exclude-standard | xargs -0 -I{} cp --parents {} "$scratch" 2>/dev/null
(
  set -e
  cd "$scratch"
  cp configs/smoke.yaml params.yaml
  rm -rf data data.dvc dvc.lock reports
  start=$(date +%s)
  git init -q .   # a repository of its own, so that `dvc exp run` works as it does for a user
  mgnb synth data --params params.yaml
  dvc add -q data
  git add -A && git -c user.name=mgnb-test -c user.email=test@mgnb.invalid commit -qm "smoke baseline"
  dvc repro
  python -c "import json; m = json.load(open('reports/metrics.json')); assert m['J']['test']['n'] > 0, m; assert m['final']['test']['n'] > 0, m; print('smoke metrics:', {k: round(v, 3) for k, v in m['J']['test'].items()})"
  # CMPL must select clips and fine-tune on them (smoke cmpl.tau is 0), or CI would not run that path
  python -c "import pandas as pd; r = pd.read_csv('build/cmpl/rounds.csv'); f = pd.read_csv('build/cmpl/final.csv'); assert (r.pseudo > 0).all() and r.retrained.all(), r; assert f.logits.str.startswith('build/cmpl/').all(), f; print('smoke CMPL rounds:', r.to_dict('records'))"
  test -s reports/summary.md
  test -s reports/fusion/confusion_final.png
  echo "smoke pipeline: $(( $(date +%s) - start ))s"
  # an experiment changing one knob (`dvc exp run -S`) reruns only the stages downstream of it
  start=$(date +%s)
  dvc exp run -S fuse.weight_step=0.5 > exp.log 2>&1 || { tail -30 exp.log; exit 1; }
  # explicit exits: `set -e` ignores a failure inside an && list and a negated command
  grep -q "Running stage 'fuse'" exp.log || { echo "dvc exp run did not rerun fuse"; exit 1; }
  if grep -q "Running stage 'train@" exp.log; then echo "dvc exp run retrained a stream"; exit 1; fi
  dvc exp show --no-pager --csv | python -c "import csv, sys; rows = list(csv.DictReader(sys.stdin)); assert any(r.get('fuse.weight_step') == '0.5' and r['Experiment'] for r in rows), rows"
  echo "dvc exp run -S fuse.weight_step=0.5: $(( $(date +%s) - start ))s"
) > "$logs/smoke.log" 2>&1; s=$?
[ $s -eq 0 ] && tail -4 "$logs/smoke.log" || tail -60 "$logs/smoke.log"
record "smoke pipeline (dvc repro, configs/smoke.yaml)" $s
rm -rf "$scratch"

[ ${#failures[@]} -eq 0 ] || printf 'failed: %s\n' "${failures[@]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
