-- lunatap.dns_scan (engine/ldns.c) against dns_wire's Lua decoder: the C
-- decoder must give the very table parse_lua gives for every message that
-- decodes without an error, and leave every other one to parse_lua. A
-- script compares the two on every UDP datagram of every capture (DNS or
-- not: the rest are malformed DNS for free) and on mutations of the DNS
-- ones (bytes changed, cut short, counts and pointers bent), from a
-- seeded generator so a failure repeats.

local h = require("helper")

local COMPARE = [[
local wire = require("lunatap.dns_wire")
local MUTATIONS = options {
  summary = "compares lunatap.dns_scan with dns_wire.parse_lua",
  { "--mutations", arg = "N", type = "number", default = 8, help = "mutations per DNS datagram" },
}.mutations

-- the first difference between a and b, as a path; nil when equal
local function diff(a, b, path)
  if type(a) ~= "table" or type(b) ~= "table" then
    if a == b and math.type(a) == math.type(b) then return nil end
    return ("%s: %s (%s) vs %s (%s)"):format(path, tostring(a), math.type(a) or type(a),
                                             tostring(b), math.type(b) or type(b))
  end
  for k, v in pairs(a) do
    local d = diff(v, b[k], path .. "." .. tostring(k))
    if d then return d end
  end
  for k, v in pairs(b) do
    if a[k] == nil then return ("%s.%s: only in lua (%s)"):format(path, tostring(k), tostring(v)) end
  end
end

local seed = 0x2545F491
local function rand(n) -- xorshift32: 1..n
  seed = seed ~ (seed << 13) & 0xFFFFFFFF
  seed = seed ~ (seed >> 17)
  seed = seed ~ (seed << 5) & 0xFFFFFFFF
  return seed % n + 1
end

local counts = { compared = 0, taken = 0, left = 0, mismatch = 0 }

local function compare(s, where)
  counts.compared = counts.compared + 1
  local buf = buffer(s)
  local c = wire.parse_c(buf)
  local l, err = wire.parse_lua(buf)
  if c then
    counts.taken = counts.taken + 1
    local d = err and ("lua: " .. err.message) or diff(c, l, "msg")
    if d then
      counts.mismatch = counts.mismatch + 1
      if counts.mismatch <= 5 then print("MISMATCH " .. where .. " " .. d) end
    end
  else
    counts.left = counts.left + 1
    if not err then
      counts.mismatch = counts.mismatch + 1
      if counts.mismatch <= 5 then print("NOT TAKEN " .. where .. " (lua decodes it without an error)") end
    end
  end
end

local function mutate(s)
  local n = #s
  local kind = rand(4)
  if kind == 1 or n < 13 then -- a byte changed
    local i = rand(n)
    return s:sub(1, i - 1) .. string.char(rand(256) - 1) .. s:sub(i + 1)
  elseif kind == 2 then -- cut short
    return s:sub(1, rand(n) - 1)
  elseif kind == 3 then -- a count bent
    local at = 4 + 2 * (rand(4) - 1)
    return s:sub(1, at) .. string.char(rand(4) - 1) .. s:sub(at + 2)
  end
  -- a compression pointer planted somewhere
  local i = rand(n - 1)
  return s:sub(1, i - 1) .. string.char(0xC0 | (rand(4) - 1), rand(256) - 1) .. s:sub(i + 2)
end

local frame = 0
on("packet", function() frame = frame + 1 end)
on("udp.datagram", function(session, dir, buf)
  local s = buf:bytes()
  compare(s, "frame " .. frame)
  if session.server_port == 53 or session.client_port == 53 then
    for i = 1, MUTATIONS do compare(mutate(s), ("frame %d mutation %d"):format(frame, i)) end
  end
end)
on("done", function()
  print(("compared %d taken %d left %d mismatch %d"):format(counts.compared, counts.taken, counts.left,
                                                            counts.mismatch))
end)
]]

local script = h.tmpfile(COMPARE, ".lua")

