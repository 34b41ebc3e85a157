// The schema against the wire facts of Kata 3.19's agent.proto, oci.proto, types.proto,
// health.proto and csi.proto: field numbers, types and labels written out by hand below, and
// every service method with its request and response types. A renumbered or retyped field
// would still parse but would silently garble what a real runtime sends.
import { describe, expect, test } from 'vitest';
import {
  AGENT_SERVICE,
  type Field,
  HEALTH_SERVICE,
  encodeMessage,
  enumType,
  findMethod,
  messageType,
  serviceMethods,
} from '../../agent/src/proto/schema';

// [field name, number, type, label]; label: '' single, 'rep' repeated, 'opt' proto3 optional,
// 'oneof:<name>' member of a oneof, 'map:<key type>' map. Message/enum types are full names.
type FieldFact = [name: string, id: number, type: string, label?: string];

const FIELDS: Record<string, FieldFact[]> = {
  // ---- agent.proto ----
  'grpc.CreateContainerRequest': [
    ['container_id', 1, 'string'], ['exec_id', 2, 'string'], ['string_user', 3, 'grpc.StringUser'],
    ['devices', 4, 'grpc.Device', 'rep'], ['storages', 5, 'grpc.Storage', 'rep'], ['OCI', 6, 'grpc.Spec'],
    ['sandbox_pidns', 7, 'bool'], ['shared_mounts', 8, 'grpc.SharedMount', 'rep'],
    ['stdin_port', 9, 'uint32'], ['stdout_port', 10, 'uint32'], ['stderr_port', 11, 'uint32'],
  ],
  'grpc.StartContainerRequest': [['container_id', 1, 'string']],
  'grpc.RemoveContainerRequest': [['container_id', 1, 'string'], ['timeout', 2, 'uint32']],
  'grpc.ExecProcessRequest': [
    ['container_id', 1, 'string'], ['exec_id', 2, 'string'], ['string_user', 3, 'grpc.StringUser'],
    ['process', 4, 'grpc.Process'], ['stdin_port', 5, 'uint32'], ['stdout_port', 6, 'uint32'], ['stderr_port', 7, 'uint32'],
  ],
  'grpc.SignalProcessRequest': [['container_id', 1, 'string'], ['exec_id', 2, 'string'], ['signal', 3, 'uint32']],
  'grpc.WaitProcessRequest': [['container_id', 1, 'string'], ['exec_id', 2, 'string']],
  'grpc.WaitProcessResponse': [['status', 1, 'int32']],
  'grpc.UpdateContainerRequest': [['container_id', 1, 'string'], ['resources', 2, 'grpc.LinuxResources']],
  'grpc.StatsContainerRequest': [['container_id', 1, 'string']],
  'grpc.StatsContainerResponse': [['cgroup_stats', 1, 'grpc.CgroupStats'], ['network_stats', 2, 'grpc.NetworkStats', 'rep']],
  'grpc.CgroupStats': [
    ['cpu_stats', 1, 'grpc.CpuStats'], ['memory_stats', 2, 'grpc.MemoryStats'], ['pids_stats', 3, 'grpc.PidsStats'],
    ['blkio_stats', 4, 'grpc.BlkioStats'], ['hugetlb_stats', 5, 'grpc.HugetlbStats', 'map:string'],
  ],
  'grpc.CpuStats': [['cpu_usage', 1, 'grpc.CpuUsage'], ['throttling_data', 2, 'grpc.ThrottlingData']],
  'grpc.CpuUsage': [
    ['total_usage', 1, 'uint64'], ['percpu_usage', 2, 'uint64', 'rep'], ['usage_in_kernelmode', 3, 'uint64'], ['usage_in_usermode', 4, 'uint64'],
  ],
  'grpc.ThrottlingData': [['periods', 1, 'uint64'], ['throttled_periods', 2, 'uint64'], ['throttled_time', 3, 'uint64']],
  'grpc.PidsStats': [['current', 1, 'uint64'], ['limit', 2, 'uint64']],
  'grpc.MemoryData': [['usage', 1, 'uint64'], ['max_usage', 2, 'uint64'], ['failcnt', 3, 'uint64'], ['limit', 4, 'uint64']],
  'grpc.MemoryStats': [
    ['cache', 1, 'uint64'], ['usage', 2, 'grpc.MemoryData'], ['swap_usage', 3, 'grpc.MemoryData'],
    ['kernel_usage', 4, 'grpc.MemoryData'], ['use_hierarchy', 5, 'bool'], ['stats', 6, 'uint64', 'map:string'],
  ],
  'grpc.BlkioStatsEntry': [['major', 1, 'uint64'], ['minor', 2, 'uint64'], ['op', 3, 'string'], ['value', 4, 'uint64']],
  'grpc.BlkioStats': [
    ['io_service_bytes_recursive', 1, 'grpc.BlkioStatsEntry', 'rep'], ['io_serviced_recursive', 2, 'grpc.BlkioStatsEntry', 'rep'],
    ['io_queued_recursive', 3, 'grpc.BlkioStatsEntry', 'rep'], ['io_service_time_recursive', 4, 'grpc.BlkioStatsEntry', 'rep'],
    ['io_wait_time_recursive', 5, 'grpc.BlkioStatsEntry', 'rep'], ['io_merged_recursive', 6, 'grpc.BlkioStatsEntry', 'rep'],
    ['io_time_recursive', 7, 'grpc.BlkioStatsEntry', 'rep'], ['sectors_recursive', 8, 'grpc.BlkioStatsEntry', 'rep'],
  ],
  'grpc.HugetlbStats': [['usage', 1, 'uint64'], ['max_usage', 2, 'uint64'], ['failcnt', 3, 'uint64']],
  'grpc.NetworkStats': [
    ['name', 1, 'string'], ['rx_bytes', 2, 'uint64'], ['rx_packets', 3, 'uint64'], ['rx_errors', 4, 'uint64'], ['rx_dropped', 5, 'uint64'],
    ['tx_bytes', 6, 'uint64'], ['tx_packets', 7, 'uint64'], ['tx_errors', 8, 'uint64'], ['tx_dropped', 9, 'uint64'],
  ],
  'grpc.WriteStreamRequest': [['container_id', 1, 'string'], ['exec_id', 2, 'string'], ['data', 3, 'bytes']],
  'grpc.WriteStreamResponse': [['len', 1, 'uint32']],
  'grpc.ReadStreamRequest': [['container_id', 1, 'string'], ['exec_id', 2, 'string'], ['len', 3, 'uint32']],
  'grpc.ReadStreamResponse': [['data', 1, 'bytes']],
  'grpc.CloseStdinRequest': [['container_id', 1, 'string'], ['exec_id', 2, 'string']],
  'grpc.TtyWinResizeRequest': [['container_id', 1, 'string'], ['exec_id', 2, 'string'], ['row', 3, 'uint32'], ['column', 4, 'uint32']],
  'grpc.KernelModule': [['name', 1, 'string'], ['parameters', 2, 'string', 'rep']],
  'grpc.CreateSandboxRequest': [
    ['hostname', 1, 'string'], ['dns', 2, 'string', 'rep'], ['storages', 3, 'grpc.Storage', 'rep'], ['sandbox_pidns', 4, 'bool'],
    ['sandbox_id', 5, 'string'], ['guest_hook_path', 6, 'string'], ['kernel_modules', 7, 'grpc.KernelModule', 'rep'],
  ],
  'grpc.DestroySandboxRequest': [],
  'grpc.RemoveStaleVirtiofsShareMountsRequest': [],
  'grpc.Interfaces': [['Interfaces', 1, 'types.Interface', 'rep']],
  'grpc.Routes': [['Routes', 1, 'types.Route', 'rep']],
  'grpc.UpdateInterfaceRequest': [['interface', 1, 'types.Interface']],
  'grpc.UpdateRoutesRequest': [['routes', 1, 'grpc.Routes']],
  'grpc.UpdateEphemeralMountsRequest': [['storages', 1, 'grpc.Storage', 'rep']],
  'grpc.ListInterfacesRequest': [],
  'grpc.ListRoutesRequest': [],
  'grpc.ARPNeighbors': [['ARPNeighbors', 1, 'types.ARPNeighbor', 'rep']],
  'grpc.AddARPNeighborsRequest': [['neighbors', 1, 'grpc.ARPNeighbors']],
  'grpc.GetIPTablesRequest': [['is_ipv6', 1, 'bool']],
  'grpc.GetIPTablesResponse': [['data', 1, 'bytes']],
  'grpc.SetIPTablesRequest': [['is_ipv6', 1, 'bool'], ['data', 2, 'bytes']],
  'grpc.SetIPTablesResponse': [['data', 1, 'bytes']],
  'grpc.OnlineCPUMemRequest': [['wait', 1, 'bool'], ['nb_cpus', 2, 'uint32'], ['cpu_only', 3, 'bool']],
  'grpc.ReseedRandomDevRequest': [['data', 2, 'bytes']],
  'grpc.AgentDetails': [
    ['version', 1, 'string'], ['init_daemon', 2, 'bool'], ['device_handlers', 3, 'string', 'rep'],
    ['storage_handlers', 4, 'string', 'rep'], ['supports_seccomp', 5, 'bool'], ['extra_features', 6, 'string', 'rep'],
  ],
  'grpc.GuestDetailsRequest': [['mem_block_size', 1, 'bool'], ['mem_hotplug_probe', 2, 'bool']],
  'grpc.GuestDetailsResponse': [
    ['mem_block_size_bytes', 1, 'uint64'], ['agent_details', 2, 'grpc.AgentDetails'], ['support_mem_hotplug_probe', 3, 'bool'],
  ],
  'grpc.MemHotplugByProbeRequest': [['memHotplugProbeAddr', 1, 'uint64', 'rep']],
  'grpc.SetGuestDateTimeRequest': [['Sec', 1, 'int64'], ['Usec', 2, 'int64']],
  'grpc.FSGroup': [['group_id', 2, 'uint32'], ['group_change_policy', 3, 'types.FSGroupChangePolicy']],
  'grpc.SharedMount': [
    ['name', 1, 'string'], ['src_ctr', 2, 'string'], ['src_path', 3, 'string'], ['dst_ctr', 4, 'string'], ['dst_path', 5, 'string'],
  ],
  'grpc.Storage': [
    ['driver', 1, 'string'], ['driver_options', 2, 'string', 'rep'], ['source', 3, 'string'], ['fstype', 4, 'string'],
    ['options', 5, 'string', 'rep'], ['mount_point', 6, 'string'], ['fs_group', 7, 'grpc.FSGroup'], ['shared', 8, 'bool'],
  ],
  'grpc.Device': [
    ['id', 1, 'string'], ['type', 2, 'string'], ['vm_path', 3, 'string'], ['container_path', 4, 'string'], ['options', 5, 'string', 'rep'],
  ],
  'grpc.StringUser': [['uid', 1, 'string'], ['gid', 2, 'string'], ['additionalGids', 3, 'string', 'rep']],
  'grpc.CopyFileRequest': [
    ['path', 1, 'string'], ['file_size', 2, 'int64'], ['file_mode', 3, 'uint32'], ['dir_mode', 4, 'uint32'],
    ['uid', 5, 'int32'], ['gid', 6, 'int32'], ['offset', 7, 'int64'], ['data', 8, 'bytes'],
  ],
  'grpc.GetOOMEventRequest': [],
  'grpc.OOMEvent': [['container_id', 1, 'string']],
  'grpc.AddSwapRequest': [['PCIPath', 1, 'uint32', 'rep']],
  'grpc.AddSwapPathRequest': [['path', 1, 'string']],
  'grpc.GetMetricsRequest': [],
  'grpc.Metrics': [['metrics', 1, 'string']],
  'grpc.VolumeStatsRequest': [['volume_guest_path', 1, 'string']],
  'grpc.ResizeVolumeRequest': [['volume_guest_path', 1, 'string'], ['size', 2, 'uint64']],
  'grpc.SetPolicyRequest': [['policy', 1, 'string']],
  'grpc.GetDiagnosticDataRequest': [['log_type', 1, 'string'], ['container_id', 2, 'string']],
  'grpc.GetDiagnosticDataResponse': [['data', 1, 'string']],
  'grpc.MemAgentMemcgConfig': [
    ['disabled', 1, 'bool', 'opt'], ['swap', 2, 'bool', 'opt'], ['swappiness_max', 3, 'uint32', 'opt'], ['period_secs', 4, 'uint64', 'opt'],
    ['period_psi_percent_limit', 5, 'uint32', 'opt'], ['eviction_psi_percent_limit', 6, 'uint32', 'opt'],
    ['eviction_run_aging_count_min', 7, 'uint64', 'opt'],
  ],
  'grpc.MemAgentCompactConfig': [
    ['disabled', 1, 'bool', 'opt'], ['period_secs', 2, 'uint64', 'opt'], ['period_psi_percent_limit', 3, 'uint32', 'opt'],
    ['compact_psi_percent_limit', 4, 'uint32', 'opt'], ['compact_sec_max', 5, 'int64', 'opt'], ['compact_order', 6, 'uint32', 'opt'],
    ['compact_threshold', 7, 'uint64', 'opt'], ['compact_force_times', 8, 'uint64', 'opt'],
  ],

  // ---- oci.proto ----
  'grpc.Spec': [
    ['Version', 1, 'string'], ['Process', 2, 'grpc.Process'], ['Root', 3, 'grpc.Root'], ['Hostname', 4, 'string'],
    ['Mounts', 5, 'grpc.Mount', 'rep'], ['Hooks', 6, 'grpc.Hooks'], ['Annotations', 7, 'string', 'map:string'],
    ['Linux', 8, 'grpc.Linux'], ['Solaris', 9, 'grpc.Solaris'], ['Windows', 10, 'grpc.Windows'],
  ],
  'grpc.Process': [
    ['Terminal', 1, 'bool'], ['ConsoleSize', 2, 'grpc.Box'], ['User', 3, 'grpc.User'], ['Args', 4, 'string', 'rep'],
    ['Env', 5, 'string', 'rep'], ['Cwd', 6, 'string'], ['Capabilities', 7, 'grpc.LinuxCapabilities'],
    ['Rlimits', 8, 'grpc.POSIXRlimit', 'rep'], ['NoNewPrivileges', 9, 'bool'], ['ApparmorProfile', 10, 'string'],
    ['OOMScoreAdj', 11, 'int64'], ['SelinuxLabel', 12, 'string'],
  ],
  'grpc.Box': [['Height', 1, 'uint32'], ['Width', 2, 'uint32']],
  'grpc.User': [['UID', 1, 'uint32'], ['GID', 2, 'uint32'], ['AdditionalGids', 3, 'uint32', 'rep'], ['Username', 4, 'string']],
  'grpc.LinuxCapabilities': [
    ['Bounding', 1, 'string', 'rep'], ['Effective', 2, 'string', 'rep'], ['Inheritable', 3, 'string', 'rep'],
    ['Permitted', 4, 'string', 'rep'], ['Ambient', 5, 'string', 'rep'],
  ],
  'grpc.POSIXRlimit': [['Type', 1, 'string'], ['Hard', 2, 'uint64'], ['Soft', 3, 'uint64']],
  'grpc.Mount': [['destination', 1, 'string'], ['source', 2, 'string'], ['type', 3, 'string'], ['options', 4, 'string', 'rep']],
  'grpc.Root': [['Path', 1, 'string'], ['Readonly', 2, 'bool']],
  'grpc.Hooks': [
    ['Prestart', 1, 'grpc.Hook', 'rep'], ['Poststart', 2, 'grpc.Hook', 'rep'], ['Poststop', 3, 'grpc.Hook', 'rep'],
    ['CreateRuntime', 4, 'grpc.Hook', 'rep'], ['CreateContainer', 5, 'grpc.Hook', 'rep'], ['StartContainer', 6, 'grpc.Hook', 'rep'],
  ],
  'grpc.Hook': [['Path', 1, 'string'], ['Args', 2, 'string', 'rep'], ['Env', 3, 'string', 'rep'], ['Timeout', 4, 'int64']],
  'grpc.Linux': [
    ['UIDMappings', 1, 'grpc.LinuxIDMapping', 'rep'], ['GIDMappings', 2, 'grpc.LinuxIDMapping', 'rep'],
    ['Sysctl', 3, 'string', 'map:string'], ['Resources', 4, 'grpc.LinuxResources'], ['CgroupsPath', 5, 'string'],
    ['Namespaces', 6, 'grpc.LinuxNamespace', 'rep'], ['Devices', 7, 'grpc.LinuxDevice', 'rep'], ['Seccomp', 8, 'grpc.LinuxSeccomp'],
    ['RootfsPropagation', 9, 'string'], ['MaskedPaths', 10, 'string', 'rep'], ['ReadonlyPaths', 11, 'string', 'rep'],
    ['MountLabel', 12, 'string'], ['IntelRdt', 13, 'grpc.LinuxIntelRdt'],
  ],
  'grpc.Windows': [['dummy', 1, 'string']],
  'grpc.Solaris': [['dummy', 1, 'string']],
  'grpc.LinuxIDMapping': [['HostID', 1, 'uint32'], ['ContainerID', 2, 'uint32'], ['Size', 3, 'uint32']],
  'grpc.LinuxNamespace': [['Type', 1, 'string'], ['Path', 2, 'string']],
  'grpc.LinuxDevice': [
    ['Path', 1, 'string'], ['Type', 2, 'string'], ['Major', 3, 'int64'], ['Minor', 4, 'int64'],
    ['FileMode', 5, 'uint32'], ['UID', 6, 'uint32'], ['GID', 7, 'uint32'],
  ],
  'grpc.LinuxResources': [
    ['Devices', 1, 'grpc.LinuxDeviceCgroup', 'rep'], ['Memory', 2, 'grpc.LinuxMemory'], ['CPU', 3, 'grpc.LinuxCPU'],
    ['Pids', 4, 'grpc.LinuxPids'], ['BlockIO', 5, 'grpc.LinuxBlockIO'], ['HugepageLimits', 6, 'grpc.LinuxHugepageLimit', 'rep'],
    ['Network', 7, 'grpc.LinuxNetwork'],
  ],
  'grpc.LinuxMemory': [
    ['Limit', 1, 'int64'], ['Reservation', 2, 'int64'], ['Swap', 3, 'int64'], ['Kernel', 4, 'int64'],
    ['KernelTCP', 5, 'int64'], ['Swappiness', 6, 'uint64'], ['DisableOOMKiller', 7, 'bool'],
  ],
  'grpc.LinuxCPU': [
    ['Shares', 1, 'uint64'], ['Quota', 2, 'int64'], ['Period', 3, 'uint64'], ['RealtimeRuntime', 4, 'int64'],
    ['RealtimePeriod', 5, 'uint64'], ['Cpus', 6, 'string'], ['Mems', 7, 'string'],
  ],
  'grpc.LinuxWeightDevice': [['Major', 1, 'int64'], ['Minor', 2, 'int64'], ['Weight', 3, 'uint32'], ['LeafWeight', 4, 'uint32']],
  'grpc.LinuxThrottleDevice': [['Major', 1, 'int64'], ['Minor', 2, 'int64'], ['Rate', 3, 'uint64']],
  'grpc.LinuxBlockIO': [
    ['Weight', 1, 'uint32'], ['LeafWeight', 2, 'uint32'], ['WeightDevice', 3, 'grpc.LinuxWeightDevice', 'rep'],
    ['ThrottleReadBpsDevice', 4, 'grpc.LinuxThrottleDevice', 'rep'], ['ThrottleWriteBpsDevice', 5, 'grpc.LinuxThrottleDevice', 'rep'],
    ['ThrottleReadIOPSDevice', 6, 'grpc.LinuxThrottleDevice', 'rep'], ['ThrottleWriteIOPSDevice', 7, 'grpc.LinuxThrottleDevice', 'rep'],
  ],
  'grpc.LinuxPids': [['Limit', 1, 'int64']],
  'grpc.LinuxDeviceCgroup': [['Allow', 1, 'bool'], ['Type', 2, 'string'], ['Major', 3, 'int64'], ['Minor', 4, 'int64'], ['Access', 5, 'string']],
  'grpc.LinuxNetwork': [['ClassID', 1, 'uint32'], ['Priorities', 2, 'grpc.LinuxInterfacePriority', 'rep']],
  'grpc.LinuxHugepageLimit': [['Pagesize', 1, 'string'], ['Limit', 2, 'uint64']],
  'grpc.LinuxInterfacePriority': [['Name', 1, 'string'], ['Priority', 2, 'uint32']],
  'grpc.LinuxSeccomp': [
    ['DefaultAction', 1, 'string'], ['Architectures', 2, 'string', 'rep'], ['Flags', 3, 'string', 'rep'], ['Syscalls', 4, 'grpc.LinuxSyscall', 'rep'],
  ],
  'grpc.LinuxSeccompArg': [['Index', 1, 'uint64'], ['Value', 2, 'uint64'], ['ValueTwo', 3, 'uint64'], ['Op', 4, 'string']],
  'grpc.LinuxSyscall': [
    ['Names', 1, 'string', 'rep'], ['Action', 2, 'string'], ['errnoret', 3, 'uint32', 'oneof:ErrnoRet'], ['Args', 4, 'grpc.LinuxSeccompArg', 'rep'],
  ],
  'grpc.LinuxIntelRdt': [['L3CacheSchema', 1, 'string']],

  // ---- types.proto ----
  'types.IPAddress': [['family', 1, 'types.IPFamily'], ['address', 2, 'string'], ['mask', 3, 'string']],
  'types.Interface': [
    ['device', 1, 'string'], ['name', 2, 'string'], ['IPAddresses', 3, 'types.IPAddress', 'rep'], ['mtu', 4, 'uint64'],
    ['hwAddr', 5, 'string'], ['pciPath', 6, 'string'], ['type', 7, 'string'], ['raw_flags', 8, 'uint32'],
  ],
  'types.Route': [
    ['dest', 1, 'string'], ['gateway', 2, 'string'], ['device', 3, 'string'], ['source', 4, 'string'], ['scope', 5, 'uint32'], ['family', 6, 'types.IPFamily'], ['flags', 7, 'uint32'],
  ],
  'types.ARPNeighbor': [
    ['toIPAddress', 1, 'types.IPAddress'], ['device', 2, 'string'], ['lladdr', 3, 'string'], ['state', 4, 'int32'], ['flags', 5, 'int32'],
  ],

  // ---- csi.proto ----
  'grpc.VolumeStatsResponse': [['usage', 1, 'grpc.VolumeUsage', 'rep'], ['volume_condition', 2, 'grpc.VolumeCondition']],
  'grpc.VolumeUsage': [['available', 1, 'uint64'], ['total', 2, 'uint64'], ['used', 3, 'uint64'], ['unit', 4, 'grpc.VolumeUsage.Unit']],
  'grpc.VolumeCondition': [['abnormal', 1, 'bool'], ['message', 2, 'string']],

  // ---- health.proto and the standard grpc.health.v1 ----
  'grpc.CheckRequest': [['service', 1, 'string']],
  'grpc.HealthCheckResponse': [['status', 1, 'grpc.HealthCheckResponse.ServingStatus']],
  'grpc.VersionCheckResponse': [['grpc_version', 1, 'string'], ['agent_version', 2, 'string']],
  'grpc.health.v1.HealthCheckRequest': [['service', 1, 'string']],
  'grpc.health.v1.HealthCheckResponse': [['status', 1, 'grpc.health.v1.HealthCheckResponse.ServingStatus']],
};

