package main

// Client scenarios: containerd's Go ttRPC client calling a server we did not write in Go (ours).
// Each scenario prints one JSON object; the TypeScript test asserts on its values.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/containerd/ttrpc"
	"google.golang.org/grpc/status"
)

// outcome is what one call ended with: a gRPC status from the server ("status", code 0 = OK)
// or an error raised by the Go client itself ("local", e.g. its own context deadline).
type outcome struct {
	Kind    string `json:"kind"`
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func outcomeOf(err error) outcome {
	if err == nil {
		return outcome{Kind: "status", Code: 0}
	}
	if st, ok := status.FromError(err); ok {
		return outcome{Kind: "status", Code: int(st.Code()), Message: st.Message()}
	}
	return outcome{Kind: "local", Code: -1, Message: err.Error()}
}

type wireTimeoutKey struct{}

// withWireTimeout makes the next call carry timeout_nano without giving the Go client a local
// deadline, so only the server can end the call with DEADLINE_EXCEEDED.
func withWireTimeout(ctx context.Context, d time.Duration) context.Context {
	return context.WithValue(ctx, wireTimeoutKey{}, d)
}

func wireTimeoutInterceptor(ctx context.Context, req *ttrpc.Request, resp *ttrpc.Response, info *ttrpc.UnaryClientInfo, invoke ttrpc.Invoker) error {
	if d, ok := ctx.Value(wireTimeoutKey{}).(time.Duration); ok {
		req.TimeoutNano = d.Nanoseconds()
	}
	return invoke(ctx, req, resp)
}

func dialClient(socketPath string) (*ttrpc.Client, error) {
	conn, err := net.Dial("unix", socketPath)
	if err != nil {
		return nil, fmt.Errorf("connect to unix socket %s: %w", socketPath, err)
	}
	return ttrpc.NewClient(conn, ttrpc.WithUnaryClientInterceptor(wireTimeoutInterceptor)), nil
}

type echoResult struct {
	outcome
	Sent     int  `json:"sent"`
	Received int  `json:"received"`
	Equal    bool `json:"equal"`
}

func echo(ctx context.Context, c *ttrpc.Client, data []byte) echoResult {
	var reply Blob
	err := c.Call(ctx, serviceName, "Echo", &EchoRequest{Data: data}, &reply)
	return echoResult{outcome: outcomeOf(err), Sent: len(data), Received: len(reply.Data), Equal: err == nil && bytes.Equal(reply.Data, data)}
}

var scenarios = map[string]func(ctx context.Context, c *ttrpc.Client, calls int) (interface{}, error){
	"echo": func(ctx context.Context, c *ttrpc.Client, _ int) (interface{}, error) {
		var results []echoResult
		for _, data := range [][]byte{[]byte("hello ttrpc"), {}, pattern(64 << 10), pattern(1 << 20)} {
			results = append(results, echo(ctx, c, data))
		}
		return map[string]interface{}{"results": results}, nil
	},

	// Many calls in flight on one connection, with delays chosen so that replies come back in
	// a different order than the requests went out.
	"concurrent": func(ctx context.Context, c *ttrpc.Client, calls int) (interface{}, error) {
		type record struct{ issued, completed int64 }
		var (
			issueSeq, completeSeq int64
			wrong, failed         int64
			firstFailure          atomic.Value
			records               = make([]record, calls)
			wg                    sync.WaitGroup
		)
		for i := 0; i < calls; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				want := []byte(fmt.Sprintf("call-%05d", i))
				var reply Blob
				records[i].issued = atomic.AddInt64(&issueSeq, 1)
				err := c.Call(ctx, serviceName, "Echo", &EchoRequest{Data: want, DelayMs: uint32(30 - i%31)}, &reply)
				records[i].completed = atomic.AddInt64(&completeSeq, 1)
				switch {
				case err != nil:
					atomic.AddInt64(&failed, 1)
					firstFailure.CompareAndSwap(nil, err.Error())
				case !bytes.Equal(reply.Data, want):
					atomic.AddInt64(&wrong, 1)
				}
			}(i)
		}
		wg.Wait()
		sort.Slice(records, func(a, b int) bool { return records[a].issued < records[b].issued })
		outOfOrder := 0
		for i := 1; i < len(records); i++ {
			if records[i].completed < records[i-1].completed {
				outOfOrder++
			}
		}
		return map[string]interface{}{
			"calls": calls, "failed": failed, "wrongReplies": wrong,
			"firstFailure": firstFailure.Load(), "outOfOrder": outOfOrder,
		}, nil
	},

	"errors": func(ctx context.Context, c *ttrpc.Client, _ int) (interface{}, error) {
		var results []outcome
		for code := uint32(1); code <= 16; code++ {
			err := c.Call(ctx, serviceName, "Fail", &FailRequest{Code: code, Message: fmt.Sprintf("failure %d: ünïcode ✓", code)}, &Blob{})
			results = append(results, outcomeOf(err))
		}
		return map[string]interface{}{"results": results}, nil
	},

	// containerd/ttrpc 1.1 sends an oversized request as is; the server must answer that stream
	// with RESOURCE_EXHAUSTED and keep the connection.
	"oversize": func(ctx context.Context, c *ttrpc.Client, _ int) (interface{}, error) {
		over := echo(ctx, c, pattern(4<<20+1))
		near := echo(ctx, c, pattern(4<<20-1024))
		after := echo(ctx, c, []byte("after-oversize"))
		return map[string]interface{}{"over": over, "near": near, "after": after}, nil
	},

	// The server must not send a reply frame over 4 MiB (containerd/ttrpc 1.1's client cannot
	// survive one); it answers RESOURCE_EXHAUSTED instead.
	"big-reply": func(ctx context.Context, c *ttrpc.Client, _ int) (interface{}, error) {
		var reply Blob
		small := outcomeOf(c.Call(ctx, serviceName, "Big", &BigRequest{Size: 1 << 20}, &reply))
		smallLen, smallEqual := len(reply.Data), bytes.Equal(reply.Data, pattern(1<<20))
		reply = Blob{}
		over := outcomeOf(c.Call(ctx, serviceName, "Big", &BigRequest{Size: 4<<20 + 16}, &reply))
		after := echo(ctx, c, []byte("after-big-reply"))
		return map[string]interface{}{"small": small, "smallLen": smallLen, "smallEqual": smallEqual, "over": over, "after": after}, nil
	},

	"deadline": func(ctx context.Context, c *ttrpc.Client, _ int) (interface{}, error) {
		// Only the wire deadline: nothing but the server can end this call early.
		start := time.Now()
		wire := outcomeOf(c.Call(withWireTimeout(ctx, 200*time.Millisecond), serviceName, "Sleep", &SleepRequest{Ms: 3000}, &SleepReply{}))
		wireMs := time.Since(start).Milliseconds()

		// An ordinary context deadline: whichever of server reply and local timer comes first.
		cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		start = time.Now()
		local := outcomeOf(c.Call(cctx, serviceName, "Sleep", &SleepRequest{Ms: 3000}, &SleepReply{}))
		localMs := time.Since(start).Milliseconds()
		cancel()

		// The deadline the server's handler sees, from timeout_nano.
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		var seen SleepReply
		seenOutcome := outcomeOf(c.Call(sctx, serviceName, "Sleep", &SleepRequest{Ms: 0}, &seen))
		cancel()

		after := echo(ctx, c, []byte("after-deadline"))
		return map[string]interface{}{
			"wire": wire, "wireMs": wireMs, "context": local, "contextMs": localMs,
			"seen": seenOutcome, "seenHadDeadline": seen.HadDeadline, "seenRemainingMs": seen.RemainingMs,
			"after": after,
		}, nil
	},

	"metadata": func(ctx context.Context, c *ttrpc.Client, _ int) (interface{}, error) {
		md := ttrpc.MD{}
		md.Append("x-interop-key", "one", "two")
		md.Append("x-other", "v")
		var reply MetadataReply
		err := c.Call(ttrpc.WithMetadata(ctx, md), serviceName, "Metadata", &Blob{}, &reply)
		entries := [][2]string{}
		for _, kv := range reply.Entries {
			entries = append(entries, [2]string{kv.Key, kv.Value})
		}
		return map[string]interface{}{"outcome": outcomeOf(err), "entries": entries}, nil
	},

	"unknown": func(ctx context.Context, c *ttrpc.Client, _ int) (interface{}, error) {
		service := outcomeOf(c.Call(ctx, "ttrpc.interop.v1.Missing", "Echo", &EchoRequest{}, &Blob{}))
		method := outcomeOf(c.Call(ctx, serviceName, "Missing", &EchoRequest{}, &Blob{}))
		after := echo(ctx, c, []byte("after-unknown"))
		return map[string]interface{}{"service": service, "method": method, "after": after}, nil
	},
}

func runScenario(socketPath, name string, calls int) (interface{}, error) {
	run, ok := scenarios[name]
	if !ok {
		return nil, errors.New("unknown scenario " + name)
	}
	c, err := dialClient(socketPath)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	// No backstop deadline here: it would put timeout_nano on every call. The test that runs
	// this process bounds it instead.
	result, err := run(context.Background(), c, calls)
	if err != nil {
		return nil, fmt.Errorf("scenario %s: %w", name, err)
	}
	return result, nil
}
