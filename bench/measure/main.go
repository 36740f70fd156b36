// Command measure runs a command and reports its wall time and peak
// resident set size, for bench/run.sh:
//
//	measure [-o FILE] CMD ARGS...  prints "WALL_SECONDS MAXRSS_KIB" on stderr
//	measure -cpu CMD ARGS...       prints "WALL_SECONDS MAXRSS_KIB CPU_SECONDS"
//
// The command's stdout goes to FILE (default: discarded), its stderr to
// ours. Wall time covers the whole process, start to exit; the peak RSS is
// the child's ru_maxrss from wait4. With -cpu, CPU_SECONDS is the user and
// system time of the command and of every process it waited for (a shell
// starting several processes and waiting for them, a Python program
// joining its workers). /usr/bin/time -v gives the same RSS
// but only 10 ms of wall-time resolution, too coarse for runs at N=10^5.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

func main() {
	out := flag.String("o", "", "write the command's stdout to `FILE`")
	cpu := flag.Bool("cpu", false, "also print the user+system CPU seconds of the command and what it waited for")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: measure [-o FILE] CMD ARGS...")
		os.Exit(2)
	}
	cmd := exec.Command(flag.Arg(0), flag.Args()[1:]...)
	cmd.Stderr = os.Stderr
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			fmt.Fprintln(os.Stderr, "measure:", err)
			os.Exit(2)
		}
		defer f.Close()
		cmd.Stdout = f
	}
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		fmt.Fprintf(os.Stderr, "measure: %s: %v\n", flag.Arg(0), err)
		os.Exit(1)
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if *cpu {
		used := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		fmt.Fprintf(os.Stderr, "%.6f %d %.6f\n", wall.Seconds(), ru.Maxrss, used.Seconds())
		return
	}
	fmt.Fprintf(os.Stderr, "%.6f %d\n", wall.Seconds(), ru.Maxrss)
}