const ENUMS: Record<string, Record<string, number>> = {
  'types.IPFamily': { v4: 0, v6: 1 },
  'types.FSGroupChangePolicy': { Always: 0, OnRootMismatch: 1 },
  'grpc.VolumeUsage.Unit': { UNKNOWN: 0, BYTES: 1, INODES: 2 },
  'grpc.HealthCheckResponse.ServingStatus': { UNKNOWN: 0, SERVING: 1, NOT_SERVING: 2 },
  'grpc.health.v1.HealthCheckResponse.ServingStatus': { UNKNOWN: 0, SERVING: 1, NOT_SERVING: 2, SERVICE_UNKNOWN: 3 },
};

const EMPTY = 'google.protobuf.Empty';
// [method, request type, response type] for every grpc.AgentService method of Kata 3.19.
const AGENT_METHODS: Array<[string, string, string]> = [
  ['CreateContainer', 'grpc.CreateContainerRequest', EMPTY],
  ['StartContainer', 'grpc.StartContainerRequest', EMPTY],
  ['RemoveContainer', 'grpc.RemoveContainerRequest', EMPTY],
  ['ExecProcess', 'grpc.ExecProcessRequest', EMPTY],
  ['SignalProcess', 'grpc.SignalProcessRequest', EMPTY],
  ['WaitProcess', 'grpc.WaitProcessRequest', 'grpc.WaitProcessResponse'],
  ['UpdateContainer', 'grpc.UpdateContainerRequest', EMPTY],
  ['UpdateEphemeralMounts', 'grpc.UpdateEphemeralMountsRequest', EMPTY],
  ['StatsContainer', 'grpc.StatsContainerRequest', 'grpc.StatsContainerResponse'],
  ['PauseContainer', 'grpc.PauseContainerRequest', EMPTY],
  ['ResumeContainer', 'grpc.ResumeContainerRequest', EMPTY],
  ['RemoveStaleVirtiofsShareMounts', 'grpc.RemoveStaleVirtiofsShareMountsRequest', EMPTY],
  ['WriteStdin', 'grpc.WriteStreamRequest', 'grpc.WriteStreamResponse'],
  ['ReadStdout', 'grpc.ReadStreamRequest', 'grpc.ReadStreamResponse'],
  ['ReadStderr', 'grpc.ReadStreamRequest', 'grpc.ReadStreamResponse'],
  ['CloseStdin', 'grpc.CloseStdinRequest', EMPTY],
  ['TtyWinResize', 'grpc.TtyWinResizeRequest', EMPTY],
  ['UpdateInterface', 'grpc.UpdateInterfaceRequest', 'types.Interface'],
  ['UpdateRoutes', 'grpc.UpdateRoutesRequest', 'grpc.Routes'],
  ['ListInterfaces', 'grpc.ListInterfacesRequest', 'grpc.Interfaces'],
  ['ListRoutes', 'grpc.ListRoutesRequest', 'grpc.Routes'],
  ['AddARPNeighbors', 'grpc.AddARPNeighborsRequest', EMPTY],
  ['GetIPTables', 'grpc.GetIPTablesRequest', 'grpc.GetIPTablesResponse'],
  ['SetIPTables', 'grpc.SetIPTablesRequest', 'grpc.SetIPTablesResponse'],
  ['GetMetrics', 'grpc.GetMetricsRequest', 'grpc.Metrics'],
  ['CreateSandbox', 'grpc.CreateSandboxRequest', EMPTY],
  ['DestroySandbox', 'grpc.DestroySandboxRequest', EMPTY],
  ['OnlineCPUMem', 'grpc.OnlineCPUMemRequest', EMPTY],
  ['ReseedRandomDev', 'grpc.ReseedRandomDevRequest', EMPTY],
  ['GetGuestDetails', 'grpc.GuestDetailsRequest', 'grpc.GuestDetailsResponse'],
  ['MemHotplugByProbe', 'grpc.MemHotplugByProbeRequest', EMPTY],
  ['SetGuestDateTime', 'grpc.SetGuestDateTimeRequest', EMPTY],
  ['CopyFile', 'grpc.CopyFileRequest', EMPTY],
  ['GetOOMEvent', 'grpc.GetOOMEventRequest', 'grpc.OOMEvent'],
  ['AddSwap', 'grpc.AddSwapRequest', EMPTY],
  ['AddSwapPath', 'grpc.AddSwapPathRequest', EMPTY],
  ['GetVolumeStats', 'grpc.VolumeStatsRequest', 'grpc.VolumeStatsResponse'],
  ['ResizeVolume', 'grpc.ResizeVolumeRequest', EMPTY],
  ['SetPolicy', 'grpc.SetPolicyRequest', EMPTY],
  ['MemAgentMemcgSet', 'grpc.MemAgentMemcgConfig', EMPTY],
  ['MemAgentCompactSet', 'grpc.MemAgentCompactConfig', EMPTY],
  ['GetDiagnosticData', 'grpc.GetDiagnosticDataRequest', 'grpc.GetDiagnosticDataResponse'],
];

