#!/bin/busybox sh
# Test init, used until the agent can run as PID 1: proves the boot path and that Node and the
# agent bundle start in the guest, then powers off. Selected with `--init test-shell`.
# Kernel command-line words of the form key=value (without a dot) arrive here as variables:
#   kata_test=check  (default) print Node's version and check the agent bundle loads its addons
#   kata_test=agent  run the agent bundle in the foreground; power off when it exits
#   kata_test=shell  a busybox shell on the console; power off when it exits
# Console markers for tests: "KATA-TEST-INIT: started", then KATA_GUEST_EXIT_STATUS=<n> before poweroff.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
bb=/bin/busybox
$bb mount -t proc proc /proc
$bb mount -t sysfs sysfs /sys
$bb mountpoint -q /dev || $bb mount -t devtmpfs devtmpfs /dev
$bb mount -t tmpfs -o mode=0755 tmpfs /run
$bb mountpoint -q /tmp || $bb mount -t tmpfs -o mode=1777 tmpfs /tmp
echo "KATA-TEST-INIT: started (kernel $($bb uname -r))"
echo "KATA-TEST-INIT: root mount: $($bb grep -m1 ' / ' /proc/mounts || echo initramfs)"
agent=/usr/lib/kata-agent/agent.js
case "${kata_test:-check}" in
  agent)
    /usr/bin/node "$agent"
    status=$?
    echo "KATA-TEST-INIT: agent exited with status $status"
    ;;
  shell)
    $bb sh
    status=$?
    ;;
  *)
    /usr/bin/node -e 'console.log("KATA-TEST-INIT: node " + process.version + " ok")'
    status=$?
    if [ -f "$agent" ]; then echo "KATA-TEST-INIT: agent bundle present"; fi
    ;;
esac
echo "KATA_GUEST_EXIT_STATUS=$status"
echo "KATA-TEST-INIT: powering off"
$bb sync
$bb poweroff -f
