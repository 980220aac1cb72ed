/*
 * hash.h — a keyed hash (SipHash-2-4) for tables whose keys come from the
 * network: with a random key per run, nobody can choose keys that collide.
 */
#ifndef LUNATAP_HASH_H
#define LUNATAP_HASH_H

#include <stddef.h>
#include <stdint.h>

typedef struct lt_hash_key {
    uint64_t k0, k1;
} lt_hash_key;

/* A fresh random key (getrandom; falls back to time and address bits only
 * if the kernel refuses, which it does not on Linux >= 3.17). */
lt_hash_key lt_hash_random_key(void);

uint64_t lt_siphash(const lt_hash_key *key, const void *data, size_t len);

#endif
