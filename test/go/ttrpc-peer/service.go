package main

// The interop service as served by containerd's Go ttRPC (server and bench-server modes).

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"sort"
	"syscall"
	"time"

	"github.com/containerd/ttrpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

const serviceName = "ttrpc.interop.v1.Echo"

func echoMethods() map[string]ttrpc.Method {
	return map[string]ttrpc.Method{
		"Echo": func(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
			var req EchoRequest
			if err := unmarshal(&req); err != nil {
				return nil, err
			}
			if req.DelayMs > 0 {
				if err := sleepCtx(ctx, time.Duration(req.DelayMs)*time.Millisecond); err != nil {
					return nil, err
				}
			}
			return &Blob{Data: req.Data}, nil
		},
		"Fail": func(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
			var req FailRequest
			if err := unmarshal(&req); err != nil {
				return nil, err
			}
			return nil, status.Error(codes.Code(req.Code), req.Message)
		},
		"Sleep": func(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
			var req SleepRequest
			if err := unmarshal(&req); err != nil {
				return nil, err
			}
			reply := &SleepReply{}
			if dl, ok := ctx.Deadline(); ok {
				reply.HadDeadline = true
				reply.RemainingMs = time.Until(dl).Milliseconds()
			}
			// ctx.Err() becomes context.DeadlineExceeded, which ttrpc maps to DEADLINE_EXCEEDED.
			if err := sleepCtx(ctx, time.Duration(req.Ms)*time.Millisecond); err != nil {
				return nil, err
			}
			return reply, nil
		},
		"Big": func(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
			var req BigRequest
			if err := unmarshal(&req); err != nil {
				return nil, err
			}
			return &Blob{Data: pattern(int(req.Size))}, nil
		},
		"Metadata": func(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
			var req Blob
			if err := unmarshal(&req); err != nil {
				return nil, err
			}
			md, _ := ttrpc.GetMetadata(ctx)
			keys := make([]string, 0, len(md))
			for k := range md {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			reply := &MetadataReply{}
			for _, k := range keys {
				for _, v := range md[k] {
					reply.Entries = append(reply.Entries, &KeyValue{Key: k, Value: v})
				}
			}
			return reply, nil
		},
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// pattern returns n bytes that differ from position to position, so a shifted or truncated
// copy does not compare equal.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31 + i>>8)
	}
	return b
}

// runServer serves until SIGTERM/SIGINT or, with watchStdin, until stdin closes, so a peer
// whose parent (the test) died does not linger.
func runServer(socketPath string, watchStdin bool, services map[string]map[string]ttrpc.Method) error {
	_ = os.Remove(socketPath)
	l, err := net.Listen("unix", socketPath)
	if err != nil {
		return fmt.Errorf("listen on unix socket %s: %w", socketPath, err)
	}
	srv, err := ttrpc.NewServer()
	if err != nil {
		return fmt.Errorf("create ttrpc server: %w", err)
	}
	for name, methods := range services {
		srv.Register(name, methods)
	}

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	if watchStdin {
		go func() {
			buf := make([]byte, 64)
			for {
				if _, err := os.Stdin.Read(buf); err != nil {
					stop <- syscall.SIGTERM
					return
				}
			}
		}()
	}

	served := make(chan error, 1)
	go func() { served <- srv.Serve(context.Background(), l) }()
	fmt.Println("READY")

	select {
	case <-stop:
		srv.Close()
		_ = os.Remove(socketPath)
		return nil
	case err := <-served:
		return fmt.Errorf("serve ttrpc on %s: %w", socketPath, err)
	}
}
