// The error storage work gives up with when its call's AbortSignal fires, and how the service
// boundary reports it: DEADLINE_EXCEEDED at a deadline, CANCELLED when the client went away.
import { describe, expect, it } from 'vitest';
import { abortedBy, untilAborted } from '../../agent/src/storage/call-deadline';
import { Code, RpcError, statusFromError } from '../../agent/src/ttrpc/status';

describe('call deadline', () => {
  it('maps the abort reasons of ttRPC, gRPC and AbortSignal.timeout to a status', () => {
    const op = 'mount virtio-fs kataShared at /run/x';
    expect(statusFromError(abortedBy(op, new RpcError(Code.DEADLINE_EXCEEDED, 'CreateContainer: deadline of 30000 ms exceeded')))).toEqual({
      code: Code.DEADLINE_EXCEEDED,
      message: `${op}: not done by the call's deadline`,
    });
    expect(abortedBy(op, new RpcError(Code.CANCELLED, 'client cancelled')).code).toBe(Code.CANCELLED);
    expect(abortedBy(op, new DOMException('timed out', 'TimeoutError')).code).toBe(Code.DEADLINE_EXCEEDED);
    expect(abortedBy(op, new DOMException('aborted', 'AbortError')).code).toBe(Code.CANCELLED);
  });

  it('rejects at the abort while the awaited work goes on, and passes its result through otherwise', async () => {
    const abort = new AbortController();
    let finish!: (v: string) => void;
    const work = new Promise<string>((resolve) => (finish = resolve));
    const bounded = untilAborted(work, abort.signal, 'op');
    abort.abort(new RpcError(Code.DEADLINE_EXCEEDED, 'deadline'));
    await expect(bounded).rejects.toMatchObject({ code: Code.DEADLINE_EXCEEDED, message: "op: not done by the call's deadline" });
    finish('late');
    expect(await work).toBe('late');

    await expect(untilAborted(Promise.resolve('ok'), new AbortController().signal, 'op')).resolves.toBe('ok');
    await expect(untilAborted(Promise.reject(new Error('own failure')), new AbortController().signal, 'op')).rejects.toThrow('own failure');
    await expect(untilAborted(Promise.resolve('ok'), AbortSignal.abort(), 'op')).rejects.toMatchObject({ code: Code.CANCELLED });
  });
});
