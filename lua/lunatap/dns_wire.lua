-- lunatap.dns_wire: one DNS message (RFC 1035, 3596, 2782, 6891) from a
-- buffer to a table, for dissectors/dns.lua (see docs/dns.md).
--
--   local wire = require("lunatap.dns_wire")
--   local msg, err = wire.parse(buf)   -- err: { message, limit?, offset? }
--
-- Messages that decode without an error are decoded in C (parse_c, from
-- lunatap.dns_scan); parse_lua decodes every message, and parse uses it
-- for those parse_c leaves.
--
-- parse never raises on bad data: a message whose header could be read
-- comes back with what was decoded before the problem (and msg.error),
-- together with err; a buffer too short for a header gives nil, err. The
-- fixed parts are declarative layouts (lunatap.layout); names are read by
-- hand because of compression: a pointer must go strictly backwards, to
-- before the start of the labels it was reached from, so a chain of
-- pointers always ends, and a name is cut off at MAX_LABELS labels or
-- MAX_NAME_TEXT bytes of text.

local L = require("lunatap.layout")

local M = {}

M.MAX_LABELS = 255       -- labels in one name
M.MAX_NAME_TEXT = 1025   -- bytes of a name's text form, escapes included

local concat, byte, format, unpack = table.concat, string.byte, string.format, string.unpack

------------------------------------------------------------------------
-- names for numbers

local TYPES = {
  [1] = "A", [2] = "NS", [3] = "MD", [4] = "MF", [5] = "CNAME", [6] = "SOA", [7] = "MB",
  [8] = "MG", [9] = "MR", [10] = "NULL", [11] = "WKS", [12] = "PTR", [13] = "HINFO",
  [14] = "MINFO", [15] = "MX", [16] = "TXT", [17] = "RP", [18] = "AFSDB", [24] = "SIG",
  [25] = "KEY", [28] = "AAAA", [29] = "LOC", [33] = "SRV", [35] = "NAPTR", [36] = "KX",
  [37] = "CERT", [39] = "DNAME", [41] = "OPT", [42] = "APL", [43] = "DS", [44] = "SSHFP",
  [45] = "IPSECKEY", [46] = "RRSIG", [47] = "NSEC", [48] = "DNSKEY", [49] = "DHCID",
  [50] = "NSEC3", [51] = "NSEC3PARAM", [52] = "TLSA", [53] = "SMIMEA", [55] = "HIP",
  [59] = "CDS", [60] = "CDNSKEY", [61] = "OPENPGPKEY", [62] = "CSYNC", [63] = "ZONEMD",
  [64] = "SVCB", [65] = "HTTPS", [99] = "SPF", [249] = "TKEY", [250] = "TSIG",
  [251] = "IXFR", [252] = "AXFR", [253] = "MAILB", [254] = "MAILA", [255] = "ANY",
  [256] = "URI", [257] = "CAA",
}
local CLASSES = { [1] = "IN", [3] = "CH", [4] = "HS", [254] = "NONE", [255] = "ANY" }
local RCODES = {
  [0] = "NOERROR", [1] = "FORMERR", [2] = "SERVFAIL", [3] = "NXDOMAIN", [4] = "NOTIMP",
  [5] = "REFUSED", [6] = "YXDOMAIN", [7] = "YXRRSET", [8] = "NXRRSET", [9] = "NOTAUTH",
  [10] = "NOTZONE", [11] = "DSOTYPENI", [16] = "BADVERS", [17] = "BADKEY", [18] = "BADTIME",
  [19] = "BADMODE", [20] = "BADNAME", [21] = "BADALG", [22] = "BADTRUNC", [23] = "BADCOOKIE",
}
local OPCODES = { [0] = "QUERY", [1] = "IQUERY", [2] = "STATUS", [4] = "NOTIFY", [5] = "UPDATE",
                  [6] = "DSO" }
local EDNS_OPTIONS = {
  [3] = "NSID", [5] = "DAU", [6] = "DHU", [7] = "N3U", [8] = "CLIENT_SUBNET", [9] = "EXPIRE",
  [10] = "COOKIE", [11] = "TCP_KEEPALIVE", [12] = "PADDING", [13] = "CHAIN", [14] = "KEY_TAG",
  [15] = "EDE",
}

-- Unknown numbers read as RFC 3597 and tshark write them: TYPE65534.
local function namer(names, prefix)
  return function(n) return names[n] or (prefix .. n) end
