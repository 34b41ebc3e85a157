// A process's standard streams through the agent's pull calls: ReadStdout/ReadStderr until the
// end of output (an OUT_OF_RANGE status, or an empty reply from Kata's agent >= 3.27), WriteStdin until every byte is taken, CloseStdin at the end of input.
import type { OutputStreamName } from '../client/agent-client';
import type { AgentSession } from './session';

/** Bytes per read call: large enough that fast output needs few round trips. */
const READ_LEN = 1024 * 1024;

/** Copies one output stream of a process to `sink` until EOF; returns the byte count. */
export async function drainOutput(session: AgentSession, containerId: string, execId: string, which: OutputStreamName, sink: (chunk: Buffer) => void): Promise<number> {
  let total = 0;
  for (;;) {
    const data = await session.readOutput(containerId, execId, which, READ_LEN);
    if (data === null) return total;
    total += data.length;
    sink(data);
  }
}

/** Writes `data` to the process's stdin; the agent may take fewer bytes per call. */
export async function writeInput(session: AgentSession, containerId: string, execId: string, data: Buffer): Promise<void> {
  let offset = 0;
  while (offset < data.length) {
    const { len } = await session.request('WriteStdin', { container_id: containerId, exec_id: execId, data: data.subarray(offset) }, { blocking: true });
    if (len === 0) throw new Error(`write stdin of ${execId || containerId}: the agent took no bytes`);
    offset += len;
  }
}

/** Forwards a readable stream to the process's stdin, then closes it. */
export async function pumpInput(session: AgentSession, containerId: string, execId: string, input: NodeJS.ReadableStream): Promise<void> {
  for await (const chunk of input) {
    const data = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
    if (data.length > 0) await writeInput(session, containerId, execId, data);
  }
  await session.request('CloseStdin', { container_id: containerId, exec_id: execId });
}

/**
 * Streams a started process's output to the sink (stderr bytes too: a container's stderr is
 * data, not agent-ctl's messages), feeds it `input` if given, then returns its exit status.
 * A terminal has one stream (stdout); reading to EOF first means no output written just
 * before the exit is lost.
 */
export async function attachAndWait(
  session: AgentSession,
  containerId: string,
  execId: string,
  sink: { stdout(chunk: Buffer): void; stderr(chunk: Buffer): void },
  opts: { terminal?: boolean; input?: NodeJS.ReadableStream } = {},
): Promise<number> {
  const streams: Array<Promise<unknown>> = [drainOutput(session, containerId, execId, 'stdout', (c) => sink.stdout(c))];
  if (!opts.terminal) streams.push(drainOutput(session, containerId, execId, 'stderr', (c) => sink.stderr(c)));
  // Not waited for: a process may exit without reading its input to the end.
  if (opts.input) void pumpInput(session, containerId, execId, opts.input).catch(() => undefined);
  await Promise.all(streams);
  const { status } = await session.request('WaitProcess', { container_id: containerId, exec_id: execId }, { blocking: true });
  return status;
}
