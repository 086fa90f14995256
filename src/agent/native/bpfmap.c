/*
 * hn-bpfmap MAP...: writes entries of pinned BPF maps, read as lines from standard input:
 *   u N KEYHEX VALUEHEX   update (or create) the entry KEY of the N-th map named on the command line
 *   d N KEYHEX            delete it (an entry already gone counts as deleted)
 * Hex is plain, two digits per byte. It stands in for `bpftool batch`, whose parsing of one argument
 * per byte took most of a 1,000-port apply (2,000 values of 3.7 KB). Stops at the first error with
 * the line number and errno on stderr, exit 1; prints "ok N" with the number of lines done.
 *
 * hn-bpfmap -batch MAP...: the agent's long-lived writer, speaking iproute2's `-force -batch -`
 * dialect (common/batch-session.ts): a failing line prints its message and "Command failed -:N"
 * (N counted from the first line read) on stderr and the next line is read; any line that is not
 * an operation fails so (the session ends each request with such a marker); at the end of input it
 * exits 1 when a line failed. The maps are opened
 * again at the first operation after a failed line: a request after the agent pinned new maps
 * writes those, never the old ones an open descriptor would keep alive.
 */
#include <errno.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_MAPS 8
#define MAX_BYTES 65536

static long bpf(int cmd, union bpf_attr *attr) { return syscall(SYS_bpf, cmd, attr, sizeof(*attr)); }

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Decodes the hex word at *p into out (at most cap bytes); returns its length, -1 when malformed. */
static long decode(char **p, unsigned char *out, long cap) {
  while (**p == ' ') (*p)++;
  long n = 0;
  while (**p && **p != ' ' && **p != '\n') {
    int hi = hexval((*p)[0]), lo = hi < 0 ? -1 : hexval((*p)[1]);
    if (lo < 0 || n >= cap) return -1;
    out[n++] = (unsigned char)(hi << 4 | lo);
    *p += 2;
  }
  return n;
}

/* Opens the pinned maps named by paths[0..n) into fds and info; on failure says why in err. */
static int open_maps(int n, char **paths, int *fds, struct bpf_map_info *info, char *err, size_t errlen) {
  for (int i = 0; i < n; i++) {
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.pathname = (unsigned long)paths[i];
    fds[i] = (int)bpf(BPF_OBJ_GET, &a);
    if (fds[i] < 0) {
      snprintf(err, errlen, "hn-bpfmap: %s: %s", paths[i], strerror(errno));
      for (int j = 0; j < i; j++) close(fds[j]);
      return -1;
    }
    /* The kernel reads as many bytes as the map's sizes say: a line must give exactly those. */
    memset(&info[i], 0, sizeof info[i]);
    memset(&a, 0, sizeof a);
    a.info.bpf_fd = (unsigned)fds[i];
    a.info.info_len = sizeof info[i];
    a.info.info = (unsigned long)&info[i];
    if (bpf(BPF_OBJ_GET_INFO_BY_FD, &a) < 0) {
      snprintf(err, errlen, "hn-bpfmap: %s: %s", paths[i], strerror(errno));
      for (int j = 0; j <= i; j++) close(fds[j]);
      return -1;
    }
  }
  return 0;
}

static unsigned char key[MAX_BYTES], value[MAX_BYTES];

/* Parses and applies one line against the open maps; 0 when done, else -1 with the message in err. */
static int apply_line(char *line, long lineno, int nmaps, const int *fds, const struct bpf_map_info *info, char *err,
                      size_t errlen) {
  char op = line[0];
  char *p = line + 1;
  long map = strtol(p, &p, 10);
  if ((op != 'u' && op != 'd') || map < 0 || map >= nmaps) {
    snprintf(err, errlen, "hn-bpfmap: line %ld: not 'u N KEY VALUE' or 'd N KEY'", lineno);
    return -1;
  }
  long klen = decode(&p, key, MAX_BYTES);
  long vlen = op == 'u' ? decode(&p, value, MAX_BYTES) : 0;
  if (klen < 0 || vlen < 0) {
    snprintf(err, errlen, "hn-bpfmap: line %ld: malformed hex", lineno);
    return -1;
  }
  if (klen != info[map].key_size || (op == 'u' && vlen != info[map].value_size)) {
    snprintf(err, errlen, "hn-bpfmap: line %ld: map %ld takes %u-byte keys and %u-byte values, got %ld and %ld",
             lineno, map, info[map].key_size, info[map].value_size, klen, vlen);
    return -1;
  }
  union bpf_attr a;
  memset(&a, 0, sizeof a);
  a.map_fd = (unsigned)fds[map];
  a.key = (unsigned long)key;
  long r;
  if (op == 'u') {
    a.value = (unsigned long)value;
    a.flags = BPF_ANY;
    r = bpf(BPF_MAP_UPDATE_ELEM, &a);
  } else {
    r = bpf(BPF_MAP_DELETE_ELEM, &a);
    if (r < 0 && errno == ENOENT) r = 0;
  }
  if (r < 0) {
    snprintf(err, errlen, "hn-bpfmap: line %ld (%c, map %ld): %s", lineno, op, map, strerror(errno));
    return -1;
  }
  return 0;
}

/* The long-lived mode: every line answered, failures in iproute2's words, maps reopened per request. */
static int run_batch(int nmaps, char **paths) {
  int fds[MAX_MAPS];
  struct bpf_map_info info[MAX_MAPS];
  int open = 0;
  char err[512];
  char *line = NULL;
  size_t cap = 0;
  long lineno = 0;
  int failed = 0;
  while (getline(&line, &cap, stdin) > 0) {
    lineno++;
    int r = -1;
    /* Not an operation (the session's end marker): answered without opening the maps. */
    if (line[0] != 'u' && line[0] != 'd') {
      snprintf(err, sizeof err, "hn-bpfmap: line %ld: not 'u N KEY VALUE' or 'd N KEY'", lineno);
    } else if (open || open_maps(nmaps, paths, fds, info, err, sizeof err) == 0) {
      open = 1;
      r = apply_line(line, lineno, nmaps, fds, info, err, sizeof err);
    }
    if (r == 0) continue;
    failed = 1;
    fprintf(stderr, "%s\nCommand failed -:%ld\n", err, lineno);
    /* The end of a request, or a failure: the next operation opens the maps afresh. */
    if (open) {
      for (int i = 0; i < nmaps; i++) close(fds[i]);
      open = 0;
    }
  }
  /* Run once (not on a session), a failed line makes the exit status, as with `tc -force -batch`. */
  return failed;
}

int main(int argc, char **argv) {
  int batch = argc > 1 && strcmp(argv[1], "-batch") == 0;
  char **paths = argv + 1 + batch;
  int nmaps = argc - 1 - batch;
  if (nmaps < 1 || nmaps > MAX_MAPS) {
    fprintf(stderr, "usage: hn-bpfmap [-batch] MAP... (at most %d pinned maps)\n", MAX_MAPS);
    return 2;
  }
  if (batch) return run_batch(nmaps, paths);
  int fds[MAX_MAPS];
  struct bpf_map_info info[MAX_MAPS];
  char err[512];
  if (open_maps(nmaps, paths, fds, info, err, sizeof err) < 0) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  char *line = NULL;
  size_t cap = 0;
  long done = 0;
  while (getline(&line, &cap, stdin) > 0) {
    if (apply_line(line, done + 1, nmaps, fds, info, err, sizeof err) < 0) {
      fprintf(stderr, "%s\n", err);
      return 1;
    }
    done++;
  }
  printf("ok %ld\n", done);
  return 0;
}