end
M.type_name = namer(TYPES, "TYPE")
M.class_name = namer(CLASSES, "CLASS")
M.rcode_name = namer(RCODES, "RCODE")
M.opcode_name = namer(OPCODES, "OPCODE")

------------------------------------------------------------------------
-- layouts of the fixed parts

local HEADER = L.struct("dns_header", {
  L.u16("id"),
  L.bits{ { "qr", 1 }, { "opcode", 4 }, { "aa", 1 }, { "tc", 1 }, { "rd", 1 },
          { "ra", 1 }, { "z", 1 }, { "ad", 1 }, { "cd", 1 }, { "rcode", 4 } },
  L.u16("qdcount"), L.u16("ancount"), L.u16("nscount"), L.u16("arcount"),
})
local QUESTION_TAIL = L.struct("dns_question", { L.u16("type"), L.u16("class") })
local RR_FIXED = L.struct("dns_rr", { L.u16("type"), L.u16("class"), L.u32("ttl"), L.u16("rdlength") })
-- OPT puts the EDNS fields where other records have class and TTL (RFC 6891 6.1.3).
local OPT_FIXED = L.struct("dns_opt", {
  L.u16("type"), L.u16("udp_size"),
  L.bits{ { "extended_rcode", 8 }, { "version", 8 }, { "dnssec_ok", 1 }, { "z", 15 } },
  L.u16("rdlength"),
})
local EDNS_OPTION = L.struct("edns_option", { L.u16("code"), L.u16("length"), L.bytes("data", "length") })
local SOA_TAIL = L.struct("dns_soa", { L.u32("serial"), L.u32("refresh"), L.u32("retry"),
                                       L.u32("expire"), L.u32("minimum") })
local MX_HEAD = L.struct("dns_mx", { L.u16("preference") })
local SRV_HEAD = L.struct("dns_srv", { L.u16("priority"), L.u16("weight"), L.u16("port") })
local CHARSTRING = L.struct("dns_string", { L.u8("length"), L.bytes("text", "length") })

------------------------------------------------------------------------
-- errors: tables, so a limit keeps its name through pcall

local function fail(offset, fmt, ...)
  error({ message = format(fmt, ...), offset = offset }, 0)
end

local function limit(name, offset, fmt, ...)
  error({ message = format(fmt, ...), offset = offset, limit = name }, 0)
end

-- Runs f(...) and prefixes an error with where(what, i, at) (made only
-- when there is an error: formatting it for every record cost more than
-- the record).
local function within(what, i, at, f, ...)
  local ok, a, b = pcall(f, ...)
  if ok then return a, b end
  local where = format("%s %d at offset %d", what, i, at)
  if type(a) == "table" then
    a.message = where .. ": " .. a.message
    error(a, 0)
  end
  error({ message = where .. ": " .. tostring(a) }, 0)
end

------------------------------------------------------------------------
-- names

-- Master-file escapes (RFC 1035 5.1): a dot or backslash inside a label,
-- and bytes that are not printable ASCII, so a name's text is unambiguous.
local function escape_char(c)
  if c == "." or c == "\\" then return "\\" .. c end
  return format("\\%03d", byte(c))
end

local function escape_label(s)
  return (s:gsub("[%z\1-\32%.\\\127-\255]", escape_char))
end
M.escape_label = escape_label

-- Labels repeat (com, example, www): their text is remembered, up to a
-- bound, so most labels cost a table lookup instead of a pattern match.
local MEMO_MAX = 4096
local memo, memo_n = {}, 0
local function label_text(s)
  local t = memo[s]
  if t then return t end
  t = escape_label(s)
  if memo_n < MEMO_MAX then
    memo[s], memo_n = t, memo_n + 1
  end
  return t
end

-- Names already read in the message being parsed, by the offset they
-- start at: { text, labels, length }. Compression points answers back at
-- the question's name, so most names end in one read already. Set by
-- parse for the length of one message (parse never yields).
local known

