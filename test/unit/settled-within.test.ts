// settledWithin: a bounded wait on work that may never end.
import { describe, expect, it } from 'vitest';
import { settledWithin } from '../../agent/src/settled-within';

describe('settledWithin', () => {
  it('gives the value or the rejection of work that settles in time, and "slow" for work that does not', async () => {
    expect(await settledWithin(Promise.resolve(7), 1000)).toEqual({ value: 7 });
    await expect(settledWithin(Promise.reject(new Error('boom')), 1000)).rejects.toThrow('boom');
    let fail!: (err: Error) => void;
    const never = new Promise<number>((_, reject) => (fail = reject));
    expect(await settledWithin(never, 20)).toBe('slow');
    // What it ends with later is dropped, not an unhandled rejection.
    fail(new Error('late'));
    await new Promise((r) => setImmediate(r));
  });
});
