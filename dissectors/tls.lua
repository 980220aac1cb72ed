-- TLS (SSL 3.0, TLS 1.0 to 1.3) over TCP: records, and the handshake
-- messages in them reassembled across records and segments. ClientHello
-- and ServerHello are decoded (SNI, ALPN, versions, cipher suites, groups,
-- signature algorithms, extensions), Certificate counted, alerts reported;
-- once a direction is encrypted its records are skipped by length and only
-- counted. Decoding lives in lunatap.tls_wire. See docs/tls.md.

local wire = require("lunatap.tls_wire")

local MAX_RECORD = 16384 + 2048     -- record length (TLSCiphertext, RFC 5246 6.2.3)
local MAX_HANDSHAKE = 64 * 1024     -- one handshake message, bytes (TLS allows 2^24)
local MAX_HANDSHAKE_RECORDS = 256   -- records one handshake message may span

local unpack, concat = string.unpack, table.concat

-- "a handshake", "an application_data"
local function a(word)
  return (word:match("^[aeiou]") and "an " or "a ") .. word
end

local function report(s, dir, e)
  emit("tls.error", { message = e.message, limit = e.limit, offset = e.offset, direction = dir,
                      ts = e.ts or s:ts(), fatal = e.fatal or nil }, s.session)
end

-- An error that ends this direction's decoding.
local function fatal(fields)
  fields.fatal = true
  error(fields, 0)
end

local function side(state, dir)
  local d = state[dir]
  if not d then
    d = { records = 0, messages = 0, app_records = 0, app_bytes = 0, parts = {}, have = 0 }
    state[dir] = d
  end
  return d
end

local function start_encryption(d, at)
  if not d.encrypted then
    d.encrypted, d.encrypted_offset = true, at
  end
end

------------------------------------------------------------------------
-- handshake messages

local function tls13(v)
  return v == 0x0304 or v >> 8 == 0x7f
end

local function on_message(s, dir, state, d, msg_type, body, at, ts)
  d.messages = d.messages + 1
  local decode = (msg_type == 1 and dir == "client" and wire.client_hello)
                 or (msg_type == 2 and dir == "server" and wire.server_hello)
  if decode then
    local hello, err = decode(buffer(body))
    hello.ts, hello.direction, hello.offset = ts, dir, at
    if err then hello.error = err.message end
    if msg_type == 2 then
      if hello.hello_retry_request then
        state.hrr = true
      else
        state.version = hello.version_code
        if tls13(hello.version_code) then start_encryption(d, s.offset) end
      end
      emit("tls.server_hello", hello, s.session)
    else
      emit("tls.client_hello", hello, s.session)
    end
    if err then report(s, dir, { message = err.message, limit = err.limit, offset = at + 4 + (err.offset or 0), ts = ts }) end
  elseif msg_type == 11 and wants("tls.certificate") then
    local ok, cert = pcall(wire.certificate, buffer(body), state.version and tls13(state.version))
    if ok then
      cert.ts, cert.direction, cert.offset = ts, dir, at
      emit("tls.certificate", cert, s.session)
    else
      report(s, dir, { message = "certificate: " .. (type(cert) == "table" and cert.message or tostring(cert)),
                       limit = type(cert) == "table" and cert.limit or nil, offset = at, ts = ts })
    end
  end
end

