-- lunatap.tls_wire: TLS records and handshake messages (RFC 5246, 8446,
-- 6066, 7301) from buffers to tables, for dissectors/tls.lua (see
-- docs/tls.md).
--
--   local wire = require("lunatap.tls_wire")
--   local rec = wire.record_header(buf)            -- type, version, length
--   local h = wire.handshake_header(buf, off)      -- msg_type, length
--   local hello = wire.client_hello(body)          -- body: one whole message
--   local hello = wire.server_hello(body)
--   local cert = wire.certificate(body, tls13)
--
-- The fixed parts and every list are declarative layouts (lunatap.layout).
-- Decoders raise tables { message, limit?, offset? } (offset within the
-- message body); a length that runs past its parent is an error, never a
-- read past it. Lists stop at MAX_LIST entries and a hello at
-- MAX_EXTENSIONS extensions (limits "list_entries", "extensions").

local L = require("lunatap.layout")

local M = {}

M.MAX_EXTENSIONS = 128   -- extensions in one hello
M.MAX_LIST = 1024        -- entries in one list (cipher suites, names, groups, ...)

local format = string.format

------------------------------------------------------------------------
-- names

local VERSIONS = { [0x0002] = "SSL 2.0", [0x0300] = "SSL 3.0", [0x0301] = "TLS 1.0",
                   [0x0302] = "TLS 1.1", [0x0303] = "TLS 1.2", [0x0304] = "TLS 1.3" }

--- "TLS 1.2"; TLS 1.3 drafts as "TLS 1.3 draft 23"; others as 0x%04x.
function M.version_name(v)
  if VERSIONS[v] then return VERSIONS[v] end
  if v >> 8 == 0x7f then return format("TLS 1.3 draft %d", v & 0xff) end
  return format("0x%04x", v)
end

--- GREASE values (RFC 8701): 0x0a0a, 0x1a1a, ... 0xfafa.
function M.is_grease(v)
  return v & 0x0f0f == 0x0a0a and v >> 8 == v & 0xff
end
local is_grease = M.is_grease

-- Order of versions for "the highest offered": drafts of 1.3 rank below 1.3.
local function version_rank(v)
  if v >> 8 == 0x7f then return 0x0303 * 256 + (v & 0xff) end
  return v * 256
end

M.CONTENT_TYPES = { [20] = "change_cipher_spec", [21] = "alert", [22] = "handshake",
                    [23] = "application_data", [24] = "heartbeat" }

M.HANDSHAKE_TYPES = {
  [0] = "hello_request", [1] = "client_hello", [2] = "server_hello", [4] = "new_session_ticket",
  [5] = "end_of_early_data", [8] = "encrypted_extensions", [11] = "certificate",
  [12] = "server_key_exchange", [13] = "certificate_request", [14] = "server_hello_done",
  [15] = "certificate_verify", [16] = "client_key_exchange", [20] = "finished",
  [21] = "certificate_url", [22] = "certificate_status", [24] = "key_update", [254] = "message_hash",
}

local EXTENSIONS = {
  [0] = "server_name", [1] = "max_fragment_length", [5] = "status_request", [10] = "supported_groups",
  [11] = "ec_point_formats", [13] = "signature_algorithms", [14] = "use_srtp", [15] = "heartbeat",
  [16] = "application_layer_protocol_negotiation", [18] = "signed_certificate_timestamp",
  [21] = "padding", [22] = "encrypt_then_mac", [23] = "extended_master_secret",
  [27] = "compress_certificate", [28] = "record_size_limit", [35] = "session_ticket",
  [41] = "pre_shared_key", [42] = "early_data", [43] = "supported_versions", [44] = "cookie",
  [45] = "psk_key_exchange_modes", [47] = "certificate_authorities", [48] = "oid_filters",
  [49] = "post_handshake_auth", [50] = "signature_algorithms_cert", [51] = "key_share",
  [57] = "quic_transport_parameters", [13172] = "next_protocol_negotiation",
  [17513] = "application_settings", [65037] = "encrypted_client_hello",
  [65281] = "renegotiation_info",
}
function M.extension_name(t)
  if is_grease(t) then return "grease" end
  return EXTENSIONS[t] or format("unknown_%d", t)
