// Awaits a promise that must reject with an RpcError, and returns that error for assertions.
import { expect } from 'vitest';
import { RpcError } from '../../agent/src/ttrpc/status';

export async function rpcRejection(p: Promise<unknown>): Promise<RpcError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(RpcError);
    return err as RpcError;
  }
  throw new Error('the call succeeded; expected it to reject with an RpcError');
}
