/* The read floor: how fast libpcap alone reads a capture file. With a
 * 1 MiB stdio buffer (as lunatap reads), or with `--nobuf` stdio's default. */
#include <pcap/pcap.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    int nobuf = argc > 2 && strcmp(argv[2], "--nobuf") == 0;
    if (argc < 2) {
        fprintf(stderr, "usage: floor FILE [--nobuf]\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    static char buf[1 << 20]; /* glibc ignores the size without a buffer */
    if (!nobuf)
        setvbuf(f, buf, _IOFBF, sizeof buf);
    char err[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_fopen_offline(f, err);
    if (!p) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    struct pcap_pkthdr *h;
    const u_char *d;
    unsigned long n = 0, bytes = 0, sum = 0;
    while (pcap_next_ex(p, &h, &d) == 1) {
        n++;
        bytes += h->caplen;
        sum += d[0]; /* touch the data, as any reader must */
    }
    printf("%lu packets, %lu bytes (%lu)\n", n, bytes, sum & 1);
    pcap_close(p);
    return 0;
}
