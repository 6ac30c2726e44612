#define _GNU_SOURCE
#include "cspawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <grp.h>
#include <sched.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int agentos_pipe(int fds[2]) {
    if (pipe2(fds, O_CLOEXEC) != 0) return -errno;
    /* Only the parent's read end is non-blocking: the child must see an ordinary, blocking stdout. */
    int flags = fcntl(fds[0], F_GETFL);
    if (flags < 0 || fcntl(fds[0], F_SETFL, flags | O_NONBLOCK) != 0) {
        int saved = errno;
        close(fds[0]);
        close(fds[1]);
        fds[0] = fds[1] = -1;
        return -saved;
    }
    return 0;
}

int agentos_open_path(const char *path) {
    int fd = open(path, O_PATH | O_CLOEXEC | O_NOFOLLOW);
    return fd >= 0 ? fd : -errno;
}

/* Writes all of `text` to the file at `path`; 0 or -errno. Async-signal-safe. */
static int write_file(const char *path, const char *text, size_t length) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    ssize_t written = write(fd, text, length);
    int saved = errno;
    close(fd);
    if (written < 0) return -saved;
    return written == (ssize_t)length ? 0 : -EIO;
}

/* Closes descriptors first..last. Async-signal-safe. */
static void close_from(unsigned first, unsigned last) {
    if (syscall(SYS_close_range, first, last, 0) == 0) return;
    for (unsigned fd = first; fd <= last && fd < 65536; fd++) close((int)fd);
}

/* Reports `error` (an errno) to the parent and exits; the parent turns it into -errno. */
static void fail_child(int report_fd, int error) {
    int value = error;
    (void)!write(report_fd, &value, sizeof value);
    _exit(127);
}

pid_t agentos_spawn_sandboxed(const struct agentos_sandbox_spawn *request) {
    /* Everything the child needs is prepared here: after fork, only async-signal-safe calls. */
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) return -errno;
    int dropping = request->uid != (uid_t)-1 && geteuid() == 0;
    uid_t uid = dropping ? request->uid : getuid();
    gid_t gid = dropping ? request->gid : getgid();
    char uid_map[64], gid_map[64];
    int uid_map_length = snprintf(uid_map, sizeof uid_map, "0 %u 1\n", (unsigned)uid);
    int gid_map_length = snprintf(gid_map, sizeof gid_map, "0 %u 1\n", (unsigned)gid);
    pid_t parent = getpid();
    int high = request->fd_count + 3;
    if (high < 64) high = 64;

    pid_t pid = fork();
    if (pid < 0) {
        int saved = errno;
        close(report[0]);
        close(report[1]);
        return -saved;
    }
    if (pid == 0) {
        /* Keep the report pipe clear of the descriptors about to be put in place. */
        int report_fd = fcntl(report[1], F_DUPFD_CLOEXEC, high);
        if (report_fd < 0) fail_child(report[1], errno);
        sigset_t empty;
        sigemptyset(&empty);
        struct sigaction fallback = {0};
        fallback.sa_handler = SIG_DFL;
        for (int signal_number = 1; signal_number < NSIG; signal_number++) sigaction(signal_number, &fallback, NULL);
        sigprocmask(SIG_SETMASK, &empty, NULL);
        if (setsid() < 0) fail_child(report_fd, errno);
        /* Die with the worker, even when it is killed outright (bubblewrap also does this for
           the sandbox it starts). The parent is the thread that forked: callers fork from
           threads that outlive the child. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) fail_child(report_fd, errno);
        if (getppid() != parent) _exit(127);
        if (dropping) {
            if (setgroups(0, NULL) != 0) fail_child(report_fd, errno);
            if (setresgid(gid, gid, gid) != 0) fail_child(report_fd, errno);
            if (setresuid(uid, uid, uid) != 0) fail_child(report_fd, errno);
            /* Changing uid made the process non-dumpable, which hands /proc/self to root and
               stops the uid_map writes below. Only this uid could then trace it. */
            if (prctl(PR_SET_DUMPABLE, 1) != 0) fail_child(report_fd, errno);
        }
        if (request->new_user_namespace) {
            /* The host-level process count of this uid must not bound the sandbox (a desktop
               user has many processes): no limit out here, the sandbox's own limit inside. */
            struct rlimit unlimited;
            if (getrlimit(RLIMIT_NPROC, &unlimited) == 0) {
                unlimited.rlim_cur = unlimited.rlim_max;
                setrlimit(RLIMIT_NPROC, &unlimited);
            }
            int flags = CLONE_NEWUSER | (request->new_network_namespace ? CLONE_NEWNET : 0);
            if (unshare(flags) != 0) fail_child(report_fd, errno);
            int rc = write_file("/proc/self/setgroups", "deny", 4);
            if (rc == 0) rc = write_file("/proc/self/uid_map", uid_map, (size_t)uid_map_length);
            if (rc == 0) rc = write_file("/proc/self/gid_map", gid_map, (size_t)gid_map_length);
            if (rc != 0) fail_child(report_fd, -rc);
        }
        for (int i = 0; i < request->limit_count; i++) {
            struct rlimit limit = {(rlim_t)request->limits[i].soft, (rlim_t)request->limits[i].hard};
            if (setrlimit(request->limits[i].resource, &limit) != 0) fail_child(report_fd, errno);
        }
        /* Move the wanted descriptors out of the way, then into place; close everything else. */
        int moved[request->fd_count > 0 ? request->fd_count : 1];
        for (int i = 0; i < request->fd_count; i++) {
            moved[i] = fcntl(request->fds[i], F_DUPFD_CLOEXEC, high);
            if (moved[i] < 0) fail_child(report_fd, errno);
        }
        for (int i = 0; i < request->fd_count; i++) {
            if (dup2(moved[i], i) < 0) fail_child(report_fd, errno);
        }
        /* Nothing else the worker holds (sockets, databases) may reach the sandbox. */
        if (report_fd > request->fd_count) close_from(request->fd_count, (unsigned)report_fd - 1);
        close_from((unsigned)report_fd + 1, ~0U);
        if (request->cwd != NULL && chdir(request->cwd) != 0) fail_child(report_fd, errno);
        execve(request->path, request->argv, request->envp);
        fail_child(report_fd, errno);
    }
    close(report[1]);
    int child_error = 0;
    ssize_t got;
    do {
        got = read(report[0], &child_error, sizeof child_error);
    } while (got < 0 && errno == EINTR);
    close(report[0]);
    if (got == (ssize_t)sizeof child_error) {
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
        return -(child_error != 0 ? child_error : EIO);
    }
    return pid;
}

