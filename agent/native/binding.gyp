{
  "targets": [
    {
      "target_name": "kata_native",
      "sources": [
        "src/addon.c",
        "src/napi_helpers.c",
        "src/poll_watch.c",
        "src/fd_io.c",
        "src/vsock.c",
        "src/fd_passing.c",
        "src/process_exit.c",
        "src/orphan_reaper.c",
        "src/mount.c",
        "src/namespaces.c",
        "src/system.c",
        "src/terminal.c",
        "src/netlink.c",
        "src/guest_ops.c",
        "src/spawn.c",
        "src/beneath.c",
        "src/blocking_calls.c"
      ],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags_c": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-O2"]
    },
    {
      "target_name": "kata_agent_init",
      "type": "executable",
      "sources": ["src/init_launcher.c"],
      "cflags_c": ["-std=gnu11", "-Wall", "-Wextra", "-Os"],
      "ldflags": ["-static", "-s"]
    }
  ]
}
