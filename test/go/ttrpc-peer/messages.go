package main

// Hand-written protobuf messages of the interop service (see ../interop.proto). gogo/protobuf,
// the codec of containerd/ttrpc 1.1, marshals plain structs from their `protobuf` tags, so no
// generated code is needed.

import "fmt"

type EchoRequest struct {
	Data    []byte `protobuf:"bytes,1,opt,name=data,proto3"`
	DelayMs uint32 `protobuf:"varint,2,opt,name=delay_ms,json=delayMs,proto3"`
}

func (m *EchoRequest) Reset()         { *m = EchoRequest{} }
func (m *EchoRequest) String() string { return fmt.Sprintf("%+v", *m) }
func (*EchoRequest) ProtoMessage()    {}

type Blob struct {
	Data []byte `protobuf:"bytes,1,opt,name=data,proto3"`
}

func (m *Blob) Reset()         { *m = Blob{} }
func (m *Blob) String() string { return fmt.Sprintf("Blob(%d bytes)", len(m.Data)) }
func (*Blob) ProtoMessage()    {}

type FailRequest struct {
	Code    uint32 `protobuf:"varint,1,opt,name=code,proto3"`
	Message string `protobuf:"bytes,2,opt,name=message,proto3"`
}

func (m *FailRequest) Reset()         { *m = FailRequest{} }
func (m *FailRequest) String() string { return fmt.Sprintf("%+v", *m) }
func (*FailRequest) ProtoMessage()    {}

type SleepRequest struct {
	Ms uint32 `protobuf:"varint,1,opt,name=ms,proto3"`
}

func (m *SleepRequest) Reset()         { *m = SleepRequest{} }
func (m *SleepRequest) String() string { return fmt.Sprintf("%+v", *m) }
func (*SleepRequest) ProtoMessage()    {}

type SleepReply struct {
	HadDeadline bool  `protobuf:"varint,1,opt,name=had_deadline,json=hadDeadline,proto3"`
	RemainingMs int64 `protobuf:"varint,2,opt,name=remaining_ms,json=remainingMs,proto3"`
}

func (m *SleepReply) Reset()         { *m = SleepReply{} }
func (m *SleepReply) String() string { return fmt.Sprintf("%+v", *m) }
func (*SleepReply) ProtoMessage()    {}

type BigRequest struct {
	Size uint32 `protobuf:"varint,1,opt,name=size,proto3"`
}

func (m *BigRequest) Reset()         { *m = BigRequest{} }
func (m *BigRequest) String() string { return fmt.Sprintf("%+v", *m) }
func (*BigRequest) ProtoMessage()    {}

type KeyValue struct {
	Key   string `protobuf:"bytes,1,opt,name=key,proto3"`
	Value string `protobuf:"bytes,2,opt,name=value,proto3"`
}

func (m *KeyValue) Reset()         { *m = KeyValue{} }
func (m *KeyValue) String() string { return fmt.Sprintf("%+v", *m) }
func (*KeyValue) ProtoMessage()    {}

type MetadataReply struct {
	Entries []*KeyValue `protobuf:"bytes,1,rep,name=entries,proto3"`
}

func (m *MetadataReply) Reset()         { *m = MetadataReply{} }
func (m *MetadataReply) String() string { return fmt.Sprintf("%+v", *m) }
func (*MetadataReply) ProtoMessage()    {}