end

local GROUPS = {
  [1] = "sect163k1", [23] = "secp256r1", [24] = "secp384r1", [25] = "secp521r1", [29] = "x25519",
  [30] = "x448", [256] = "ffdhe2048", [257] = "ffdhe3072", [258] = "ffdhe4096", [259] = "ffdhe6144",
  [260] = "ffdhe8192", [0x6399] = "X25519Kyber768Draft00", [0x11ec] = "X25519MLKEM768",
}
function M.group_name(g)
  if is_grease(g) then return "grease" end
  return GROUPS[g] or format("0x%04x", g)
end

local SIG_ALGS = {
  [0x0201] = "rsa_pkcs1_sha1", [0x0203] = "ecdsa_sha1", [0x0401] = "rsa_pkcs1_sha256",
  [0x0403] = "ecdsa_secp256r1_sha256", [0x0501] = "rsa_pkcs1_sha384",
  [0x0503] = "ecdsa_secp384r1_sha384", [0x0601] = "rsa_pkcs1_sha512",
  [0x0603] = "ecdsa_secp521r1_sha512", [0x0804] = "rsa_pss_rsae_sha256",
  [0x0805] = "rsa_pss_rsae_sha384", [0x0806] = "rsa_pss_rsae_sha512", [0x0807] = "ed25519",
  [0x0808] = "ed448", [0x0809] = "rsa_pss_pss_sha256", [0x080a] = "rsa_pss_pss_sha384",
  [0x080b] = "rsa_pss_pss_sha512",
}
function M.sig_alg_name(s)
  if is_grease(s) then return "grease" end
  return SIG_ALGS[s] or format("0x%04x", s)
end

-- IANA names of the cipher suites seen in practice (TLS 1.3, ECDHE, DHE,
-- RSA, and the old export and RC4 ones); others read as 0x%04x.
local CIPHERS = {
  [0x0000] = "TLS_NULL_WITH_NULL_NULL", [0x0004] = "TLS_RSA_WITH_RC4_128_MD5",
  [0x0005] = "TLS_RSA_WITH_RC4_128_SHA", [0x000a] = "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
  [0x0016] = "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA", [0x002f] = "TLS_RSA_WITH_AES_128_CBC_SHA",
  [0x0032] = "TLS_DHE_DSS_WITH_AES_128_CBC_SHA", [0x0033] = "TLS_DHE_RSA_WITH_AES_128_CBC_SHA",
  [0x0035] = "TLS_RSA_WITH_AES_256_CBC_SHA", [0x0038] = "TLS_DHE_DSS_WITH_AES_256_CBC_SHA",
  [0x0039] = "TLS_DHE_RSA_WITH_AES_256_CBC_SHA", [0x003c] = "TLS_RSA_WITH_AES_128_CBC_SHA256",
  [0x003d] = "TLS_RSA_WITH_AES_256_CBC_SHA256", [0x0067] = "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256",
  [0x006b] = "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256", [0x009c] = "TLS_RSA_WITH_AES_128_GCM_SHA256",
  [0x009d] = "TLS_RSA_WITH_AES_256_GCM_SHA384", [0x009e] = "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
  [0x009f] = "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", [0x00ff] = "TLS_EMPTY_RENEGOTIATION_INFO_SCSV",
  [0x1301] = "TLS_AES_128_GCM_SHA256", [0x1302] = "TLS_AES_256_GCM_SHA384",
  [0x1303] = "TLS_CHACHA20_POLY1305_SHA256", [0x1304] = "TLS_AES_128_CCM_SHA256",
  [0x1305] = "TLS_AES_128_CCM_8_SHA256", [0x5600] = "TLS_FALLBACK_SCSV",
  [0xc007] = "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA", [0xc008] = "TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA",
  [0xc009] = "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", [0xc00a] = "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
  [0xc011] = "TLS_ECDHE_RSA_WITH_RC4_128_SHA", [0xc012] = "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
  [0xc013] = "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", [0xc014] = "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
  [0xc023] = "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", [0xc024] = "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
  [0xc027] = "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", [0xc028] = "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
  [0xc02b] = "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", [0xc02c] = "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
  [0xc02f] = "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", [0xc030] = "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
  [0xcca8] = "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
  [0xcca9] = "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
  [0xccaa] = "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
}
function M.cipher_name(c)
  if is_grease(c) then return "GREASE" end
  return CIPHERS[c] or format("0x%04x", c)
