#!/bin/busybox sh
# /sbin/init of the final image: PID 1 is the agent itself (exec keeps the PID).
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
exec /usr/bin/node /usr/lib/kata-agent/agent.js "$@"
