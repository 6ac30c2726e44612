#ifndef AGENTOS_CSPAWN_H
#define AGENTOS_CSPAWN_H

#include <sys/types.h>

/// Creates a close-on-exec pipe whose read end (fds[0]) is non-blocking. Returns 0 or -errno.
int agentos_pipe(int fds[2]);

/// Opens `path` with O_PATH (no access to its contents, not following a final link), close-on-exec.
/// Returns the descriptor, or -errno.
int agentos_open_path(const char *path);

/// A resource limit set in a sandboxed child before it runs anything.
struct agentos_rlimit {
    int resource;
    unsigned long long soft;
    unsigned long long hard;
};

/// What `agentos_spawn_sandboxed` does in the child between fork and exec.
struct agentos_sandbox_spawn {
    const char *path;
    char *const *argv;
    char *const *envp;
    const char *cwd;
    /// fds[i] becomes descriptor i in the child; every other descriptor is closed.
    const int *fds;
    int fd_count;
    /// When the parent runs as root and `uid` is not (uid_t)-1: drop to this uid and gid
    /// (no supplementary groups) before anything else.
    uid_t uid;
    gid_t gid;
    /// Create a user namespace in which the (possibly new) uid and gid are 0, so the program
    /// (bubblewrap) can set up its own namespaces without any privilege on the host.
    int new_user_namespace;
    /// With the user namespace, also a network namespace: only a loopback device, left down.
    int new_network_namespace;
    /// Limits set inside the user namespace (RLIMIT_NPROC there counts only this sandbox).
    const struct agentos_rlimit *limits;
    int limit_count;
};

/// Forks and execs as `request` says. Returns the child's pid, or -errno when the fork, one
/// of the child's set-up steps or the exec failed (the child's errno is passed back).
pid_t agentos_spawn_sandboxed(const struct agentos_sandbox_spawn *request);

/// A close-on-exec socket pair of `type` (SOCK_STREAM or SOCK_SEQPACKET). Returns 0 or -errno.
int agentos_socketpair(int type, int fds[2]);

/// Sends `length` bytes and `fd_count` descriptors (SCM_RIGHTS) in one message on `socket`,
/// without SIGPIPE. Returns 0 or -errno.
int agentos_send_with_fds(int socket, const void *bytes, size_t length, const int *fds, int fd_count);

/// Receives one message of up to `capacity` bytes on `socket`, with at most one descriptor
/// (SCM_RIGHTS, made close-on-exec) put in `*fd` (-1 when none came). Returns the byte count
/// (0 at end of stream) or -errno.
long agentos_receive_with_fd(int socket, void *bytes, size_t capacity, int *fd);

/// A close-on-exec memory file holding `length` bytes (none when `bytes` is NULL), read from
/// its start: what a sandbox reads once, at a descriptor number, without a file on disk.
/// Returns the descriptor, or -errno.
int agentos_memfd(const char *name, const void *bytes, size_t length);

/// Sends `signal` to the process a pidfd refers to. Returns 0 or -errno.
int agentos_pidfd_signal(int pidfd, int signal);

/// This architecture's system call numbers of `clone3` and `pivot_root`, which the fork
/// servers call through `syscall` (-1 where these headers do not know the call).
extern const long agentos_sys_clone3;
extern const long agentos_sys_pivot_root;

#endif