end

M.ALERT_LEVELS = { [1] = "warning", [2] = "fatal" }
M.ALERTS = {
  [0] = "close_notify", [10] = "unexpected_message", [20] = "bad_record_mac",
  [21] = "decryption_failed", [22] = "record_overflow", [30] = "decompression_failure",
  [40] = "handshake_failure", [41] = "no_certificate", [42] = "bad_certificate",
  [43] = "unsupported_certificate", [44] = "certificate_revoked", [45] = "certificate_expired",
  [46] = "certificate_unknown", [47] = "illegal_parameter", [48] = "unknown_ca",
  [49] = "access_denied", [50] = "decode_error", [51] = "decrypt_error",
  [60] = "export_restriction", [70] = "protocol_version", [71] = "insufficient_security",
  [80] = "internal_error", [86] = "inappropriate_fallback", [90] = "user_canceled",
  [100] = "no_renegotiation", [109] = "missing_extension", [110] = "unsupported_extension",
  [111] = "certificate_unobtainable", [112] = "unrecognized_name",
  [113] = "bad_certificate_status_response", [114] = "bad_certificate_hash_value",
  [115] = "unknown_psk_identity", [116] = "certificate_required", [120] = "no_application_protocol",
}

------------------------------------------------------------------------
-- layouts

M.RECORD_HEADER = L.struct("tls_record", {
  L.enum(L.u8("type"), M.CONTENT_TYPES), L.u16("version"), L.u16("length"),
})
M.HANDSHAKE_HEADER = L.struct("tls_handshake", {
  L.enum(L.u8("msg_type"), M.HANDSHAKE_TYPES), L.u24("length"),
})
local ALERT = L.struct("tls_alert", {
  L.enum(L.u8("level"), M.ALERT_LEVELS), L.enum(L.u8("description"), M.ALERTS),
})
local HELLO_START = {
  L.u16("legacy_version"), L.bytes("random", 32),
  L.u8("session_id_length"), L.bytes("session_id", "session_id_length"),
}
local CLIENT_HELLO = L.struct("tls_client_hello", {
  HELLO_START[1], HELLO_START[2], HELLO_START[3], HELLO_START[4],
  L.u16("ciphers_length"), L.bytes("ciphers", "ciphers_length"),
  L.u8("compression_length"), L.bytes("compression", "compression_length"),
})
local SERVER_HELLO = L.struct("tls_server_hello", {
  HELLO_START[1], HELLO_START[2], HELLO_START[3], HELLO_START[4],
  L.u16("cipher"), L.u8("compression"),
})
-- SSL 2.0 CLIENT-HELLO after its 2-byte record header (RFC 6101 E.1).
local SSL2_HELLO = L.struct("ssl2_client_hello", {
  L.u8("msg_type"), L.u16("version"), L.u16("ciphers_length"), L.u16("session_id_length"),
  L.u16("challenge_length"), L.bytes("ciphers", "ciphers_length"),
  L.bytes("session_id", "session_id_length"), L.bytes("challenge", "challenge_length"),
})
local EXTENSIONS_BLOCK = L.struct("tls_extensions", { L.u16("length"), L.bytes("data", "length") })
local EXTENSION = L.struct("tls_extension", {
  L.u16("type"), L.u16("length"), L.bytes("data", "length"),
})
-- Vectors: a length then that many bytes of entries.
local VECTOR8 = L.struct("tls_vector8", { L.u8("length"), L.bytes("data", "length") })
local VECTOR16 = L.struct("tls_vector16", { L.u16("length"), L.bytes("data", "length") })
local VECTOR24 = L.struct("tls_vector24", { L.u24("length"), L.bytes("data", "length") })
local SERVER_NAME = L.struct("tls_server_name", {
  L.u8("name_type"), L.u16("length"), L.bytes("name", "length"),
})
local KEY_SHARE_ENTRY = L.struct("tls_key_share", {
  L.u16("group"), L.u16("length"), L.bytes("key", "length"),
})
local U16 = L.struct("tls_u16", { L.u16("v") })
local U8 = L.struct("tls_u8", { L.u8("v") })
local U24_ENTRY = L.struct("tls_cert_entry", { L.u24("length"), L.bytes("data", "length") })