-- The name at `off` of the message `s` (a string: one C call for the
-- whole message instead of one per label).
local function read_name(s, off)
  local n = #s
  -- most names in answers are one pointer to a name already read
  local first = byte(s, off + 1)
  if first and first >= 0xC0 and known and off + 2 <= n then
    local target = ((first & 0x3F) << 8) | byte(s, off + 2)
    local seen = target < off and known[target]
    if seen and seen[1] ~= "." then return seen[1], off + 2 end
  end
  local labels, count, text = {}, 0, -1
  local pos, floor, after = off, off, nil
  while true do
    if pos >= n then fail(pos, "name at offset %d runs past the end of the message (%d bytes)", off, n) end
    local len = byte(s, pos + 1)
    local kind = len & 0xC0
    if kind == 0xC0 then
      if pos + 2 > n then fail(pos, "name at offset %d: pointer at offset %d cut off by the end", off, pos) end
      local target = ((len & 0x3F) << 8) | byte(s, pos + 2)
      if target >= floor then
        fail(pos, "name at offset %d: pointer at offset %d to %d does not point backwards (a loop)",
             off, pos, target)
      end
      after = after or pos + 2
      local seen = known and known[target]
      if seen and seen[1] ~= "." then
        -- the same checks as label by label, on the known tail
        if count + seen[2] > M.MAX_LABELS then
          limit("name_labels", pos, "name at offset %d has more than %d labels", off, M.MAX_LABELS)
        end
        if text + 1 + seen[3] > M.MAX_NAME_TEXT then
          limit("name_length", pos, "name at offset %d is longer than %d bytes", off, M.MAX_NAME_TEXT)
        end
        count, text = count + 1, text + 1 + seen[3]
        labels[count] = seen[1]
        count = count - 1 + seen[2]
        break
      end
      pos, floor = target, target
    elseif kind ~= 0 then
      fail(pos, "name at offset %d: label type 0x%02x at offset %d is not supported", off, kind, pos)
    elseif len == 0 then
      break
    else
      if pos + 1 + len > n then
        fail(pos, "name at offset %d: label of %d bytes at offset %d runs past the end", off, len, pos)
      end
      count = count + 1
      if count > M.MAX_LABELS then
        limit("name_labels", pos, "name at offset %d has more than %d labels", off, M.MAX_LABELS)
      end
      local label = label_text(s:sub(pos + 2, pos + 1 + len))
      text = text + 1 + #label
      if text > M.MAX_NAME_TEXT then
        limit("name_length", pos, "name at offset %d is longer than %d bytes", off, M.MAX_NAME_TEXT)
      end
      labels[count] = label
      pos = pos + 1 + len
    end
  end
  local name = count == 0 and "." or concat(labels, ".")
  if known then known[off] = { name, count, text } end
  return name, after or pos + 1
end

--- The name at `off` of the message in `buf` (a buffer or a string), as
-- text ("." for the root), and the offset after it where it was written
-- (after its first pointer).
function M.name(buf, off)
  return read_name(type(buf) == "string" and buf or buf:bytes(), off)
end

------------------------------------------------------------------------
-- record data

