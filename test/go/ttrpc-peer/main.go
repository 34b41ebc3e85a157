// ttrpc-peer: a containerd/ttrpc (Go) peer for interop tests and benchmarks of our TypeScript
// ttRPC. Built only from Debian's golang-* packages (see ../build.sh).
//
//	ttrpc-peer server       --socket PATH [--watch-stdin]   serve ttrpc.interop.v1.Echo, print READY
//	ttrpc-peer bench-server --socket PATH [--watch-stdin]   the same service, for the benchmark
//	ttrpc-peer client       --socket PATH --scenario NAME [--calls N]   print one JSON result
//	ttrpc-peer bench-client --socket PATH [--calls N] [--concurrency C] [--warmup W] [--payload B]
//	ttrpc-peer agent-server --socket PATH [--watch-stdin]   grpc.Health/Check and AgentService/ReadStdout
//	ttrpc-peer agent-client --socket PATH --method check|read-stdout [--container ID --exec ID --len B]
//	                        [--calls N] [--concurrency C] [--warmup W]   calls the Kata agent protocol
//	ttrpc-peer pipe-read    --bytes N [--len B]   reads N bytes from stdin in reads of B bytes
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/containerd/ttrpc"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: ttrpc-peer server|bench-server|client|bench-client|agent-server|agent-client|pipe-read --socket PATH [options]")
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
	method := flags.String("method", "check", "agent-client: check or read-stdout")
	containerID := flags.String("container", "", "agent-client read-stdout: container id")
	execID := flags.String("exec", "", "agent-client read-stdout: exec id")
	length := flags.Int("len", 32768, "agent-client read-stdout, pipe-read: bytes per read")
	total := flags.Int64("bytes", 1<<30, "pipe-read: bytes to read")
	_ = flags.Parse(os.Args[2:])
	if mode == "pipe-read" {
		result, err := runPipeRead(*total, *length)
		if err != nil {
			fail(err)
		}
		printJSON(result)
		return
	}
	if *socket == "" {
		fail(fmt.Errorf("%s: --socket is required", mode))
	}

	switch mode {
	case "server", "bench-server":
		if err := runServer(*socket, *watchStdin, map[string]map[string]ttrpc.Method{serviceName: echoMethods()}); err != nil {
			fail(err)
		}
	case "agent-server":
		if err := runServer(*socket, *watchStdin, agentMethods()); err != nil {
			fail(err)
		}
	case "agent-client":
		result, err := runAgentClient(*socket, *method, *containerID, *execID, *length, *calls, *concurrency, *warmup)
		if err != nil {
			fail(err)
		}
		printJSON(result)
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
