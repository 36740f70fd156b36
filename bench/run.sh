#!/usr/bin/env bash
# bench/run.sh: pcrun against the hand-written Go reference programs of
# bench/ref, on the workloads of issue 6 (bench/w1.yaml ... w4.yaml).
#
#   bench/run.sh                      every workload at N = 10^5, 10^6, 10^7
#   NS="1000000" WORKLOADS="w1 w4" PAIRS=7 bench/run.sh
#
# It builds pcrun and the references, then for each workload and N runs
# them alternately, pcrun then reference, PAIRS times (default 5), with the
# same GOMAXPROCS (default: nproc). Each run is a whole process, timed from
# start to exit by bench/measure, which also reads its peak RSS; pcrun runs
# with -q, stdout goes to a file (W4 prints every item there; the line
# count is checked). The table gives the median items/s of each, the
# median of the pairwise ratios pcrun/reference (items/s, so > 1 means
# pcrun is faster), and the largest peak RSS of each. RAW=FILE keeps every
# run's numbers.
#
# AGAINST=REV compares pcrun with pcrun as it was at git revision REV
# instead of with the references (an A/B of a change, same workloads, same
# pairs): `AGAINST=main~3 NS=1000000 PAIRS=7 bench/run.sh`.
#
# N is the number of items the producers make in all: each workload's var
# `n`, which its counts are templates of (`count: "${n}"`, or
# "${int(n / 2)}" for each of W2's two producers), set with `--set n=N`.
set -euo pipefail
cd "$(dirname "$0")/.."

NS=${NS:-"100000 1000000 10000000"}
PAIRS=${PAIRS:-5}
WORKLOADS=${WORKLOADS:-"w1 w2 w3 w4"}
export GOMAXPROCS=${GOMAXPROCS:-$(nproc)}
RAW=${RAW:-/dev/null}
AGAINST=${AGAINST:-}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/pcrun" ./cmd/pcrun
go build -o "$tmp/measure" ./bench/measure
for w in $WORKLOADS; do
	go build -o "$tmp/ref-$w" "./bench/ref/$w"
done
if [[ -n $AGAINST ]]; then
	mkdir "$tmp/base"
	git archive "$AGAINST" | tar -x -C "$tmp/base"
	(cd "$tmp/base" && go build -o "$tmp/base-pcrun" ./cmd/pcrun)
fi

# ref runs the reference of workload $1 for N items ($2), or, with AGAINST,
# the base pcrun on the same file.
ref() {
	if [[ -n $AGAINST ]]; then
		one "$3" "$tmp/base-pcrun" run -q --set "n=$4" "bench/$1.yaml"
	else
		one "$3" "$tmp/ref-$1" "$2"
	fi
}

# one RUN: prints "WALL_SECONDS MAXRSS_KIB" for one process.
one() {
	local lines=$1
	shift
	"$tmp/measure" -o "$tmp/out" "$@" 2>"$tmp/err" || { cat "$tmp/err" >&2; exit 1; }
	if [[ $lines -gt 0 ]] && [[ $(wc -l <"$tmp/out") -ne $lines ]]; then
		echo "run.sh: $*: $(wc -l <"$tmp/out") lines on stdout, want $lines" >&2
		exit 1
	fi
	tail -n 1 "$tmp/err"
}

against=ref
[[ -n $AGAINST ]] && against="base"
echo "GOMAXPROCS=$GOMAXPROCS pairs=$PAIRS $(go version | cut -d' ' -f3) $(uname -m)${AGAINST:+ base=$AGAINST}"
printf '%-8s %9s %14s %14s %13s %10s %10s\n' workload N "pcrun items/s" "$against items/s" "pcrun/$against" "pcrun RSS" "$against RSS"
for w in $WORKLOADS; do
	for n in $NS; do
		half=$((n / 2))
		items=$n
		[[ $w == w2 ]] && items=$((2 * half))
		lines=0
		[[ $w == w4 ]] && lines=$items
		for _ in $(seq "$PAIRS"); do
			a=$(one "$lines" "$tmp/pcrun" run -q --set "n=$n" "bench/$w.yaml")
			b=$(ref "$w" "$items" "$lines" "$n")
			echo "$w $items $a $b" | tee -a "$RAW"
		done >"$tmp/runs"
		awk -v w="$w" -v n="$items" '
			function median(a, k,   i, j, t) {
				for (i = 2; i <= k; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
				return k % 2 ? a[(k+1)/2] : (a[k/2] + a[k/2+1]) / 2
			}
			{ k++; pa[k] = n / $3; pb[k] = n / $5; r[k] = $5 / $3
			  if ($4 > ra) ra = $4; if ($6 > rb) rb = $6 }
			END {
				printf "%-8s %9d %14.0f %14.0f %12.2fx %6.1f MiB %6.1f MiB\n", w, n, median(pa, k), median(pb, k), median(r, k), ra / 1024, rb / 1024
			}' "$tmp/runs"
	done
done
