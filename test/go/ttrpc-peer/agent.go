package main

// The Kata agent's grpc.Health/Check and grpc.AgentService/ReadStdout, as a client of the real
// agent (agent-client) and as a Go ttrpc server answering the same-sized messages (agent-server,
// the benchmark's baseline); pipe-read times a plain pipe read in the same chunks.

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"github.com/containerd/ttrpc"
)

const (
	healthService = "grpc.Health"
	agentService  = "grpc.AgentService"
)

// Messages of agent/src/proto/health.proto and agent.proto (the fields these calls use).
type CheckRequest struct {
	Service string `protobuf:"bytes,1,opt,name=service,proto3"`
}

func (m *CheckRequest) Reset()         { *m = CheckRequest{} }
func (m *CheckRequest) String() string { return fmt.Sprintf("%+v", *m) }
func (*CheckRequest) ProtoMessage()    {}

type HealthCheckResponse struct {
	Status int32 `protobuf:"varint,1,opt,name=status,proto3"`
}

func (m *HealthCheckResponse) Reset()         { *m = HealthCheckResponse{} }
func (m *HealthCheckResponse) String() string { return fmt.Sprintf("%+v", *m) }
func (*HealthCheckResponse) ProtoMessage()    {}

type ReadStreamRequest struct {
	ContainerId string `protobuf:"bytes,1,opt,name=container_id,json=containerId,proto3"`
	ExecId      string `protobuf:"bytes,2,opt,name=exec_id,json=execId,proto3"`
	Len         uint32 `protobuf:"varint,3,opt,name=len,proto3"`
}

func (m *ReadStreamRequest) Reset()         { *m = ReadStreamRequest{} }
func (m *ReadStreamRequest) String() string { return fmt.Sprintf("%+v", *m) }
func (*ReadStreamRequest) ProtoMessage()    {}

type ReadStreamResponse struct {
	Data []byte `protobuf:"bytes,1,opt,name=data,proto3"`
}

func (m *ReadStreamResponse) Reset()         { *m = ReadStreamResponse{} }
func (m *ReadStreamResponse) String() string { return fmt.Sprintf("Data(%d bytes)", len(m.Data)) }
func (*ReadStreamResponse) ProtoMessage()    {}

const servingStatus = 1 // HealthCheckResponse.SERVING

func agentMethods() map[string]map[string]ttrpc.Method {
	return map[string]map[string]ttrpc.Method{
		healthService: {
			"Check": func(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
				var req CheckRequest
				if err := unmarshal(&req); err != nil {
					return nil, err
				}
				return &HealthCheckResponse{Status: servingStatus}, nil
			},
		},
		agentService: {
			// A stdout that always has req.Len bytes ready, as a busy process's pipe.
			"ReadStdout": func(ctx context.Context, unmarshal func(interface{}) error) (interface{}, error) {
				var req ReadStreamRequest
				if err := unmarshal(&req); err != nil {
					return nil, err
				}
				return &ReadStreamResponse{Data: make([]byte, req.Len)}, nil
			},
		},
	}
}

// agentCall returns one call of the named method, and the bytes of output it got.
func agentCall(method, containerID, execID string, length int) (func(ctx context.Context, c *ttrpc.Client) (int, error), error) {
	switch method {
	case "check":
		return func(ctx context.Context, c *ttrpc.Client) (int, error) {
			var reply HealthCheckResponse
			if err := c.Call(ctx, healthService, "Check", &CheckRequest{}, &reply); err != nil {
				return 0, err
			}
			if reply.Status != servingStatus {
				return 0, fmt.Errorf("Health/Check: status %d", reply.Status)
			}
			return 0, nil
		}, nil
	case "read-stdout":
		req := &ReadStreamRequest{ContainerId: containerID, ExecId: execID, Len: uint32(length)}
		return func(ctx context.Context, c *ttrpc.Client) (int, error) {
			var reply ReadStreamResponse
			if err := c.Call(ctx, agentService, "ReadStdout", req, &reply); err != nil {
				return 0, err
			}
			if len(reply.Data) == 0 {
				return 0, fmt.Errorf("ReadStdout: no data")
			}
			return len(reply.Data), nil
		}, nil
	}
	return nil, fmt.Errorf("agent-client: unknown --method %q (check, read-stdout)", method)
}

type agentBenchResult struct {
	benchResult
	Bytes       int64   `json:"bytes"`
	BytesPerSec float64 `json:"bytesPerSec"`
	FirstError  string  `json:"firstError,omitempty"`
}

func runAgentClient(socketPath, method, containerID, execID string, length, calls, concurrency, warmup int) (*agentBenchResult, error) {
	if calls <= 0 || concurrency <= 0 {
		return nil, fmt.Errorf("agent-client: --calls and --concurrency must be positive")
	}
	call, err := agentCall(method, containerID, execID, length)
	if err != nil {
		return nil, err
	}
	c, err := dialClient(socketPath)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if warmup > 0 {
		timedCalls(warmup, concurrency, func(ctx context.Context) (int, error) { return call(ctx, c) })
	}
	start := time.Now()
	r := timedCalls(calls, concurrency, func(ctx context.Context) (int, error) { return call(ctx, c) })
	elapsed := time.Since(start)
	sort.Slice(r.latencies, func(a, b int) bool { return r.latencies[a] < r.latencies[b] })
	out := &agentBenchResult{
		benchResult: benchResult{
			Calls: calls, Concurrency: concurrency, PayloadSize: length,
			Seconds: elapsed.Seconds(), CallsPerSec: float64(calls) / elapsed.Seconds(),
			P50Us: percentileUs(r.latencies, 0.50), P99Us: percentileUs(r.latencies, 0.99), Failed: r.failed,
		},
		Bytes: r.bytes, BytesPerSec: float64(r.bytes) / elapsed.Seconds(),
	}
	if r.firstErr != nil {
		out.FirstError = r.firstErr.Error()
	}
	return out, nil
}

type pipeResult struct {
	Bytes       int64   `json:"bytes"`
	Seconds     float64 `json:"seconds"`
	BytesPerSec float64 `json:"bytesPerSec"`
	Reads       int64   `json:"reads"`
}

// runPipeRead reads total bytes from stdin in reads of up to length bytes (a pipe from `cat`).
func runPipeRead(total int64, length int) (*pipeResult, error) {
	buf := make([]byte, length)
	var got, reads int64
	start := time.Now()
	for got < total {
		n, err := os.Stdin.Read(buf)
		got += int64(n)
		reads++
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("pipe-read: %w", err)
		}
	}
	elapsed := time.Since(start)
	return &pipeResult{Bytes: got, Seconds: elapsed.Seconds(), BytesPerSec: float64(got) / elapsed.Seconds(), Reads: reads}, nil
}