local function ipv6_text(s)
  local g = {}
  for i = 1, 8 do g[i] = (byte(s, 2 * i - 1) << 8) | byte(s, 2 * i) end
  -- RFC 5952: the longest run of two or more zero groups (the first of
  -- equals) becomes "::"
  local best, best_len, i = nil, 1, 1
  while i <= 8 do
    if g[i] == 0 then
      local j = i
      while j < 8 and g[j + 1] == 0 do j = j + 1 end
      if j - i + 1 > best_len then best, best_len = i, j - i + 1 end
      i = j + 1
    else
      i = i + 1
    end
  end
  local function hexes(a, b)
    local t = {}
    for k = a, b do t[#t + 1] = format("%x", g[k]) end
    return concat(t, ":")
  end
  if not best then return hexes(1, 8) end
  return hexes(1, best - 1) .. "::" .. hexes(best + best_len, 8)
end
M.ipv6_text = ipv6_text

local function hex(s)
  return (s:gsub(".", function(c) return format("%02x", byte(c)) end))
end

-- A name inside rdata [start, stop): it may point anywhere before, but
-- must end inside the rdata.
local function rdata_name(s, at, stop)
  local name, after = read_name(s, at)
  if after > stop then fail(at, "name at offset %d runs past the record data (ends at %d)", at, stop) end
  return name, after
end

local function quoted(s)
  return '"' .. s:gsub('[%z\1-\31"\\\127-\255]', function(c)
    if c == '"' or c == "\\" then return "\\" .. c end
    return format("\\%03d", byte(c))
  end) .. '"'
end

local NAME_TYPES = { NS = true, MD = true, MF = true, CNAME = true, MB = true, MG = true,
                     MR = true, PTR = true, DNAME = true }

-- Decoders by type name: fill rr (data and structured fields) from the
-- rdata at [at, stop) of the message s; rd is the rdata alone (a string).
local RDATA = {}

function RDATA.A(rr, s, at, stop, rd)
  if #rd ~= 4 then fail(at, "A record data is %d bytes, not 4", #rd) end
  rr.data = format("%d.%d.%d.%d", byte(rd, 1, 4))
end

function RDATA.AAAA(rr, s, at, stop, rd)
  if #rd ~= 16 then fail(at, "AAAA record data is %d bytes, not 16", #rd) end
  rr.data = ipv6_text(rd)
end

function RDATA.MX(rr, s, at, stop, rd)
  local f, used = MX_HEAD:parse(rd)
  rr.preference = f.preference
  rr.exchange = rdata_name(s, at + used, stop)
  rr.data = format("%d %s", rr.preference, rr.exchange)
end

function RDATA.SRV(rr, s, at, stop, rd)
  local f, used = SRV_HEAD:parse(rd)
  rr.priority, rr.weight, rr.port = f.priority, f.weight, f.port
  rr.target = rdata_name(s, at + used, stop)
  rr.data = format("%d %d %d %s", f.priority, f.weight, f.port, rr.target)
end

function RDATA.SOA(rr, s, at, stop, rd)
  local p
  rr.mname, p = rdata_name(s, at, stop)
  rr.rname, p = rdata_name(s, p, stop)
  local f = SOA_TAIL:parse(rd, p - at)
  rr.serial, rr.refresh, rr.retry, rr.expire, rr.minimum = f.serial, f.refresh, f.retry, f.expire, f.minimum
  rr.data = format("%s %s %d %d %d %d %d", rr.mname, rr.rname, f.serial, f.refresh, f.retry,
                   f.expire, f.minimum)
end

function RDATA.TXT(rr, s, at, stop, rd)
  local strings, shown, p = {}, {}, 0
  while p < #rd do
    local s, used = CHARSTRING:parse(rd, p)
    strings[#strings + 1] = s.text
    shown[#shown + 1] = quoted(s.text)
    p = p + used
  end
  rr.strings = strings
  rr.data = concat(shown, " ")
end
RDATA.SPF = RDATA.TXT

local function names_rdata(rr, s, at, stop)
  local name, after = rdata_name(s, at, stop)
  if after ~= stop then fail(after, "%d bytes after the name in the record data", stop - after) end
  rr.data = name
end

local function raw_rdata(rr, rd)
  rr.data = format("\\# %d%s", #rd, #rd > 0 and (" " .. hex(rd)) or "")
end

-- The OPT pseudo-record: its fields go to rr and to the message's edns.
local function opt_record(s, at, name)
  local f, used = OPT_FIXED:parse(s, at)
  local start = at + used
  if start + f.rdlength > #s then
    fail(at, "OPT record data of %d bytes at offset %d runs past the end of the message (%d bytes)",
         f.rdlength, start, #s)
  end
  local rd = s:sub(start + 1, start + f.rdlength)
  local options, p, shown = {}, 0, {}
  while p < f.rdlength do
    local o, n = EDNS_OPTION:parse(rd, p)
    options[#options + 1] = { code = o.code, name = EDNS_OPTIONS[o.code] or ("OPTION" .. o.code),
                              data = hex(o.data) }
    shown[#shown + 1] = options[#options].name
    p = p + n
  end
  local edns = { udp_size = f.udp_size, extended_rcode = f.extended_rcode, version = f.version,
                 dnssec_ok = f.dnssec_ok == 1, z = f.z, options = options }
  local data = format("udp_size=%d version=%d do=%d", f.udp_size, f.version, f.dnssec_ok)
  if #shown > 0 then data = data .. " options=" .. concat(shown, ",") end
  local rr = { name = name, type = "OPT", type_code = 41, udp_size = f.udp_size, ttl = nil,
               rdlength = f.rdlength, data = data, edns = edns }
  return rr, start + f.rdlength
end

-- One resource record at `at`: the record and the offset after it.
local function record(s, at)
  local name, p = read_name(s, at)
  local n = #s
  if p + 2 <= n and unpack(">I2", s, p + 1) == 41 then return opt_record(s, p, name) end
  local f, used = RR_FIXED:parse(s, p)
  local start = p + used
  local stop = start + f.rdlength
  if stop > n then
    fail(p, "record data of %d bytes at offset %d runs past the end of the message (%d bytes)",
         f.rdlength, start, n)
  end
  local ty = M.type_name(f.type)
  local rr = { name = name, type = ty, type_code = f.type, class = M.class_name(f.class),
               class_code = f.class, ttl = f.ttl, rdlength = f.rdlength }
  local rd = s:sub(start + 1, stop)
  if RDATA[ty] then
    RDATA[ty](rr, s, start, stop, rd)
  elseif NAME_TYPES[ty] then
    names_rdata(rr, s, start, stop)
  else
    raw_rdata(rr, rd)
  end
  return rr, stop
end

local function question(s, at)
  local name, p = read_name(s, at)
  local f, used = QUESTION_TAIL:parse(s, p)
  return { name = name, type = M.type_name(f.type), type_code = f.type,
           class = M.class_name(f.class), class_code = f.class }, p + used
end

local SECTIONS = {
  { "questions", "qdcount", "question", question },
  { "answers", "ancount", "answer", record },
  { "authority", "nscount", "authority record", record },
  { "additional", "arcount", "additional record", record },
}

local function sections(s, msg)
  local p = 12
  for _, sec in ipairs(SECTIONS) do
    local list, count, what, read = msg[sec[1]], msg[sec[2]], sec[3], sec[4]
    for i = 1, count do
      if p >= #s then
        fail(p, "%s %d of %d at offset %d: the message ends (%d bytes)", what, i, count, p, #s)
      end
      local item
      item, p = within(what, i, p, read, s, p)
      list[#list + 1] = item
      if item.edns then msg.edns = item.edns end
    end
  end
  if p < #s then msg.trailing = #s - p end
end

--- Decodes the message in `buf` (a lunatap buffer holding exactly one
-- message) here in Lua. Returns msg, nil; or msg (partial, msg.error set),
-- err; or nil, err when there is no header. err = { message, limit, offset }.
function M.parse_lua(buf)
  if buf:len() < 12 then
    return nil, { message = format("truncated header: %d bytes, a header takes 12", buf:len()), offset = 0 }
  end
  -- one copy of the message (at most 64 KiB), read from there on
  local s = buf:bytes()
  local h = HEADER:parse(s, 0)
  local flags = { qr = h.qr == 1, aa = h.aa == 1, tc = h.tc == 1, rd = h.rd == 1, ra = h.ra == 1,
                  z = h.z == 1, ad = h.ad == 1, cd = h.cd == 1, opcode = h.opcode }
  local msg = { id = h.id, flags = flags, opcode = M.opcode_name(h.opcode), rcode_code = h.rcode,
                qdcount = h.qdcount, ancount = h.ancount, nscount = h.nscount, arcount = h.arcount,
                questions = {}, answers = {}, authority = {}, additional = {}, size = #s,
                -- set later here and by the dissector: the table is made at its final size
                rcode = nil, qname = nil, qtype = nil, qclass = nil, edns = nil, trailing = nil,
                error = nil, transport = nil, ts = nil, query = nil, latency = nil, retries = nil }
  known = {}
  local ok, err = pcall(sections, s, msg)
  known = nil
  if msg.edns then
    -- the upper 8 bits of a 12-bit rcode (RFC 6891 6.1.3)
    msg.rcode_code = (msg.edns.extended_rcode << 4) | h.rcode
  end
  msg.rcode = M.rcode_name(msg.rcode_code)
  local q = msg.questions[1]
  if q then msg.qname, msg.qtype, msg.qclass = q.name, q.type, q.class end
  if ok then return msg, nil end
  if type(err) ~= "table" then err = { message = tostring(err) } end
  msg.error = err.message
  return msg, err
end

-- Messages that decode without an error are decoded in C (lunatap.dns_scan,
-- to the same table; spec/dns_scan_spec.lua compares them); the rest here,
-- with their partial results and errors.
local fast = require("lunatap.dns_scan").parser(TYPES, CLASSES, RCODES, OPCODES, EDNS_OPTIONS)
local parse_lua = M.parse_lua
M.parse_c = fast -- parse_c(buf) -> msg, or nil when it leaves the message to parse_lua

--- Decodes the message in `buf` (a lunatap buffer holding exactly one
-- message), with the results of parse_lua.
function M.parse(buf)
  local msg = fast(buf)
  if msg then return msg, nil end
  return parse_lua(buf)
end

return M
