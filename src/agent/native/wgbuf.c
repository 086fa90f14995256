/*
 * hn-wgbuf IFACE BYTES: sets the UDP socket buffers (receive and send) of the wireguard-go daemon of
 * interface IFACE to BYTES, as wireguard-go itself does from 2023 on (Debian's 2022 build keeps the
 * 208 KiB default, and its receiving socket then overflows under one TCP flow: each drop costs a
 * retransmission of a packet already encrypted once). The daemon's sockets are borrowed with
 * pidfd_getfd(2) (root, or CAP_SYS_PTRACE over it) and raised with SO_RCVBUFFORCE/SO_SNDBUFFORCE.
 *
 * The daemon is the process whose command line is exactly "wireguard-go IFACE" in this process's
 * network namespace (the control socket directory is shared by all namespaces, the names differ).
 * Prints "ok N" with the number of UDP sockets set; exits 1 when there was none.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

/* True when /proc/PID/cmdline is "wireguard-go\0IFACE\0" (argv[0] may be a path). */
static int is_daemon(const char *pid, const char *iface) {
  char path[300], buf[256];
  snprintf(path, sizeof path, "/proc/%s/cmdline", pid);
  int fd = open(path, O_RDONLY);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  const char *arg0 = buf, *base = strrchr(arg0, '/');
  base = base ? base + 1 : arg0;
  size_t l0 = strlen(arg0);
  if (strcmp(base, "wireguard-go") != 0 || (ssize_t)(l0 + 1) >= n) return 0;
  const char *arg1 = buf + l0 + 1;
  return strcmp(arg1, iface) == 0 && (ssize_t)(l0 + 1 + strlen(arg1) + 1) == n;
}

/* Same network namespace as ours: another namespace's daemon of the same name is not ours to touch. */
static int same_netns(const char *pid) {
  char path[300];
  struct stat a, b;
  snprintf(path, sizeof path, "/proc/%s/ns/net", pid);
  if (stat(path, &a) != 0 || stat("/proc/self/ns/net", &b) != 0) return 0;
  return a.st_ino == b.st_ino && a.st_dev == b.st_dev;
}

/* Raises every UDP socket of the process; returns how many, or -1 on an error. */
static int raise_sockets(const char *pid, int bytes) {
  char dirpath[300], link[600], target[64];
  snprintf(dirpath, sizeof dirpath, "/proc/%s/fd", pid);
  int pidfd = (int)syscall(SYS_pidfd_open, atoi(pid), 0);
  if (pidfd < 0) return -1;
  DIR *d = opendir(dirpath);
  if (!d) {
    close(pidfd);
    return -1;
  }
  int count = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    snprintf(link, sizeof link, "%s/%s", dirpath, e->d_name);
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n <= 0) continue;
    target[n] = '\0';
    if (strncmp(target, "socket:", 7) != 0) continue;
    int fd = (int)syscall(SYS_pidfd_getfd, pidfd, atoi(e->d_name), 0);
    if (fd < 0) continue;
    int type = 0, domain = 0;
    socklen_t len = sizeof type;
    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len);
    len = sizeof domain;
    getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len);
    if (type == SOCK_DGRAM && (domain == AF_INET || domain == AF_INET6)) {
      if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes) != 0 ||
          setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bytes, sizeof bytes) != 0) {
        fprintf(stderr, "hn-wgbuf: setsockopt on pid %s fd %s: %s\n", pid, e->d_name, strerror(errno));
        close(fd);
        count = -1;
        break;
      }
      count++;
    }
    close(fd);
  }
  closedir(d);
  close(pidfd);
  return count;
}

int main(int argc, char **argv) {
  if (argc != 3 || atoi(argv[2]) <= 0) {
    fprintf(stderr, "usage: hn-wgbuf IFACE BYTES\n");
    return 2;
  }
  DIR *proc = opendir("/proc");
  if (!proc) {
    fprintf(stderr, "hn-wgbuf: /proc: %s\n", strerror(errno));
    return 1;
  }
  int total = 0, found = 0;
  struct dirent *e;
  while ((e = readdir(proc))) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    if (!is_daemon(e->d_name, argv[1]) || !same_netns(e->d_name)) continue;
    found++;
    int n = raise_sockets(e->d_name, atoi(argv[2]));
    if (n < 0) {
      fprintf(stderr, "hn-wgbuf: pid %s: %s\n", e->d_name, strerror(errno));
      closedir(proc);
      return 1;
    }
    total += n;
  }
  closedir(proc);
  if (!found || !total) {
    fprintf(stderr, "hn-wgbuf: no UDP socket of a wireguard-go for %s here\n", argv[1]);
    return 1;
  }
  printf("ok %d\n", total);
  return 0;
}
