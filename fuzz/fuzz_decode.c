/* libFuzzer target: lt_decode on arbitrary bytes, for each link type it
 * knows. The first input byte picks the link type; the rest is the frame,
 * copied to an exact-size buffer so any over-read is caught. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int links[] = { LT_LINK_NULL, LT_LINK_EN10MB, LT_LINK_RAW, LT_LINK_LOOP,
                                 LT_LINK_LINUX_SLL, LT_LINK_IPV4, LT_LINK_IPV6,
                                 LT_LINK_LINUX_SLL2 };
    if (size < 1)
        return 0;
    uint8_t *frame = malloc(size - 1 ? size - 1 : 1);
    if (!frame)
        return 0;
    memcpy(frame, data + 1, size - 1);
    lt_frame f = { .data = frame, .caplen = (uint32_t)(size - 1),
                   .len = (uint32_t)(size - 1 + (data[0] >> 4)),
                   .linktype = links[data[0] % (sizeof links / sizeof links[0])] };
    lt_packet p;
    lt_decode(&p, &f);
    free(frame);
    return 0;
}
