// Preloaded into an agent process (node --require) by tests: on the IPC message 'throw', throws
// an Error from a callback of the event loop, where nothing catches it (uncaughtException).
process.on('message', (msg) => {
  if (msg === 'throw') {
    setImmediate(() => {
      throw new Error('thrown by uncaught-exception-probe');
    });
  }
});
