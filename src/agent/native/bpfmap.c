/*
 * hn-bpfmap MAP...: writes entries of pinned BPF maps, read as lines from standard input:
 *   u N KEYHEX VALUEHEX   update (or create) the entry KEY of the N-th map named on the command line
 *   d N KEYHEX            delete it (an entry already gone counts as deleted)
 * Hex is plain, two digits per byte. It stands in for `bpftool batch`, whose parsing of one argument
 * per byte took most of a 1,000-port apply (2,000 values of 3.7 KB). Stops at the first error with
 * the line number and errno on stderr, exit 1; prints "ok N" with the number of lines done.
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

int main(int argc, char **argv) {
  if (argc < 2 || argc - 1 > MAX_MAPS) {
    fprintf(stderr, "usage: hn-bpfmap MAP... (at most %d pinned maps)\n", MAX_MAPS);
    return 2;
  }
  int fds[MAX_MAPS];
  struct bpf_map_info info[MAX_MAPS];
  for (int i = 1; i < argc; i++) {
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.pathname = (unsigned long)argv[i];
    fds[i - 1] = (int)bpf(BPF_OBJ_GET, &a);
    if (fds[i - 1] < 0) {
      fprintf(stderr, "hn-bpfmap: %s: %s\n", argv[i], strerror(errno));
      return 1;
    }
    /* The kernel reads as many bytes as the map's sizes say: a line must give exactly those. */
    memset(&info[i - 1], 0, sizeof info[i - 1]);
    memset(&a, 0, sizeof a);
    a.info.bpf_fd = (unsigned)fds[i - 1];
    a.info.info_len = sizeof info[i - 1];
    a.info.info = (unsigned long)&info[i - 1];
    if (bpf(BPF_OBJ_GET_INFO_BY_FD, &a) < 0) {
      fprintf(stderr, "hn-bpfmap: %s: %s\n", argv[i], strerror(errno));
      return 1;
    }
  }
  static unsigned char key[MAX_BYTES], value[MAX_BYTES];
  char *line = NULL;
  size_t cap = 0;
  long done = 0;
  while (getline(&line, &cap, stdin) > 0) {
    char op = line[0];
    char *p = line + 1;
    long map = strtol(p, &p, 10);
    if ((op != 'u' && op != 'd') || map < 0 || map >= argc - 1) {
      fprintf(stderr, "hn-bpfmap: line %ld: not 'u N KEY VALUE' or 'd N KEY'\n", done + 1);
      return 1;
    }
    long klen = decode(&p, key, MAX_BYTES);
    long vlen = op == 'u' ? decode(&p, value, MAX_BYTES) : 0;
    if (klen < 0 || vlen < 0) {
      fprintf(stderr, "hn-bpfmap: line %ld: malformed hex\n", done + 1);
      return 1;
    }
    if (klen != info[map].key_size || (op == 'u' && vlen != info[map].value_size)) {
      fprintf(stderr, "hn-bpfmap: line %ld: map %ld takes %u-byte keys and %u-byte values, got %ld and %ld\n",
              done + 1, map, info[map].key_size, info[map].value_size, klen, vlen);
      return 1;
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
      fprintf(stderr, "hn-bpfmap: line %ld (%c, map %ld): %s\n", done + 1, op, map, strerror(errno));
      return 1;
    }
    done++;
  }
  printf("ok %ld\n", done);
  return 0;
}
