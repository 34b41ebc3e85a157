// ttrpc-peer: a containerd/ttrpc (Go) peer for interop tests and benchmarks of our TypeScript
// ttRPC. Built only from Debian's golang-* packages (see ../build.sh).
//
//	ttrpc-peer server       --socket PATH [--watch-stdin]   serve ttrpc.interop.v1.Echo, print READY
//	ttrpc-peer bench-server --socket PATH [--watch-stdin]   the same service, for the benchmark
//	ttrpc-peer client       --socket PATH --scenario NAME [--calls N]   print one JSON result
//	ttrpc-peer bench-client --socket PATH [--calls N] [--concurrency C] [--warmup W] [--payload B]
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: ttrpc-peer server|bench-server|client|bench-client --socket PATH [options]")
		os.Exit(2)
	}
	mode := os.Args[1]
	flags := flag.NewFlagSet(mode, flag.ExitOnError)
	socket := flags.String("socket", "", "unix socket path")
	watchStdin := flags.Bool("watch-stdin", false, "server: exit when stdin closes")
	scenario := flags.String("scenario", "", "client: scenario name")
	calls := flags.Int("calls", 1000, "client concurrent / bench-client: number of calls")
	concurrency := flags.Int("concurrency", 1, "bench-client: calls in flight")
	warmup := flags.Int("warmup", 1000, "bench-client: calls before timing")
	payload := flags.Int("payload", 32, "bench-client: echo payload bytes")
	_ = flags.Parse(os.Args[2:])
	if *socket == "" {
		fail(fmt.Errorf("%s: --socket is required", mode))
	}

	switch mode {
	case "server", "bench-server":
		if err := runServer(*socket, *watchStdin); err != nil {
			fail(err)
		}
	case "client":
		result, err := runScenario(*socket, *scenario, *calls)
		if err != nil {
			fail(err)
		}
		printJSON(result)
	case "bench-client":
		result, err := runBenchClient(*socket, *calls, *concurrency, *warmup, *payload)
		if err != nil {
			fail(err)
		}
		printJSON(result)
	default:
		fail(fmt.Errorf("unknown mode %q", mode))
	}
}

func printJSON(v interface{}) {
	out, err := json.Marshal(v)
	if err != nil {
		fail(fmt.Errorf("encode result as JSON: %w", err))
	}
	fmt.Println(string(out))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "ttrpc-peer:", err)
	os.Exit(1)
}
