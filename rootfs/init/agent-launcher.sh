#!/bin/busybox sh
# /sbin/init of the final image: PID 1 is the agent itself (exec keeps the PID). The agent does
# every init duty itself (from an initramfs it first re-roots, so that crun can pivot_root).
# The image builder's V8 startup snapshot of the bundle starts faster (already loaded, its schema
# parsed); "--" ends node's options so the agent's own follow.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
[ -f /usr/lib/kata-agent/agent.blob ] && exec /usr/bin/node --snapshot-blob /usr/lib/kata-agent/agent.blob -- "$@"
exec /usr/bin/node /usr/lib/kata-agent/agent.js "$@"
