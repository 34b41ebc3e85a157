export { bootVm, type VmExit, type VmHandle } from './boot-vm';
export type { Accel, BootMedia, BootOptions, ExtraDisk, NinePShare } from './boot-options';
export { resolveAccel } from './accel';
export { qemuArgs, AGENT_PORT_NAME } from './qemu-args';
export { kernelCmdline, KATA_BASE_CMDLINE } from './kernel-cmdline';
export { bootMain } from './cli';
export { QmpMonitor, qemuQmpArgs, type QmpEvent } from './qmp';
