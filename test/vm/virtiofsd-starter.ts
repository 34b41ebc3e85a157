// A process that starts virtiofsd the way a boot does and then just stays (bundled and run by
// virtiofsd.test.ts, which SIGKILLs it): virtiofsd must die with it. argv[2]: the start as JSON.
import { startVirtiofsd, type VirtiofsdStart } from '../../image-builder/src/qemu/virtiofsd-daemon';

const start = JSON.parse(process.argv[2]!) as VirtiofsdStart;
const daemon = await startVirtiofsd(start);
process.stdout.write(`${JSON.stringify({ pid: daemon.pid })}\n`);
setInterval(() => {}, 1 << 30);