------------------------------------------------------------------------
-- errors

local function fail(offset, fmt, ...)
  error({ message = format(fmt, ...), offset = offset }, 0)
end

local function limit(name, offset, fmt, ...)
  error({ message = format(fmt, ...), offset = offset, limit = name }, 0)
end

-- Runs layout:parse(buf, off), turning a layout error into an error table
-- that says what was being read.
local function parse(layout, buf, off, what)
  local ok, rec, used = pcall(layout.parse, layout, buf, off)
  if ok then return rec, used end
  if type(rec) == "table" then error(rec, 0) end
  fail(off, "%s at offset %d: %s", what, off, tostring(rec))
end
M.parse = parse

-- The entries of a vector's data, each read with `layout` until the data
-- is used up, at most MAX_LIST; `what` names the list in errors.
local function entries(data, layout, what, base)
  local buf, list, p = buffer(data), {}, 0
  while p < #data do
    if #list >= M.MAX_LIST then
      limit("list_entries", base, "%s has more than %d entries", what, M.MAX_LIST)
    end
    local e, used = parse(layout, buf, p, what)
    list[#list + 1] = e
    p = p + used
  end
  return list
end

local function numbers(data, layout, what, base)
  local t = {}
  for i, e in ipairs(entries(data, layout, what, base)) do t[i] = e.v end
  return t
end

local function names_of(list, namer)
  local t = {}
  for i, v in ipairs(list) do t[i] = namer(v) end
  return t
end

-- A vector that must fill an extension's data exactly.
local function vector(layout, data, what, base)
  local rec, used = parse(layout, buffer(data), 0, what)
  if used ~= #data then fail(base, "%s: %d bytes after its list", what, #data - used) end
  return rec.data
end

------------------------------------------------------------------------
-- extensions

-- Decoders by extension type: fill hello from the extension's data.
-- `side` is "client" or "server".
local EXT = {}

EXT[0] = function(hello, data, side, base) -- server_name
  if side == "server" then return end -- empty: the server used the name
  local names = {}
  for _, e in ipairs(entries(vector(VECTOR16, data, "server_name list", base), SERVER_NAME,
                             "server_name list", base)) do
    if e.name_type == 0 then names[#names + 1] = e.name end
  end
  hello.server_names = names
  hello.sni = names[1]
end

EXT[16] = function(hello, data, side, base) -- ALPN
  local list = {}
  for i, e in ipairs(entries(vector(VECTOR16, data, "protocol_name_list", base), VECTOR8,
                             "protocol_name_list", base)) do
    list[i] = e.data
  end
  hello.alpn = list
end

EXT[43] = function(hello, data, side, base) -- supported_versions
  if side == "server" then
    hello.selected_version = parse(U16, buffer(data), 0, "supported_versions").v
  else
    hello.supported_versions = numbers(vector(VECTOR8, data, "supported_versions", base), U16,
                                       "supported_versions", base)
  end
end

EXT[51] = function(hello, data, side, base) -- key_share
  if side == "server" then
    -- ServerHello: one entry; HelloRetryRequest: the group alone
    hello.key_share_group = parse(U16, buffer(data), 0, "key_share").v
    return
  end
  local groups = {}
  for i, e in ipairs(entries(vector(VECTOR16, data, "key_share", base), KEY_SHARE_ENTRY,
                             "key_share", base)) do
    groups[i] = e.group
  end
  hello.key_share_groups = groups
end

EXT[13] = function(hello, data, side, base) -- signature_algorithms
  hello.sig_algs = numbers(vector(VECTOR16, data, "signature_algorithms", base), U16,
                           "signature_algorithms", base)
  hello.sig_alg_names = names_of(hello.sig_algs, M.sig_alg_name)
end

EXT[10] = function(hello, data, side, base) -- supported_groups
  hello.groups = numbers(vector(VECTOR16, data, "supported_groups", base), U16, "supported_groups", base)
  hello.group_names = names_of(hello.groups, M.group_name)
end

EXT[11] = function(hello, data, side, base) -- ec_point_formats
  hello.ec_point_formats = numbers(vector(VECTOR8, data, "ec_point_formats", base), U8,
                                   "ec_point_formats", base)
end

-- The extension block after the fixed part of a hello, at `p` of `buf`.
local function extensions(hello, buf, p, side)
  local list = {}
  hello.extensions = list
  if p == #buf then return end -- no extensions (allowed before TLS 1.3)
  local block, used = parse(EXTENSIONS_BLOCK, buf, p, "extension list")
  if p + used ~= #buf then fail(p, "%d bytes after the extension list", #buf - p - used) end
  local data, q = buffer(block.data), 0
  while q < #block.data do
    if #list >= M.MAX_EXTENSIONS then
      limit("extensions", p + 2 + q, "more than %d extensions in the hello", M.MAX_EXTENSIONS)
    end
    local at = p + 2 + q
    local e, n = parse(EXTENSION, data, q, ("extension %d"):format(#list + 1))
    list[#list + 1] = { type = e.type, name = M.extension_name(e.type), length = e.length }
    local decode = EXT[e.type]
    if decode then
      local ok, err = pcall(decode, hello, e.data, side, at)
      if not ok then
        if type(err) ~= "table" then err = { message = tostring(err) } end
        err.message = ("extension %s at offset %d: %s"):format(list[#list].name, at, err.message)
        err.offset = at
        error(err, 0)
      end
    end
    q = q + n
  end
end

local function hex(s)
  return (s:gsub(".", function(c) return format("%02x", c:byte()) end))
end
M.hex = hex

-- The highest version offered: supported_versions (GREASE left out) when
-- present, else the legacy version.
local function highest(list, legacy)
  local best
  for _, v in ipairs(list or {}) do
    if not is_grease(v) and (not best or version_rank(v) > version_rank(best)) then best = v end
  end
  return best or legacy
end

--- The ClientHello whose body (after the 4-byte handshake header) is `buf`.
function M.client_hello(buf)
  local f, p = parse(CLIENT_HELLO, buf, 0, "ClientHello")
  if f.ciphers_length % 2 ~= 0 then fail(35 + f.session_id_length, "cipher suite list of odd length %d", f.ciphers_length) end
  local hello = { legacy_version = f.legacy_version, random = hex(f.random), session_id = hex(f.session_id) }
  hello.ciphers = numbers(f.ciphers, U16, "cipher suite list", 35 + f.session_id_length)
  hello.cipher_names = names_of(hello.ciphers, M.cipher_name)
  hello.compression = numbers(f.compression, U8, "compression methods", p - f.compression_length)
  local ok, err = pcall(extensions, hello, buf, p, "client")
  local v = highest(hello.supported_versions, f.legacy_version)
  hello.version_code, hello.version = v, M.version_name(v)
  hello.legacy_version_name = M.version_name(f.legacy_version)
  if not ok then return hello, err end
  return hello
end

-- SHA-256("HelloRetryRequest"): the random of a HelloRetryRequest (RFC 8446 4.1.3).
local HRR_RANDOM = "cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c"

--- The ServerHello whose body is `buf`; a HelloRetryRequest has
-- hello.hello_retry_request = true.
function M.server_hello(buf)
  local f, p = parse(SERVER_HELLO, buf, 0, "ServerHello")
  local hello = { legacy_version = f.legacy_version, random = hex(f.random), session_id = hex(f.session_id),
                  cipher = f.cipher, cipher_name = M.cipher_name(f.cipher), compression = f.compression }
  hello.hello_retry_request = hello.random == HRR_RANDOM
  local ok, err = pcall(extensions, hello, buf, p, "server")
  local v = hello.selected_version or f.legacy_version
  hello.version_code, hello.version = v, M.version_name(v)
  hello.legacy_version_name = M.version_name(f.legacy_version)
  if not ok then return hello, err end
  return hello
end

--- A Certificate message: count and DER lengths (TLS 1.3 adds a request
-- context and per-entry extensions).
function M.certificate(buf, tls13)
  local p = 0
  if tls13 then
    local _, used = parse(VECTOR8, buf, 0, "certificate_request_context")
    p = used
  end
  local list = parse(VECTOR24, buf, p, "certificate_list").data
  local lengths, lb, q = {}, buffer(list), 0
  while q < #list do
    if #lengths >= M.MAX_LIST then limit("list_entries", p, "certificate_list has more than %d entries", M.MAX_LIST) end
    local e, used = parse(U24_ENTRY, lb, q, "certificate")
    lengths[#lengths + 1] = e.length
    q = q + used
    if tls13 then q = q + select(2, parse(VECTOR16, lb, q, "certificate extensions")) end
  end
  return { count = #lengths, lengths = lengths }
end

--- Alerts in a plaintext alert record's bytes (two bytes each).
function M.alerts(buf)
  local list, p = {}, 0
  while p + 2 <= #buf do
    list[#list + 1] = parse(ALERT, buf, p, "alert")
    p = p + 2
  end
  return list, #buf - p
end

--- An SSL 2.0-compatible CLIENT-HELLO (buf: the message after the 2-byte
-- header): version and the cipher specs, 3 bytes each; those that are TLS
-- suites (first byte 0) in hello.ciphers.
function M.ssl2_client_hello(buf)
  local f = parse(SSL2_HELLO, buf, 0, "SSLv2 CLIENT-HELLO")
  if f.ciphers_length % 3 ~= 0 then fail(3, "SSLv2 cipher specs of length %d, not a multiple of 3", f.ciphers_length) end
  local ciphers, specs = {}, {}
  for i = 1, f.ciphers_length, 3 do
    local a, b, c = f.ciphers:byte(i, i + 2)
    local spec = (a << 16) | (b << 8) | c
    specs[#specs + 1] = spec
    if a == 0 then ciphers[#ciphers + 1] = spec end
    if #specs > M.MAX_LIST then limit("list_entries", 9, "SSLv2 cipher specs: more than %d", M.MAX_LIST) end
  end
  return { sslv2 = true, legacy_version = f.version, version_code = f.version,
           version = M.version_name(f.version), legacy_version_name = M.version_name(f.version),
           ciphers = ciphers, cipher_names = names_of(ciphers, M.cipher_name), ssl2_cipher_specs = specs,
           session_id = hex(f.session_id), random = hex(f.challenge), extensions = {} }
end

return M
