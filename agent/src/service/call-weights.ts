// What each agent method holds while it runs, for the ttRPC server's budgets (ttrpc/admission.ts):
// a connection's running calls may hold 32 units, the agent's 128 (16 of them kept for weight-1
// calls). Weights are coarse on purpose: 1 for a call that touches one small thing, HEAVY for one
// that spawns a process, reads many files or moves megabytes (a GetMetrics page, a CopyFile
// chunk, a container's setup), and LONG_POLL for a call that waits for an event outside the
// agent (a process exit, output, an OOM kill) and is limited by count instead.
import { LONG_POLL, type CallWeight } from '../ttrpc/admission';
import { AGENT_SERVICE } from '../proto/schema';

export const HEAVY = 4;

const AGENT_METHOD_WEIGHTS: Readonly<Record<string, number>> = {
  // Wait for outside events; Kata keeps some open for the life of every process.
  WaitProcess: LONG_POLL,
  ReadStdout: LONG_POLL,
  ReadStderr: LONG_POLL,
  WriteStdin: LONG_POLL, // waits while the process does not read its stdin
  GetOOMEvent: LONG_POLL,
  // Spawn processes, walk cgroups or /proc, mount, or carry large messages.
  CreateSandbox: HEAVY,
  DestroySandbox: HEAVY,
  CreateContainer: HEAVY,
  StartContainer: HEAVY,
  RemoveContainer: HEAVY,
  ExecProcess: HEAVY,
  StatsContainer: HEAVY,
  GetMetrics: HEAVY,
  GetDiagnosticData: HEAVY,
  GetGuestDetails: HEAVY,
  CopyFile: HEAVY,
  GetIPTables: HEAVY,
  SetIPTables: HEAVY,
  ListInterfaces: HEAVY,
  ListRoutes: HEAVY,
  UpdateInterface: HEAVY,
  UpdateRoutes: HEAVY,
  UpdateEphemeralMounts: HEAVY,
  RemoveStaleVirtiofsShareMounts: HEAVY,
  GetVolumeStats: HEAVY,
  ResizeVolume: HEAVY,
  AddSwap: HEAVY,
  AddSwapPath: HEAVY,
  MemHotplugByProbe: HEAVY,
  OnlineCPUMem: HEAVY,
  SetPolicy: HEAVY,
};

/** Health, SignalProcess, TtyWinResize and the rest weigh 1. */
export const agentCallWeight: CallWeight = (service, method) =>
  (service === AGENT_SERVICE ? AGENT_METHOD_WEIGHTS[method] : undefined) ?? 1;