-- Adds a handshake record's bytes and handles every message now whole.
local function on_handshake(s, dir, state, d, body, at, ts)
  local parts = d.parts
  if d.have == 0 then d.start, d.start_ts, d.nrec = at + 5, ts, 0 end
  parts[#parts + 1] = body
  d.have = d.have + #body
  d.nrec = d.nrec + 1
  while d.have >= 4 and (not d.need or d.have >= d.need) do
    local data = #parts == 1 and parts[1] or concat(parts)
    local msg_type, len = unpack(">BI3", data)
    if len > MAX_HANDSHAKE then
      fatal({ message = ("handshake message %s of %d bytes at offset %d is over the limit of %d bytes")
                :format(wire.HANDSHAKE_TYPES[msg_type] or msg_type, len, d.start, MAX_HANDSHAKE),
              limit = "handshake_size", offset = d.start, ts = d.start_ts })
    end
    if #data < 4 + len then
      d.parts, d.need = { data }, 4 + len
      break
    end
    on_message(s, dir, state, d, msg_type, data:sub(5, 4 + len), d.start, d.start_ts)
    local rest = data:sub(5 + len)
    d.parts, d.have, d.need = { rest }, #rest, nil
    d.start, d.start_ts = at + 5 + #body - #rest, ts -- the next message begins in this record
    parts = d.parts
  end
  if d.have == 0 then d.parts = {} end
  if d.have > 0 and d.nrec > MAX_HANDSHAKE_RECORDS then
    fatal({ message = ("handshake message at offset %d spans more than %d records"):format(d.start, MAX_HANDSHAKE_RECORDS),
            limit = "handshake_records", offset = d.start, ts = d.start_ts })
  end
end

local function drop_pending(s, dir, d, why)
  if d.have > 0 then
    report(s, dir, { message = ("%d bytes of an unfinished handshake message at offset %d: %s")
                       :format(d.have, d.start, why), offset = d.start, ts = d.start_ts })
    d.parts, d.have, d.need = {}, 0, nil
  end
end

------------------------------------------------------------------------
-- records

local function on_alert(s, dir, d, body, ts)
  if d.encrypted then
    emit("tls.alert", { encrypted = true, direction = dir, ts = ts, length = #body }, s.session)
    return
  end
  local list, extra = wire.alerts(buffer(body))
  for _, a in ipairs(list) do
    emit("tls.alert", { level = a.level, level_name = a.level_name or tostring(a.level),
                        description = a.description,
                        description_name = a.description_name or ("alert_" .. a.description),
                        encrypted = false, direction = dir, ts = ts }, s.session)
  end
  if extra ~= 0 then
    report(s, dir, { message = ("alert record of %d bytes: not a multiple of 2"):format(#body), ts = ts })
  end
end

local function bad_header(at, ctype, version)
  fatal({ message = ("not a TLS record at offset %d: content type %d, version 0x%04x"):format(at, ctype, version),
          offset = at })
end

-- Skips an encrypted or application-data record by length (no tables).
local function skip_body(s, len, at, what)
  local n = s:skip(len)
  if n < len then
    fatal({ message = ("stream %s inside %s record of %d bytes at offset %d (%d bytes there)")
              :format(s.hole and "has a gap" or "ended", a(what), len, at, n), offset = at })
  end
end

-- One record; false at the end of the stream.
local function record(s, dir, state, d)
  local head = s:peek(5)
  if not head then return false end
  local at, ts = s.offset, s:ts()
  if #head < 5 then
    s:skip()
    fatal({ message = ("stream %s inside a record header at offset %d (%d bytes)")
              :format(s.hole and "has a gap" or "ended", at, #head), offset = at })
  end
  local ctype, version, len = unpack(">BI2I2", head)
  if not wire.CONTENT_TYPES[ctype] or version >> 8 ~= 3 then bad_header(at, ctype, version) end
  if len > MAX_RECORD then
    fatal({ message = ("record of %d bytes at offset %d is over the limit of %d bytes"):format(len, at, MAX_RECORD),
            limit = "record_length", offset = at })
  end
  s:skip(5)
  d.records = d.records + 1
  if ctype == 23 then
    -- application data (and TLS 1.3's encrypted handshake): counted only
    start_encryption(d, at)
    d.app_records, d.app_bytes = d.app_records + 1, d.app_bytes + len
    skip_body(s, len, at, "application_data")
    return true
  end
  if len == 0 then
    report(s, dir, { message = ("zero-length %s record at offset %d"):format(wire.CONTENT_TYPES[ctype], at),
                     offset = at, ts = ts })
    return true
  end
  if d.encrypted and ctype == 22 then
    skip_body(s, len, at, "encrypted handshake")
    return true
  end
  -- the header by its layout (only before encryption: once per handshake record)
  local rec = wire.RECORD_HEADER:parse(buffer(head))
  local body = s:read(rec.length)
  if not body then
    fatal({ message = ("stream %s inside %s record of %d bytes at offset %d")
              :format(s.hole and "has a gap" or "ended", a(rec.type_name), rec.length, at), offset = at })
  end
  if ctype ~= 22 then drop_pending(s, dir, d, a(rec.type_name) .. " record came before its end") end
  if ctype == 22 then
    on_handshake(s, dir, state, d, body, at, ts)
  elseif ctype == 21 then
    on_alert(s, dir, d, body, ts)
  elseif ctype == 20 then
    d.change_cipher_spec = true
    -- TLS 1.3 sends a dummy one for middleboxes (RFC 8446 D.4), also
    -- before a second ClientHello after a HelloRetryRequest
    if not state.hrr and not (state.version and tls13(state.version)) then
      start_encryption(d, s.offset)
    end
  end
  return true
end

------------------------------------------------------------------------
-- SSL 2.0-compatible ClientHello, and finding records

local function sslv2_hello(s, dir)
  local ts, p = s:ts(), s:peek(2)
  local len = ((p:byte(1) & 0x7f) << 8) | p:byte(2)
  local msg = s:read(2 + len)
  if not msg then
    fatal({ message = ("stream ended inside an SSLv2 CLIENT-HELLO of %d bytes"):format(len), offset = 0 })
  end
  local ok, hello = pcall(wire.ssl2_client_hello, buffer(msg:sub(3)))
  if not ok then
    fatal({ message = hello.message or tostring(hello), limit = hello.limit, offset = 2 + (hello.offset or 0) })
  end
  hello.ts, hello.direction, hello.offset = ts, dir, 0
  emit("tls.client_hello", hello, s.session)
end

local function is_sslv2_hello(p)
  return p and #p >= 5 and p:byte(1) & 0x80 ~= 0 and p:byte(3) == 1 and p:byte(4) <= 3
end

local function plausible_record(p)
  if not p or #p < 5 then return false end
  local ctype, version, len = unpack(">BI2I2", p)
  return wire.CONTENT_TYPES[ctype] ~= nil and version >> 8 == 3 and (version & 0xff) <= 4 and len <= MAX_RECORD
end

local function finish(s, dir, state, d)
  if d.have > 0 then
    report(s, dir, { message = ("stream %s inside a handshake message of %s bytes at offset %d (%d bytes there)")
                       :format(s.hole and "has a gap" or "ended", d.need and tostring(d.need - 4) or "?",
                               d.start, d.have - 4 >= 0 and d.have - 4 or d.have),
                     offset = d.start, ts = d.start_ts })
    d.parts, d.have, d.need = {}, 0, nil
  end
  emit("tls.stream_end", { direction = dir, records = d.records, handshake_messages = d.messages,
                           app_records = d.app_records, app_bytes = d.app_bytes,
                           encrypted = d.encrypted or false, encrypted_offset = d.encrypted_offset,
                           change_cipher_spec = d.change_cipher_spec or false }, s.session)
end

local function stream(s, dir, state)
  local d = side(state, dir)
  d.parts, d.have, d.need = {}, 0, nil
  if s.resync and not plausible_record(s:peek(5)) then
    if s:peek(1) then
      report(s, dir, { message = "no TLS record boundary after a gap or mid-stream start: rest of the direction skipped",
                       offset = s.offset })
      s:skip()
    end
    return
  end
  if dir == "client" and s.offset == 0 and is_sslv2_hello(s:peek(5)) then
    local ok, err = pcall(sslv2_hello, s, dir)
    if not ok then
      report(s, dir, type(err) == "table" and err or { message = tostring(err) })
      s:skip()
      return
    end
  end
  while true do
    local ok, more = pcall(record, s, dir, state, d)
    if not ok then
      local err = type(more) == "table" and more or { message = tostring(more), fatal = true }
      if s.limit_hit then err.limit = err.limit or s.limit_hit end
      report(s, dir, err)
      d.parts, d.have, d.need = {}, 0, nil
      s:skip()
      finish(s, dir, state, d)
      return
    end
    if not more then
      finish(s, dir, state, d)
      return
    end
  end
end

-- A session on another port whose first bytes are a handshake record
-- holding a ClientHello (or an SSLv2-compatible CLIENT-HELLO).
local function detect(buf, dir)
  if #buf < 6 then return false end
  local p = buf:bytes(0, 6)
  local ctype, major, minor, len, hs = unpack(">BBBI2B", p)
  local hello = (ctype == 22 and major == 3 and minor <= 4 and len >= 4 and len <= MAX_RECORD and hs == 1)
                or is_sslv2_hello(p)
  if not hello then return false end
  return dir == "client" or "swap"
end

dissector {
  name = "tls",
  tcp_ports = { 443 },
  events = { "tls." },
  detect = detect,
  stream = stream,
}