local function compare(path, mutations)
  local r = h.run({ "-r", path, script, "--mutations", tostring(mutations) })
  local c = { r.out:match("compared (%d+) taken (%d+) left (%d+) mismatch (%d+)") }
  assert(c[1], path .. ": no summary (exit " .. r.code .. "):\n" .. r.out .. r.err)
  assert(r.out:match("mismatch 0\n"), path .. ":\n" .. r.out)
  return tonumber(c[1]), tonumber(c[2]), tonumber(c[3])
end

describe("lunatap.dns_scan", function()
  it("takes every well-formed message of the DNS sample, and decodes it as dns_wire does", function()
    local compared, taken, left = compare(h.samples .. "/dns-features.pcap", 0)
    assert.is_true(compared > 20)
    assert.are.equal(compared, taken, ("taken %d left %d"):format(taken, left))
  end)

  it("agrees with dns_wire on 500 mutations of each of the sample's messages", function()
    local compared, taken, left = compare(h.samples .. "/dns-features.pcap", 500)
    assert.is_true(compared > 10000)
    assert.is_true(taken > 1000 and left > 1000, ("taken %d left %d"):format(taken, left))
  end)

  it("decodes crafted edge cases as dns_wire does: every byte in labels and TXT, IPv6 runs, trailing data", function()
    local r = h.script(COMPARE .. [=[
      local function name(...)
        local t = {}
        for _, l in ipairs({ ... }) do t[#t + 1] = string.char(#l) .. l end
        return table.concat(t) .. "\0"
      end
      local function rr(owner, ty, data, class)
        return owner .. string.pack(">I2I2I4s2", ty, class or 1, 3600, data)
      end
      local all = {}
      for c = 0, 255 do all[#all + 1] = string.char(c) end
      all = table.concat(all)
      local q = name("www", "example", "com")
      local ptr = "\xC0\x0C"
      local function ip6(...) return string.pack(">I2I2I2I2I2I2I2I2", ...) end
      local answers = {
        rr(name(all:sub(1, 63), all:sub(64, 126)), 1, "\1\2\3\4"),
        rr(name(all:sub(127, 189), all:sub(190, 252), all:sub(253)), 1, "\1\2\3\4", 7),
        rr(ptr, 16, "\128" .. all:sub(1, 128) .. "\127" .. all:sub(129, 255) .. "\1" .. all:sub(256)),
        rr(ptr, 16, ""),
        rr(ptr, 99, "\0\3a\"b"),
        rr(ptr, 28, ip6(0, 0, 0, 0, 0, 0, 0, 0)),
        rr(ptr, 28, ip6(0, 0, 0, 0, 0, 0, 0, 1)),
        rr(ptr, 28, ip6(1, 0, 0, 0, 0, 0, 0, 0)),
        rr(ptr, 28, ip6(1, 0, 0, 2, 0, 0, 0, 3)),
        rr(ptr, 28, ip6(1, 0, 2, 0, 0, 3, 0, 0)),
        rr(ptr, 28, ip6(0xfe80, 0, 1, 0, 0xabcd, 0, 0, 0)),
        rr(ptr, 15, "\0\10" .. ptr .. "junk"),
        rr(ptr, 33, "\0\1\0\2\31\144" .. name("sip", "example") .. "xx"),
        rr(ptr, 6, ptr .. name("host", "master") .. string.pack(">I4I4I4I4I4", 1, 2, 3, 4, 4294967295) .. "tail"),
        rr(ptr, 5, name("x")),
        rr(ptr, 12, "\0"),
        rr(ptr, 65534, "\1\2\255"),
        rr(ptr, 13, ""),
        rr("\0", 257, "abc", 255),
        rr(ptr, 16, string.rep("\200" .. string.rep("\1", 200), 8)),
      }
      local opt = "\0" .. string.pack(">I2I2BBI2s2", 41, 1232, 1, 0, 0x8123,
                                     string.pack(">I2s2I2s2I2s2", 10, "\1\2\3\4\5\6\7\8", 65000, "", 12, "\0\0"))
      local header = string.pack(">I2I2I2I2I2I2", 4242, 0x8580 | 3, 1, #answers, 0, 1)
      compare(header .. q .. "\0\1\0\1" .. table.concat(answers) .. opt, "crafted")
      -- the same without EDNS, with bytes after the last record
      compare(string.pack(">I2I2I2I2I2I2", 7, 0x0100, 1, 1, 0, 0) .. q .. "\0\28\0\1" .. answers[6] .. "xyz",
              "trailing")
      -- a query for the root, opcode NOTIFY, every flag
      compare(string.pack(">I2I2I2I2I2I2", 0, 0xA7FF, 1, 0, 0, 0) .. "\0\0\6\0\1", "root")
      on("done", function() print(wire.parse_c(buffer(header .. q .. "\0\1\0\1" .. table.concat(answers) .. opt))
                                    and "taken" or "left") end)
    ]=], h.samples .. "/dns-features.pcap", { "-f", "udp port 1" }, { "--mutations", "0" })
    h.has(r.out, "compared 3 taken 3 left 0 mismatch 0")
    h.has(r.out, "taken\n")
  end)

  it("leaves to dns_wire every message with an error in its names or record data", function()
    local r = h.script(COMPARE .. [=[
      local function msg(answer, qname)
        return string.pack(">I2I2I2I2I2I2", 1, 0x8180, 1, answer and 1 or 0, 0, 0)
               .. (qname or "\3www\7example\0") .. "\0\1\0\1" .. (answer or "")
      end
      local function rr(ty, data, owner)
        return (owner or "\xC0\x0C") .. string.pack(">I2I2I4s2", ty, 1, 60, data)
      end
      local soa = "\xC0\x0C\xC0\x0C" .. string.rep("\0", 19)
      local long = string.rep("\63" .. string.rep("a", 63), 17) .. "\0"
      local many = string.rep("\1a", 256) .. "\0"
      local bad = {
        rr(1, "\1\2\3"), rr(1, "\1\2\3\4\5"), rr(28, string.rep("\0", 15)), rr(15, "\0"),
        rr(15, "\0\1\3ab"), rr(33, "\0\1\0\2\0"), rr(6, soa), rr(6, "\xC0\x0C"), rr(16, "\5abc"),
        rr(16, "\2ab\1"), rr(5, "\xC0\x0C\0"), rr(5, "\1a"), rr(12, "\xC0\x30"),
        rr(2, "\x40\0"), rr(2, "\x80\0"), rr(1, "\1\2\3\4", "\xC0\x1D"),
        "\xC0\x0C\0\1\0\1\0\0", "\xC0\x0C\0\1\0\1\0\0\0\60\0\4\1\2",
        "\0\0\41\4\208\0\0\0\0\0\8\0\10\0\5abc",
        "\0\0\41\4\208\0\0\0\0\0\3\0\10\0",
        -- past the 1 KiB a string builder holds on the C stack, then wrong
        rr(16, string.rep("\200" .. string.rep("\1", 200), 8) .. "\9abc"),
        "\0" .. string.pack(">I2I2BBI2s2", 41, 1232, 0, 0, 0,
                            string.rep(string.pack(">I2s2", 3, string.rep("x", 600)), 4) .. "\0\3\0\9ab"),
      }
      for i, a in ipairs(bad) do compare(msg(a), "bad " .. i) end
      compare(msg(nil, long), "name of 1,087 bytes")
      compare(msg(nil, many), "256 labels")
      compare(msg(nil, "\xC0\x0C"), "pointer to itself")
      compare(msg(nil, "\3www\xC0\x0C"), "pointer loop")
      compare(msg(nil, "\3www"), "name cut off")
      compare(string.pack(">I2I2I2I2I2I2", 1, 0, 2, 0, 0, 0) .. "\0\0\1\0\1", "second question missing")
      compare("\0\1\0\0\0\0\0\0\0\0\0", "11 bytes")
    ]=], h.samples .. "/dns-features.pcap", { "-f", "udp port 1" }, { "--mutations", "0" })
    h.has(r.out, "compared 29 taken 0 left 29 mismatch 0")
  end)

  it("refuses what is not a buffer or a string", function()
    local r = h.script([[
      local ok, err = pcall(require("lunatap.dns_wire").parse_c, 42)
      print(ok, err)
    ]])
    h.has(r.out, "false")
    h.has(r.out, "buffer or string expected")
  end)

  describe("on every capture's datagrams and mutations of its DNS ones", function()
    h.each_capture(it, function(path) compare(path, 8) end)
  end)
end)
