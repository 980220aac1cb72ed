/*
 * lcodec.h — the lunatap.codec module: content decoding and WebSocket
 * unmasking for dissectors and scripts.
 *
 *   codec.inflate(data, kind, max) -> s, truncated | s, false, err | nil, err
 *     kind: "gzip" (RFC 1952, concatenated members decoded one after
 *     another), "deflate" (HTTP's: zlib-wrapped RFC 1950, raw RFC 1951 when
 *     the zlib header is wrong), "auto" (gzip or zlib detected, raw as the
 *     fallback). max (> 0) caps the output: decoding stops there and
 *     truncated is true, so a decompression bomb costs at most max bytes
 *     plus a small constant. Corrupt input: nil and "inflate: <reason> at
 *     input byte N", or, when some output came first, that output, false
 *     and the message. Memory comes from the Lua allocator, so --lua-mem
 *     caps it too.
 *   codec.unmask(data, key, offset) -> s
 *     XORs data with the 4-byte key starting at key position offset % 4
 *     (offset >= 0, default 0): RFC 6455 masking, resumable mid-frame.
 */
#ifndef LUNATAP_LCODEC_H
#define LUNATAP_LCODEC_H

#include <lua.h>

/* Pushes the module table. */
void lt_codec_push_module(lua_State *L);

#endif
