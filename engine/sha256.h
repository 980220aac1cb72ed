/*
 * sha256.h — SHA-256 (FIPS 180-4), for naming extracted objects by their
 * content (scripts reach it as require("lunatap.codec").sha256).
 */
#ifndef LUNATAP_SHA256_H
#define LUNATAP_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct lt_sha256 {
    uint32_t h[8];
    uint64_t len;           /* bytes hashed so far */
    uint8_t block[64];
    size_t used;
} lt_sha256;

void lt_sha256_init(lt_sha256 *c);
void lt_sha256_update(lt_sha256 *c, const void *data, size_t n);
void lt_sha256_final(lt_sha256 *c, uint8_t out[32]);

/* Lowercase hex digest of data into hex[65]. */
void lt_sha256_hex(const void *data, size_t n, char hex[65]);

#endif
