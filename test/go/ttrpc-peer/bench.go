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

type timed struct {
	latencies []time.Duration
	failed    int64
	bytes     int64
	firstErr  error
}

// timedCalls makes n calls from `concurrency` goroutines and returns each call's latency.
func timedCalls(n, concurrency int, call func(ctx context.Context) (int, error)) timed {
	var (
		next, failed, bytes int64
		latencies           = make([]time.Duration, n)
		wg                  sync.WaitGroup
		ctx                 = context.Background()
		once                sync.Once
		firstErr            error
	)
	for w := 0; w < concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := atomic.AddInt64(&next, 1) - 1
				if i >= int64(n) {
					return
				}
				start := time.Now()
				got, err := call(ctx)
				latencies[i] = time.Since(start)
				atomic.AddInt64(&bytes, int64(got))
				if err != nil {
					atomic.AddInt64(&failed, 1)
					once.Do(func() { firstErr = err })
				}
			}
		}()
	}
	wg.Wait()
	return timed{latencies: latencies, failed: failed, bytes: bytes, firstErr: firstErr}
}

// runCalls makes n Echo calls from `concurrency` goroutines and returns each call's latency.
func runCalls(c *ttrpc.Client, n, concurrency int, payload []byte) ([]time.Duration, int64) {
	req := &EchoRequest{Data: payload}
	r := timedCalls(n, concurrency, func(ctx context.Context) (int, error) {
		var reply Blob
		if err := c.Call(ctx, serviceName, "Echo", req, &reply); err != nil {
			return 0, err
		}
		if len(reply.Data) != len(payload) {
			return 0, fmt.Errorf("Echo: %d bytes back of %d", len(reply.Data), len(payload))
		}
		return len(reply.Data), nil
	})
	return r.latencies, r.failed
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
