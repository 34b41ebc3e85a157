package main

// bench-client: unary Echo calls over one connection at a fixed concurrency, timed per call.

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/containerd/ttrpc"
)

type benchResult struct {
	Calls       int     `json:"calls"`
	Concurrency int     `json:"concurrency"`
	PayloadSize int     `json:"payloadBytes"`
	Seconds     float64 `json:"seconds"`
	CallsPerSec float64 `json:"callsPerSec"`
	P50Us       float64 `json:"p50Us"`
	P99Us       float64 `json:"p99Us"`
	Failed      int64   `json:"failed"`
}

// runCalls makes n Echo calls from `concurrency` goroutines and returns each call's latency.
func runCalls(c *ttrpc.Client, n, concurrency int, payload []byte) ([]time.Duration, int64) {
	var (
		next, failed int64
		latencies    = make([]time.Duration, n)
		wg           sync.WaitGroup
		ctx          = context.Background()
	)
	for w := 0; w < concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := &EchoRequest{Data: payload}
			for {
				i := atomic.AddInt64(&next, 1) - 1
				if i >= int64(n) {
					return
				}
				var reply Blob
				start := time.Now()
				if err := c.Call(ctx, serviceName, "Echo", req, &reply); err != nil || len(reply.Data) != len(payload) {
					atomic.AddInt64(&failed, 1)
				}
				latencies[i] = time.Since(start)
			}
		}()
	}
	wg.Wait()
	return latencies, failed
}

func percentileUs(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p * float64(len(sorted)-1))
	return float64(sorted[i].Nanoseconds()) / 1e3
}

func runBenchClient(socketPath string, calls, concurrency, warmup, payloadSize int) (*benchResult, error) {
	if calls <= 0 || concurrency <= 0 {
		return nil, fmt.Errorf("bench-client: --calls and --concurrency must be positive")
	}
	c, err := dialClient(socketPath)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	payload := pattern(payloadSize)
	if warmup > 0 {
		runCalls(c, warmup, concurrency, payload)
	}
	start := time.Now()
	latencies, failed := runCalls(c, calls, concurrency, payload)
	elapsed := time.Since(start)
	sort.Slice(latencies, func(a, b int) bool { return latencies[a] < latencies[b] })
	return &benchResult{
		Calls: calls, Concurrency: concurrency, PayloadSize: payloadSize,
		Seconds: elapsed.Seconds(), CallsPerSec: float64(calls) / elapsed.Seconds(),
		P50Us: percentileUs(latencies, 0.50), P99Us: percentileUs(latencies, 0.99), Failed: failed,
	}, nil
}
