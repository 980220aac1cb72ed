-- lunatap.layout (lua/lunatap/layout.lua): declarative layouts compiled
-- into parsers, run inside lunatap's sandbox as a dissector would.

local h = require("helper")

local UDP = h.samples .. "/udp-echo.pcap"

local function run(body)
  local r = h.script('local L = require("lunatap.layout")\n' .. body, UDP, { "-c", "1" })
  return r, h.lines(r.out)
end

describe("layout", function()
  it("parses a DNS header: integers and bit fields", function()
    local r, l = run([[
local hdr = L.struct("dns_header", {
  L.u16("id"),
  L.bits{ { "qr", 1 }, { "opcode", 4 }, { "aa", 1 }, { "tc", 1 }, { "rd", 1 },
          { "ra", 1 }, { "z", 3 }, { "rcode", 4 } },
  L.u16("qdcount"), L.u16("ancount"), L.u16("nscount"), L.u16("arcount"),
})
local rec, used = hdr:parse(buffer("\x12\x34\x81\x83\x00\x01\x00\x02\x00\x03\x00\x04"))
print(rec.id, rec.qr, rec.opcode, rec.aa, rec.tc, rec.rd, rec.ra, rec.z, rec.rcode,
      rec.qdcount, rec.ancount, rec.nscount, rec.arcount, used)]])
    assert.are.equal(0, r.code, r.err)
    assert.are.same({ "4660\t1\t0\t0\t0\t1\t1\t0\t3\t1\t2\t3\t4\t12" }, l)
  end)

  it("reads any width in either byte order, signed or not", function()
    local r, l = run([[
local t = L.struct("ints", {
  L.u24le("a"), L.uint("b", 5, { signed = true }), L.uint("c", 6), L.i16le("d"),
  L.u64("e"), L.i8("f"), L.uint("g", 7, { le = true }),
})
local data = "\1\2\3" .. "\255\255\255\255\254" .. "\0\0\0\0\1\0" .. "\254\255" ..
             "\0\0\0\0\0\0\1\0" .. "\128" .. "\1\0\0\0\0\0\0"
local rec, used = t:parse(buffer(data))
print(rec.a, rec.b, rec.c, rec.d, rec.e, rec.f, rec.g, used, #data)]])
    assert.are.equal(0, r.code, r.err)
    assert.are.same({ "197121\t-2\t256\t-2\t256\t-128\t1\t32\t32" }, l)
  end)

  it("follows lengths and counts from earlier fields, names enums, nests and guards parts", function()
    local r, l = run([[
local tlv = L.struct("tlv", {
  L.enum(L.u8("type"), { [1] = "A", [2] = "B" }), L.u8("len"), L.bytes("value", "len") })
local msg = L.struct("msg", {
  L.u8("n"), L.array("items", "n", tlv),
  L.u8("flag"), L.when("flag", { L.u16("extra") }),
  L.u8("skip"), L.when(function(rec) return rec.skip > 5 end, { L.u8("never") }),
  L.nested("tail", tlv),
  L.array("pair", 2, L.u8("x")),
  L.bytes("rest", function(rec) return rec.tail.len end),
})
local data = "\2" .. "\1\3abc" .. "\9\0" .. "\1\0\9" .. "\0" .. "\1\1z" .. "\5\6" .. "q"
local m, used = msg:parse(buffer(data))
print(m.n, m.items[1].type_name, m.items[1].value, m.items[2].type_name, m.items[2].value,
      m.flag, m.extra, m.skip, m.never, m.tail.value, m.pair[1], m.pair[2], m.rest, used, #data)
local _, at = msg:parse(buffer("xx" .. data), 2)
print(at)]])
    assert.are.equal(0, r.code, r.err)
    assert.are.same({ "2\tA\tabc\tnil\t\t1\t9\t0\tnil\tz\t5\t6\tq\t18\t18", "18" }, l)
  end)

  it("refuses short and hostile input, naming the layout and the field", function()
    local r, l = run([[
local tlv = L.struct("tlv", { L.u8("type"), L.u8("len"), L.bytes("value", "len") })
local list = L.struct("list", { L.u32("n"), L.array("items", "n", tlv) })
print(pcall(tlv.parse, tlv, buffer("\1\200abc")))
print(pcall(tlv.parse, tlv, buffer("\1")))
print(pcall(list.parse, list, buffer("\255\255\255\255\1\0")))
local neg = L.struct("neg", { L.bytes("b", function() return -1 end) })
print(pcall(neg.parse, neg, buffer("abc")))
print(pcall(tlv.parse, tlv, buffer("\1\1a"), 5))]])
    assert.are.equal(0, r.code, r.err)
    assert.are.same({
      "false\tlayout tlv: field value: needs 200 bytes at offset 2, the buffer has 5",
      "false\tlayout tlv: field len: needs 1 bytes at offset 1, the buffer has 1",
      -- a count of 4 billion stops at the first element that is not there
      "false\tlayout tlv: field type: needs 1 bytes at offset 6, the buffer has 6",
      "false\tlayout neg: field b: bad length or count -1",
      "false\tlayout tlv: field type: needs 1 bytes at offset 5, the buffer has 3",
    }, l)
  end)

  it("refuses bad declarations with a message", function()
    local r, l = run([[
print(pcall(L.bits, { { "a", 3 } }))
print(pcall(L.uint, "x", 9))
print(pcall(L.u8, "not a name"))
print(pcall(L.struct, "s", { L.bytes("b", {}) }))]])
    assert.are.equal(0, r.code, r.err)
    h.has(l[1], "bit fields take 3 bits: they must fill 1 to 8 whole bytes")
    h.has(l[2], "field x: width must be 1 to 8 bytes, got 9")
    h.has(l[3], "uint needs a field name")
    h.has(l[4], "the length of b must be a count, a field name or a function")
  end)

  it("parses a Lua string as it parses a buffer, cut at every length too", function()
    local r, l = run([[
local tlv = L.struct("tlv", { L.enum(L.u8("type"), { [1] = "A" }), L.u8("len"), L.bytes("value", "len") })
local t = L.struct("all", {
  L.u16("id"), L.bits{ { "hi", 3 }, { "lo", 5 } }, L.uint("w", 3, { signed = true, le = true }),
  L.u8("n"), L.array("items", "n", tlv), L.u8("flag"), L.when("flag", { L.u32le("extra") }),
  L.nested("tail", tlv), L.array("pair", 2, L.i16("x")), L.u64("big"),
})
local data = "\1\2" .. "\165" .. "\254\255\255" .. "\2" .. "\1\3abc" .. "\2\0" .. "\1" ..
             "\4\3\2\1" .. "\1\1z" .. "\255\254\0\5" .. "\128\0\0\0\0\0\0\1"
local function show(ok, rec, used)
  if not ok then return "error: " .. rec end
  local items = {}
  for i, it in ipairs(rec.items) do items[i] = it.type .. "/" .. tostring(it.type_name) .. "/" .. it.value end
  return table.concat({ rec.id, rec.hi, rec.lo, rec.w, rec.n, table.concat(items, ","), rec.flag,
                        rec.extra, rec.tail.value, rec.pair[1], rec.pair[2], rec.big, used }, " ")
end
print(show(pcall(t.parse, t, data)))
local same = 0
for cut = 0, #data do
  local d = data:sub(1, cut)
  local a, b = show(pcall(t.parse, t, buffer(d))), show(pcall(t.parse, t, d))
  if a == b then same = same + 1 else print("differs at", cut, a, b) end
end
print(same, #data + 1, show(pcall(t.parse, t, "x" .. data, 1)))]])
    assert.are.equal(0, r.code, r.err)
    assert.are.same({
      "258 5 5 -2 2 1/A/abc,2/nil/ 1 16909060 z -2 5 -9223372036854775807 34",
      "35\t35\t258 5 5 -2 2 1/A/abc,2/nil/ 1 16909060 z -2 5 -9223372036854775807 34",
    }, l)
  end)
end)
