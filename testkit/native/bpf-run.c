// SPDX-License-Identifier: GPL-2.0
/*
 * hn-bpf-run: runs pinned tc programs on frames with BPF_PROG_TEST_RUN, for the tc-BPF equivalence
 * test (no packet on any wire). Run it in the network namespace whose devices the ifindexes name
 * (the kernel resolves skb->ifindex there). One answer line per request line, in order:
 *   run [<pinned prog>:<ifindex>]... <frame hex>
 *       runs the hops in order until one returns non-zero; answers their return values ("0 2"; none: "").
 *   clear <pinned map>   deletes every entry; answers "ok <count>".
 * Errors answer "err <message>". Raw bpf(2) calls, so it needs no libbpf.
 */
#include <errno.h>
#include <linux/bpf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static long sys_bpf(int cmd, union bpf_attr *attr)
{
	return syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

static int obj_get(const char *path)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.pathname = (uint64_t)(uintptr_t)path;
	return (int)sys_bpf(BPF_OBJ_GET, &a);
}

/* Pinned objects by path, opened once: a run is then one syscall per hop. */
#define MAX_OBJS 64
static struct {
	char path[256];
	int fd;
} objs[MAX_OBJS];
static int nobjs;

static int fd_of(const char *path)
{
	for (int i = 0; i < nobjs; i++)
		if (!strcmp(objs[i].path, path))
			return objs[i].fd;
	int fd = obj_get(path);
	if (fd < 0 || nobjs == MAX_OBJS || strlen(path) >= sizeof(objs[0].path))
		return fd < 0 ? fd : -1;
	strcpy(objs[nobjs].path, path);
	objs[nobjs++].fd = fd;
	return fd;
}

static int unhex(const char *s, unsigned char *out, size_t cap)
{
	size_t n = strlen(s);
	if (n % 2 || n / 2 > cap)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned int b;
		if (sscanf(s + 2 * i, "%2x", &b) != 1)
			return -1;
		out[i] = (unsigned char)b;
	}
	return (int)(n / 2);
}

static void run(char *args)
{
	char *words[17];
	int n = 0;
	for (char *w = strtok(args, " \n"); w && n < 17; w = strtok(NULL, " \n"))
		words[n++] = w;
	static unsigned char frame[9216];
	int len = n >= 1 ? unhex(words[n - 1], frame, sizeof(frame)) : -1;
	if (len < 14) {
		printf("err bad request\n");
		return;
	}
	char out[256] = "";
	for (int i = 0; i < n - 1; i++) {
		char *colon = strrchr(words[i], ':');
		if (!colon) {
			printf("err bad hop %s\n", words[i]);
			return;
		}
		*colon = 0;
		int fd = fd_of(words[i]);
		if (fd < 0) {
			printf("err %s: %s\n", words[i], strerror(errno));
			return;
		}
		struct __sk_buff ctx;
		memset(&ctx, 0, sizeof(ctx));
		ctx.ifindex = (uint32_t)atoi(colon + 1);
		union bpf_attr a;
		memset(&a, 0, sizeof(a));
		a.test.prog_fd = (uint32_t)fd;
		a.test.data_in = (uint64_t)(uintptr_t)frame;
		a.test.data_size_in = (uint32_t)len;
		a.test.ctx_in = (uint64_t)(uintptr_t)&ctx;
		a.test.ctx_size_in = sizeof(ctx);
		a.test.repeat = 1;
		if (sys_bpf(BPF_PROG_TEST_RUN, &a) < 0) {
			printf("err test run %s:%s: %s\n", words[i], colon + 1, strerror(errno));
			return;
		}
		snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%u", i ? " " : "", a.test.retval);
		if (a.test.retval != 0)
			break;
	}
	printf("%s\n", out);
}

static void clear(char *path)
{
	path[strcspn(path, " \n")] = 0;
	int fd = fd_of(path);
	if (fd < 0) {
		printf("err %s: %s\n", path, strerror(errno));
		return;
	}
	unsigned char key[256];
	long count = 0;
	for (;;) {
		union bpf_attr a;
		memset(&a, 0, sizeof(a));
		a.map_fd = (uint32_t)fd;
		a.key = 0;
		a.next_key = (uint64_t)(uintptr_t)key;
		if (sys_bpf(BPF_MAP_GET_NEXT_KEY, &a) < 0)
			break;
		memset(&a, 0, sizeof(a));
		a.map_fd = (uint32_t)fd;
		a.key = (uint64_t)(uintptr_t)key;
		if (sys_bpf(BPF_MAP_DELETE_ELEM, &a) < 0) {
			printf("err delete: %s\n", strerror(errno));
			return;
		}
		count++;
	}
	printf("ok %ld\n", count);
}

int main(void)
{
	static char line[32768];
	while (fgets(line, sizeof(line), stdin)) {
		if (!strncmp(line, "run ", 4))
			run(line + 4);
		else if (!strncmp(line, "clear ", 6))
			clear(line + 6);
		else
			printf("err unknown request\n");
		fflush(stdout);
	}
	return 0;
}