function fullName(obj: { fullName: string }): string {
  return obj.fullName;
}

/** Describes a field of our schema in the same form as the FIELDS table. */
function describeField(field: Field): FieldFact {
  let label = '';
  if (field.map) label = `map:${field.keyType}`;
  else if (field.repeated) label = 'rep';
  else if (field.oneof) label = field.oneof === `_${field.name}` ? 'opt' : `oneof:${field.oneof}`;
  return label ? [field.name, field.id, field.type, label] : [field.name, field.id, field.type];
}

describe('schema field facts (Kata 3.19)', () => {
  test.each(Object.entries(FIELDS))('%s has exactly the known fields', (name, facts) => {
    const ours = messageType(name).fieldsArray.map(describeField);
    const byId = (a: FieldFact, b: FieldFact) => a[1] - b[1];
    const expected = facts.map((f): FieldFact => (f[3] ? f : [f[0], f[1], f[2]]));
    expect(ours.sort(byId)).toEqual(expected.sort(byId));
  });

  test.each(Object.entries(ENUMS))('enum %s has the known values', (name, values) => {
    const en = enumType(name);
    expect(en.values).toEqual(values);
  });

  test('repeated scalars are packed, as proto3 (and the Go runtime) encode them', () => {
    expect(messageType('grpc.User').fields.AdditionalGids!.packed).toBe(true);
    expect(messageType('grpc.AddSwapRequest').fields.PCIPath!.packed).toBe(true);
    expect(messageType('grpc.CpuUsage').fields.percpu_usage!.packed).toBe(true);
    // On the wire: ONE length-delimited field (tag = number << 3 | 2, then the byte length) holding
    // the varints back to back; unpacked would be one tag per element (1a 01 1a 02 1a ac 02).
    const hex = (type: string, value: Record<string, unknown>) => Buffer.from(encodeMessage(messageType(type), value)).toString('hex');
    expect(hex('grpc.User', { AdditionalGids: [1, 2, 300] })).toBe('1a04' + '01' + '02' + 'ac02'); // field 3, 4 bytes
    expect(hex('grpc.AddSwapRequest', { PCIPath: [2, 0] })).toBe('0a02' + '02' + '00'); // field 1, 2 bytes
    expect(hex('grpc.CpuUsage', { percpu_usage: ['1', '2', '300'] })).toBe('1204' + '01' + '02' + 'ac02'); // field 2 (uint64)
  });
});

