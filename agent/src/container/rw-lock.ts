// Per-container ordering: execs, signals and reads run side by side (shared), while create,
// start, remove, pause, resume and update take the container alone (exclusive). Nothing here
// spans containers, so one slow container never holds up another.
export class RwLock {
  #readers = 0;
  #writer = false;
  #waiting: Array<{ exclusive: boolean; wake: () => void }> = [];

  async shared<T>(fn: () => Promise<T>): Promise<T> {
    await this.#acquire(false);
    try {
      return await fn();
    } finally {
      this.#readers--;
      this.#next();
    }
  }

  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    await this.#acquire(true);
    try {
      return await fn();
    } finally {
      this.#writer = false;
      this.#next();
    }
  }

  #acquire(exclusive: boolean): Promise<void> {
    if (this.#canEnter(exclusive) && this.#waiting.length === 0) {
      this.#enter(exclusive);
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#waiting.push({ exclusive, wake: resolve }));
  }

  #canEnter(exclusive: boolean): boolean {
    return exclusive ? !this.#writer && this.#readers === 0 : !this.#writer;
  }

  #enter(exclusive: boolean): void {
    if (exclusive) this.#writer = true;
    else this.#readers++;
  }

  #next(): void {
    // First come, first served: a waiting writer is not starved by later readers.
    while (this.#waiting.length > 0 && this.#canEnter(this.#waiting[0]!.exclusive)) {
      const w = this.#waiting.shift()!;
      this.#enter(w.exclusive);
      w.wake();
      if (w.exclusive) return;
    }
  }
}
