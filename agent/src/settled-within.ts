// Waiting a bounded time for work that may never end (a syscall stuck on a filesystem whose
// server stopped, on a thread of its own): the caller goes on, the work is left to finish alone.

/**
 * `pending`'s value when it settles within `ms`, its rejection likewise; 'slow' when it has not
 * by then. A slow `pending` goes on, and whatever it ends with later is dropped.
 */
export async function settledWithin<T>(pending: Promise<T>, ms: number): Promise<{ value: T } | 'slow'> {
  let timer: NodeJS.Timeout | undefined;
  const slow = new Promise<'slow'>((resolve) => {
    timer = setTimeout(() => resolve('slow'), ms);
  });
  try {
    const outcome = await Promise.race([pending.then((value) => ({ value })), slow]);
    if (outcome === 'slow') pending.catch(() => undefined);
    return outcome;
  } finally {
    clearTimeout(timer);
  }
}