describe('services', () => {
  test('grpc.AgentService has all 42 methods with their request and response types', () => {
    const ours = serviceMethods(AGENT_SERVICE).map((m) => [m.method, fullName(m.requestType), fullName(m.responseType)]);
    expect(AGENT_METHODS).toHaveLength(42);
    expect(ours.sort()).toEqual([...AGENT_METHODS].sort());
    for (const m of serviceMethods(AGENT_SERVICE)) {
      expect(m.service).toBe('grpc.AgentService');
      expect(m.requestStream || m.responseStream).toBe(false);
    }
  });

  test('grpc.Health: Check and Version', () => {
    const check = findMethod(HEALTH_SERVICE, 'Check');
    const version = findMethod(HEALTH_SERVICE, 'Version');
    expect(check && [fullName(check.requestType), fullName(check.responseType)]).toEqual(['grpc.CheckRequest', 'grpc.HealthCheckResponse']);
    expect(version && [fullName(version.requestType), fullName(version.responseType)]).toEqual(['grpc.CheckRequest', 'grpc.VersionCheckResponse']);
    expect(serviceMethods(HEALTH_SERVICE).map((m) => m.method).sort()).toEqual(['Check', 'Version']);
  });

  test('grpc.health.v1.Health: unary Check and server-streaming Watch', () => {
    const methods = serviceMethods('grpc.health.v1.Health');
    expect(methods.map((m) => [m.method, fullName(m.requestType), fullName(m.responseType), m.requestStream, m.responseStream])).toEqual([
      ['Check', 'grpc.health.v1.HealthCheckRequest', 'grpc.health.v1.HealthCheckResponse', false, false],
      ['Watch', 'grpc.health.v1.HealthCheckRequest', 'grpc.health.v1.HealthCheckResponse', false, true],
    ]);
  });

  test('unknown services and methods are reported as absent, unknown types throw a clear error', () => {
    expect(serviceMethods('grpc.NoSuchService')).toEqual([]);
    expect(findMethod(AGENT_SERVICE, 'NoSuchMethod')).toBeUndefined();
    expect(() => messageType('grpc.NoSuchRequest')).toThrow(/no message type "grpc.NoSuchRequest"/);
    expect(() => messageType('grpc.AgentService')).toThrow(/no message type "grpc.AgentService" \(it is a Service\)/);
  });

  test('each type is built once and shared', () => {
    expect(messageType('.grpc.Storage')).toBe(messageType('grpc.Storage'));
    expect(enumType('types.IPFamily')).toBe(enumType('.types.IPFamily'));
  });
});
