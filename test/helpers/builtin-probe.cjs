// Preloaded into an agent process (node --require) by tests: answers, over the IPC channel,
// which of Node's built-in modules the process has loaded so far.
process.on('message', (msg) => {
  if (msg === 'builtins') {
    const names = process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice('NativeModule '.length));
    process.send(names);
  }
});
