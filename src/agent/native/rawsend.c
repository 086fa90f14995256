/*
 * hn-rawsend: sends raw Ethernet frames for the agent (gratuitous ARP), one long-lived process per
 * agent instead of one arping per announcement. Node cannot open an AF_PACKET socket; this can.
 *
 * Input, one request per line: "<ifname> <frame as hex>". Output, one line per request, in order:
 * "ok" or "error <message>". The interface is looked up afresh for every request (no cache of
 * names), so a device made again under the same name is found. Exits on end of input.
 */
#include <errno.h>
#include <net/if.h>
#include <netpacket/packet.h>
#include <net/ethernet.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int main(void) {
  /* Protocol 0: the socket receives nothing (packet(7)), it only sends. */
  int fd = socket(AF_PACKET, SOCK_RAW, 0);
  if (fd < 0) {
    fprintf(stderr, "hn-rawsend: socket: %s\n", strerror(errno));
    return 1;
  }
  static char line[8192];
  static unsigned char frame[2048];
  setvbuf(stdout, NULL, _IOLBF, 0);
  while (fgets(line, sizeof line, stdin)) {
    char *sp = strchr(line, ' ');
    size_t len = strcspn(line, "\r\n");
    line[len] = '\0';
    if (!sp || sp - line >= IF_NAMESIZE) {
      printf("error malformed request\n");
      continue;
    }
    *sp = '\0';
    const char *hex = sp + 1;
    size_t n = strlen(hex);
    if (n % 2 || n / 2 > sizeof frame || n / 2 < ETH_HLEN) {
      printf("error bad frame length\n");
      continue;
    }
    int bad = 0;
    for (size_t i = 0; i < n / 2; i++) {
      int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
      if (hi < 0 || lo < 0) bad = 1;
      frame[i] = (unsigned char)(hi << 4 | lo);
    }
    if (bad) {
      printf("error bad hex\n");
      continue;
    }
    unsigned int ifindex = if_nametoindex(line);
    if (!ifindex) {
      printf("error Cannot find device \"%s\"\n", line);
      continue;
    }
    struct sockaddr_ll to = {0};
    to.sll_family = AF_PACKET;
    to.sll_ifindex = (int)ifindex;
    to.sll_halen = ETH_ALEN;
    memcpy(to.sll_addr, frame, ETH_ALEN);
    if (sendto(fd, frame, n / 2, 0, (struct sockaddr *)&to, sizeof to) < 0)
      printf("error %s\n", strerror(errno));
    else
      printf("ok\n");
  }
  return 0;
}
