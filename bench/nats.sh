#!/usr/bin/env bash
# bench/nats.sh: pcrun's NATS queues against the plain nats.go program of
# bench/ref/natsraw and against the Python seed (bench/ref/python/w1.py,
# multiprocessing.Queue), on W1 and W3 (bench/w1-nats.yaml, w3-nats.yaml).
#
#   bench/nats.sh                       W1 and W3 at N=200000, 9 pairs
#   N=50000 PAIRS=5 WORKLOADS=w1 bench/nats.sh
#
# It builds pcrun, natsraw and bench/measure, starts one `pcrun broker` on
# a free loopback port with a fresh store (removed at exit), and for each
# workload runs, PAIRS times and in this order:
#
#   pcrun   pcrun run FILE: every stage in one process (it owns its
#           queues: their streams are purged when it starts)
#   split   the same file over 3 processes (`pcrun run --only`), each
#           pair's with a run id of its own (--run-id): W1 two processes
#           of 2 consumers each and the producer; W3 one process for
#           cook, one for eat, and the producer. All three start
#           together, the consumers first (they wait for their
#           producer); the time counts from the first start to the last
#           exit
#   natsraw bench/ref/natsraw (makes its streams anew each run)
#   python  the Python seed's W1 (W1 only)
#
# Each run is timed by bench/measure from start to exit; CPU is the
# user+sys time of the run's processes (the three of a split run, the
# Python program's workers), and broker CPU is what the broker process
# used meanwhile (from /proc), both per item. The table gives the median
# items/s and CPU ns/item of each, and the medians of the pairwise ratios
# (items/s of pcrun or split over natsraw's and python's in the same
# pair; > 1 means pcrun is faster). RAW=FILE keeps every run's numbers.
#
# REV=REV runs pcrun as it was at git revision REV instead (the figures
# before a change): `REV=main N=50000 PAIRS=3 bench/nats.sh`.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-200000}
PAIRS=${PAIRS:-9}
WORKLOADS=${WORKLOADS:-"w1 w3"}
export GOMAXPROCS=${GOMAXPROCS:-$(nproc)}
RAW=${RAW:-/dev/null}

tmp=$(mktemp -d)
broker=
cleanup() {
	[[ -n $broker ]] && kill "$broker" 2>/dev/null && wait "$broker" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
if [[ -n ${REV:-} ]]; then
	mkdir "$tmp/base"
	git archive "$REV" | tar -x -C "$tmp/base"
	(cd "$tmp/base" && go build -o "$tmp/pcrun" ./cmd/pcrun)
else
	go build -o "$tmp/pcrun" ./cmd/pcrun
fi
go build -o "$tmp/measure" ./bench/measure
go build -o "$tmp/natsraw" ./bench/ref/natsraw

"$tmp/pcrun" broker --port 0 --store-dir "$tmp/store" 2>"$tmp/broker.log" &
broker=$!
url=
for _ in $(seq 100); do
	url=$(sed -n 's/.*broker ready at \(nats:[^;]*\);.*/\1/p' "$tmp/broker.log")
	[[ -n $url ]] && break
	sleep 0.1
done
[[ -n $url ]] || { cat "$tmp/broker.log" >&2; echo "nats.sh: the broker did not start" >&2; exit 1; }

# ticks: the broker's user+sys CPU so far, in clock ticks.
ticks() { awk '{ print $14 + $15 }' "/proc/$broker/stat"; }
hz=$(getconf CLK_TCK)

# one NAME CMD...: runs CMD under measure and prints
# "NAME WALL_SECONDS CPU_SECONDS BROKER_SECONDS".
one() {
	local name=$1 t0 t1 m
	shift
	t0=$(ticks)
	"$tmp/measure" -cpu "$@" >"$tmp/out" 2>"$tmp/err" || { cat "$tmp/err" >&2; exit 1; }
	t1=$(ticks)
	m=$(tail -n 1 "$tmp/err")
	echo "$name $(echo "$m" | cut -d' ' -f1) $(echo "$m" | cut -d' ' -f3) $(awk -v a="$t0" -v b="$t1" -v hz="$hz" 'BEGIN { print (b - a) / hz }')"
}

# split W N K: the workload over 3 processes started together, as one
# shell that waits for them (measure counts the CPU of all three), as
# run K with a run id of its own: the consumers wait for their producer.
split() {
	local w=$1 n=$2 k=$3 others
	local run="$tmp/pcrun run -q --run-id bench-$k --set broker=$url --set n=$n" file="bench/$w-nats.yaml"
	if [[ $w == w1 ]]; then
		others="$run --only c --set readers=2 $file & b=\$!; $run --only c --set readers=2 $file & c=\$!"
	else
		others="$run --only cook $file & b=\$!; $run --only eat $file & c=\$!"
	fi
	cat >"$tmp/split.sh" <<SCRIPT
set -u
$others
$run --only p $file & a=\$!
wait \$a && wait \$b && wait \$c
SCRIPT
	one split bash "$tmp/split.sh"
}

echo "GOMAXPROCS=$GOMAXPROCS pairs=$PAIRS N=$N $(go version | cut -d' ' -f3) $(uname -m) $(python3 --version)${REV:+ pcrun at $REV}"
printf '%-4s %-8s %10s %10s %10s %10s %12s %12s\n' w run "items/s" "CPU ns/it" "broker ns" "total ns" "/natsraw" "/python"
for w in $WORKLOADS; do
	for k in $(seq "$PAIRS"); do
		one pcrun "$tmp/pcrun" run -q --set "broker=$url" --set "n=$N" "bench/$w-nats.yaml"
		split "$w" "$N" "$w-$k"
		one natsraw "$tmp/natsraw" -w "$w" -url "$url" "$N"
		if [[ $w == w1 ]]; then one python python3 bench/ref/python/w1.py "$N"; fi
	done | awk -v w="$w" '{ print w, $0 }' | tee -a "$RAW" >"$tmp/runs"
	awk -v w="$w" -v n="$N" '
		function median(a, k,   i, j, t) {
			for (i = 2; i <= k; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
			return k % 2 ? a[(k+1)/2] : (a[k/2] + a[k/2+1]) / 2
		}
		# Every run of a pair precedes the next pair: a pair ends with
		# its natsraw run (W3) or python run (W1).
		{ r = $2; k = ++c[r]; rate[r, k] = n / $3; cpu[r, k] = 1e9 * $4 / n; brk[r, k] = r == "python" ? 0 : 1e9 * $5 / n }
		END {
			split("pcrun split natsraw python", order, " ")
			for (o = 1; o <= 4; o++) {
				r = order[o]; k = c[r]
				if (!k) continue
				delete a; delete b; delete d; delete t; delete x; delete y
				for (i = 1; i <= k; i++) {
					a[i] = rate[r, i]; b[i] = cpu[r, i]; d[i] = brk[r, i]; t[i] = cpu[r, i] + brk[r, i]
					x[i] = rate[r, i] / rate["natsraw", i]
					if (c["python"]) y[i] = rate[r, i] / rate["python", i]
				}
				vs = r == "python" ? "-" : sprintf("%.2fx", median(x, k))
				vp = c["python"] ? sprintf("%.2fx", median(y, k)) : "-"
				br = r == "python" ? "-" : sprintf("%.0f", median(d, k))
				printf "%-4s %-8s %10.0f %10.0f %10s %10.0f %12s %12s\n", w, r, median(a, k), median(b, k), br, median(t, k), vs, vp
			}
		}' "$tmp/runs"
done
