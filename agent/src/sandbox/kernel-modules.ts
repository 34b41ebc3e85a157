// CreateSandbox.kernel_modules: each loaded with modprobe and its parameters.
import { execFile } from 'node:child_process';
import type { KernelModule } from '../proto/messages.generated';
import { Code, RpcError } from '../ttrpc/status';

export function loadKernelModule(mod: KernelModule, modprobe = 'modprobe'): Promise<void> {
  if (!/^[A-Za-z0-9_-]+$/.test(mod.name)) {
    return Promise.reject(new RpcError(Code.INVALID_ARGUMENT, `load kernel module "${mod.name}": not a module name`));
  }
  return new Promise((resolve, reject) => {
    execFile(modprobe, ['--', mod.name, ...mod.parameters], (err, _stdout, stderr) => {
      if (!err) return resolve();
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        return reject(new RpcError(Code.FAILED_PRECONDITION, `load kernel module ${mod.name}: ${modprobe} is not installed in the guest`));
      }
      reject(new RpcError(Code.INTERNAL, `load kernel module ${mod.name}: modprobe failed: ${stderr.trim() || err.message}`));
    });
  });
}
