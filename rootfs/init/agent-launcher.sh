#!/bin/busybox sh
# /sbin/init of the final image: PID 1 is the agent itself (exec keeps the PID).
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
bb=/bin/busybox
agent="/usr/bin/node /usr/lib/kata-agent/agent.js"
# The image builder's V8 startup snapshot of the same bundle starts faster (already loaded and
# its schema parsed); "--" ends node's options so the agent's own follow.
[ -f /usr/lib/kata-agent/agent.blob ] && agent="/usr/bin/node --snapshot-blob /usr/lib/kata-agent/agent.blob --"

# From an initrd, / is the kernel's initramfs ("rootfs" mount), which pivot_root(2) refuses
# (EINVAL), so crun could start no container. Run the agent on a bind mount of it, moved onto /
# (as switch_root does) and chrooted into: that root has a parent mount and can be pivoted.
# (Node has no chroot, so this is done here, before the agent starts.)
$bb mount -t proc proc /proc
initramfs=no
$bb grep -q '^[0-9]* [0-9]* [0-9:]* / / .* - rootfs ' /proc/self/mountinfo && initramfs=yes
$bb umount /proc
if [ "$initramfs" = yes ]; then
  $bb mount --bind / /mnt && cd /mnt && $bb mount --move . / && exec $bb chroot . $agent "$@"
  echo "init: cannot re-root the initramfs; containers will fail to pivot_root" >&2
  cd /
fi
exec $agent "$@"
