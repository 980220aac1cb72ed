/* libFuzzer target: the pcapng reader on arbitrary files, read to the end
 * or the first error. */
#include <stdint.h>
#include <stdio.h>

#include "pcapng.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE *f = fmemopen((void *)data, size ? size : 1, "rb");
    if (!f)
        return 0;
    if (!size) {
        fclose(f);
        return 0;
    }
    char err[256];
    lt_pcapng *r = lt_pcapng_open(f, err, sizeof err);
    if (!r)
        return 0;
    lt_frame fr;
    unsigned sum = 0;
    while (lt_pcapng_next(r, &fr) == LT_NEXT_FRAME)
        for (uint32_t i = 0; i < fr.caplen; i++)
            sum += fr.data[i]; /* touch every byte handed out */
    (void)sum;
    lt_pcapng_close(r);
    return 0;
}