int agentos_socketpair(int type, int fds[2]) {
    return socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, fds) == 0 ? 0 : -errno;
}

int agentos_send_with_fds(int socket, const void *bytes, size_t length, const int *fds, int fd_count) {
    if (fd_count < 0 || fd_count > 16) return -EINVAL;
    union {
        char buffer[CMSG_SPACE(16 * sizeof(int))];
        struct cmsghdr align;
    } control;
    memset(&control, 0, sizeof control);
    struct iovec part = {(void *)bytes, length};
    struct msghdr message = {0};
    message.msg_iov = &part;
    message.msg_iovlen = 1;
    if (fd_count > 0) {
        message.msg_control = control.buffer;
        message.msg_controllen = CMSG_SPACE(fd_count * sizeof(int));
        struct cmsghdr *header = CMSG_FIRSTHDR(&message);
        header->cmsg_level = SOL_SOCKET;
        header->cmsg_type = SCM_RIGHTS;
        header->cmsg_len = CMSG_LEN(fd_count * sizeof(int));
        memcpy(CMSG_DATA(header), fds, fd_count * sizeof(int));
    }
    ssize_t sent;
    do {
        sent = sendmsg(socket, &message, MSG_NOSIGNAL);
    } while (sent < 0 && errno == EINTR);
    if (sent < 0) return -errno;
    return sent == (ssize_t)length ? 0 : -EIO;
}

long agentos_receive_with_fd(int socket, void *bytes, size_t capacity, int *fd) {
    *fd = -1;
    union {
        char buffer[CMSG_SPACE(4 * sizeof(int))];
        struct cmsghdr align;
    } control;
    struct iovec part = {bytes, capacity};
    struct msghdr message = {0};
    message.msg_iov = &part;
    message.msg_iovlen = 1;
    message.msg_control = control.buffer;
    message.msg_controllen = sizeof control.buffer;
    ssize_t got;
    do {
        got = recvmsg(socket, &message, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    } while (got < 0 && errno == EINTR);
    if (got < 0) return -errno;
    for (struct cmsghdr *header = CMSG_FIRSTHDR(&message); header != NULL; header = CMSG_NXTHDR(&message, header)) {
        if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) continue;
        int count = (int)((header->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        int *received = (int *)CMSG_DATA(header);
        for (int i = 0; i < count; i++) {
            if (*fd < 0) *fd = received[i];
            else close(received[i]);
        }
    }
    return (long)got;
}

int agentos_memfd(const char *name, const void *bytes, size_t length) {
    int fd = memfd_create(name, MFD_CLOEXEC);
    if (fd < 0) return -errno;
    const char *next = bytes;
    while (bytes != NULL && length > 0) {
        ssize_t written = write(fd, next, length);
        if (written < 0 && errno == EINTR) continue;
        if (written <= 0) {
            int saved = written < 0 ? errno : EIO;
            close(fd);
            return -saved;
        }
        next += written;
        length -= (size_t)written;
    }
    if (lseek(fd, 0, SEEK_SET) != 0) {
        int saved = errno;
        close(fd);
        return -saved;
    }
    return fd;
}

int agentos_pidfd_signal(int pidfd, int signal) {
    return syscall(SYS_pidfd_send_signal, pidfd, signal, NULL, 0) == 0 ? 0 : -errno;
}

#ifdef SYS_clone3
const long agentos_sys_clone3 = SYS_clone3;
#else
const long agentos_sys_clone3 = -1;
#endif
const long agentos_sys_pivot_root = SYS_pivot_root;
