"""W1 as the Python seed runs it, for bench/nats.sh: one producer process
puts "watermelon %d" strings into a multiprocessing.Queue(maxsize=1000),
four consumer processes take them and check len(item) > 0, one None
sentinel per consumer. No pcrun code.

    python3 w1.py N
"""
import multiprocessing as mp
import sys

CONSUMERS = 4


def produce(q, n):
    for i in range(n):
        q.put("watermelon %d" % i)
    for _ in range(CONSUMERS):
        q.put(None)


def consume(q, counts, k):
    done = 0
    while True:
        item = q.get()
        if item is None:
            break
        if len(item) > 0:
            done += 1
    counts[k] = done


def main():
    if len(sys.argv) != 2:
        print("usage: w1.py N", file=sys.stderr)
        sys.exit(2)
    n = int(sys.argv[1])
    q = mp.Queue(maxsize=1000)
    counts = mp.Array("q", CONSUMERS)
    procs = [mp.Process(target=produce, args=(q, n))]
    procs += [mp.Process(target=consume, args=(q, counts, k)) for k in range(CONSUMERS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    if sum(counts) != n:
        print("w1.py: %d consumed, want %d" % (sum(counts), n), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
