-- require("lunatap.introspect"): kind() and fields() of packets, layers,
-- sessions and buffers; expired(); keep(pkt), a copy that outlives its
-- handler, reads the same as the live packet, keeps its layers and
-- buffers alive, and counts against --lua-mem.

local h = require("helper")

local UDP = h.samples .. "/udp-echo.pcap"
local HTTP = h.samples .. "/http-loopback.pcap"

-- Runs `body` (after a prelude) over `pcap`; requires a clean run.
local PRELUDE = [[
local I = require("lunatap.introspect")
local function list(t) return t and table.concat(t, ",") or "nil" end
]]

local function run(body, pcap, before)
  local r = h.script(PRELUDE .. body, pcap, before)
  assert.are.equal("", r.err)
  assert.are.equal(0, r.code)
  return h.lines(r.out)
end

describe("introspect kind and fields", function()
  it("a UDP packet lists its layers (no tcp), its layers their fields, a buffer its methods", function()
    local out = run([[
local n = 0
on("packet", function(pkt)
  n = n + 1
  if n > 1 then return end
  print(I.kind(pkt), list(I.fields(pkt)))
  print(I.kind(pkt.eth), list(I.fields(pkt.eth)))
  print(I.kind(pkt.ip), list(I.fields(pkt.ip)))
  print(I.kind(pkt.udp), list(I.fields(pkt.udp)))
  print(I.kind(pkt.payload), I.kind(pkt.data), I.kind(pkt.payload:sub(1)))
  print(list(I.fields(pkt.payload)))
  print(I.expired(pkt), I.expired(pkt.ip), I.expired(pkt.payload))
end)
]], UDP)
    assert.are.same({
      "packet\tcaplen,data,eth,ifindex,invalid,ip,len,linktype,payload,truncated,ts,ts_nsec,ts_sec,udp",
      "eth\tdst,src,type,vlans",
      "ip\tdf,dst,flags,frag,fragment,hlen,hlim,id,len,mf,proto,src,tos,ttl,version",
      "udp\tcsum,dport,len,sport",
      "buffer\tbuffer\tbuffer",
      "bytes,expired,find,hex,i16,i16le,i24,i24le,i32,i32le,i64,i64le,i8,len,sub,"
        .. "u16,u16le,u24,u24le,u32,u32le,u64,u64le,u8",
      "false\tfalse\tfalse",
    }, out)
  end)

  it("a TCP packet lists tcp; tcp lists options; a SYN's options list what it carries", function()
    local out = run([[
on("packet", function(pkt)
  if not (pkt.tcp and pkt.tcp.syn and not pkt.tcp.ack) then return end
  local f = list(I.fields(pkt))
  print(f:find("tcp", 1, true) ~= nil, f:find("udp", 1, true) == nil)
  print(I.kind(pkt.tcp), list(I.fields(pkt.tcp)))
  print(I.kind(pkt.tcp.options), list(I.fields(pkt.tcp.options)))
end)
]], HTTP)
    assert.is_true(#out >= 3)
    assert.are.equal("true\ttrue", out[1])
    assert.are.equal("tcp\tack,ack_raw,csum,cwr,dport,ece,fin,flags,hlen,len,options,psh,rst,"
      .. "seq,sport,syn,urg,urp,win", out[2])
    assert.are.equal("tcp options\tmss,sack_permitted,ts_ecr,ts_val,wscale", out[3])
  end)

  it("sessions list their fields with data, in tcp.start and after their end", function()
    local out = run([[
local kept
on("tcp.start", function(s)
  kept = kept or s
  print(I.kind(s), list(I.fields(s)))
  print(I.expired(s))
end)
on("done", function()
  local f = list(I.fields(kept))
  print(kept.ended, f:find("rtt", 1, true) ~= nil, f:find("data", 1, true) ~= nil)
end)
]], HTTP)
    assert.are.equal("session\tbytes,client,client_bytes,client_gap_bytes,client_gaps,client_ip,"
      .. "client_out_of_order,client_packets,client_payload_bytes,client_port,client_retransmits,"
      .. "data,duration,ended,history,id,last,midstream,packets,proto,server,server_bytes,"
      .. "server_gap_bytes,server_gaps,server_ip,server_out_of_order,server_packets,"
      .. "server_payload_bytes,server_port,server_retransmits,start,state,syn_retries", out[1])
    assert.are.equal("false", out[2])
    assert.are.equal("true\ttrue\ttrue", out[#out])
  end)

  it("anything else has no kind and no fields, and is not expired", function()
    local out = run([[
for _, v in ipairs({ 1, "packet", {}, print, true, 2.5, coroutine.create(print) }) do
  print(I.kind(v), I.fields(v), I.expired(v))
end
print(I.kind(nil), I.fields(nil), I.expired(nil))
print(I.kind(buffer("ab")), I.expired(buffer("ab")), #I.fields(buffer("ab")) > 10)
print(pcall(I.kind))
print(pcall(I.keep, {}))
print(pcall(I.keep, buffer("x")))
on("packet", function(pkt) print(pcall(I.keep, pkt.ip)) return end)
]], UDP)
    for i = 1, 8 do assert.are.equal("nil\tnil\tfalse", out[i]) end
    assert.are.equal("buffer\tfalse\ttrue", out[9])
    assert.is_truthy(out[10]:find("bad argument #1 to '?' (value expected)", 1, true), out[10])
    assert.is_truthy(out[11]:find("packet expected, got table", 1, true), out[11])
    assert.is_truthy(out[12]:find("packet expected, got buffer", 1, true), out[12])
    assert.is_truthy(out[13]:find("packet expected", 1, true), out[13])
  end)

  it("expired packets, layers and buffers say so, and fields() raises for them", function()
    local out = run([[
local p, ip, pay
on("packet", function(pkt) p, ip, pay = pkt, pkt.ip, pkt.payload end)
on("done", function()
  print(I.kind(p), I.kind(ip), I.kind(pay))
  print(I.expired(p), I.expired(ip), I.expired(pay))
  print(tostring(p), tostring(ip))
  print(select(2, pcall(I.fields, p)))
  print(select(2, pcall(I.fields, ip)))
  print(select(2, pcall(I.fields, pay)))
  print(select(2, pcall(I.keep, p)))
end)
]], UDP)
    assert.are.equal("packet\tip\tbuffer", out[1])
    assert.are.equal("true\ttrue\ttrue", out[2])
    assert.are.equal("packet (expired)\tip (expired)", out[3])
    assert.is_truthy(out[4]:find("expired packet", 1, true), out[4])
    assert.is_truthy(out[5]:find("expired ip", 1, true), out[5])
    assert.is_truthy(out[6]:find("expired buffer", 1, true), out[6])
    assert.is_truthy(out[7]:find("expired packet", 1, true), out[7])
  end)
end)

-- Every object's fields, recursively, as one string: layers by their
-- fields, buffers by their bytes, tables (vlans, sack) by their items.
-- "NIL" marks a listed field that read nil, "UNSORTED" a list out of order.
local SERIALIZE = [[
local function ser(v)
  local k = I.kind(v)
  if k == "buffer" then return "buf" .. #v .. ":" .. v:bytes() end
  if k then
    local names, parts = I.fields(v), {}
    for i, name in ipairs(names) do
      if i > 1 and names[i - 1] >= name then parts[#parts + 1] = "UNSORTED" end
      local x = v[name]
      parts[#parts + 1] = name .. "=" .. (x == nil and "NIL" or ser(x))
    end
    return k .. "{" .. table.concat(parts, ",") .. "}"
  end
  if type(v) == "table" then
    local parts = {}
    for i, x in ipairs(v) do parts[i] = ser(x) end
    return "[" .. table.concat(parts, ",") .. "]"
  end
  return type(v) .. ":" .. tostring(v)
end
]]

describe("introspect over every capture", function()
  h.each_capture(it, function(path)
    -- Per packet (the first 1000): all listed fields read non-nil, lists
    -- are sorted, no "tcp" without pkt.tcp, and a kept copy reads exactly
    -- the same. Bad input may end the run early (status 1, a message).
    local r = h.script(PRELUDE .. SERIALIZE .. [[
local packets, bad, first = 0, 0, nil
on("packet", function(pkt)
  packets = packets + 1
  local live, copy = ser(pkt), ser(I.keep(pkt))
  local has_tcp = list(I.fields(pkt)):find("%f[%w]tcp%f[^%w]") ~= nil
  if live ~= copy or live:find("NIL", 1, true) or live:find("UNSORTED", 1, true)
     or has_tcp ~= (pkt.tcp ~= nil) then
    bad = bad + 1
    first = first or live .. "\n" .. copy
  end
end)
on("done", function() print("DONE", packets, bad, first) end)
]], path, { "-c", "1000" })
    assert(r.code == 0 or r.code == 1, "exit status " .. r.code .. "\n" .. r.err)
    assert(not r.err:match("Sanitizer") and not r.err:match("runtime error"), r.err)
    assert(not r.err:match("error in "), r.err)
    local packets, bad = r.out:match("DONE\t(%d+)\t(%d+)")
    assert(packets, "\"done\" did not run\n" .. r.err)
    assert.are.equal("0", bad, r.out)
  end)
end)

describe("introspect keep", function()
  it("a kept packet reads in done what the handler saw, tostring says kept", function()
    local out = run(SERIALIZE .. [[
local kept, seen = {}, {}
on("packet", function(pkt)
  local k = I.keep(pkt)
  kept[#kept + 1] = k
  seen[#seen + 1] = ser(pkt)
  if #kept == 1 then print(tostring(k), tostring(k.ip), I.kind(k), I.expired(k), I.keep(k) == k) end
end)
on("done", function()
  local same = 0
  for i, k in ipairs(kept) do if ser(k) == seen[i] then same = same + 1 end end
  print(#kept, same, I.expired(kept[1].payload), tostring(kept[1].payload))
end)
]], HTTP)
    assert.are.equal("packet (kept)\tip (kept)\tpacket\tfalse\ttrue", out[1])
    assert.are.equal("48\t48\tfalse\tbuffer (" .. out[2]:match("%((%d+) bytes%)") .. " bytes)", out[2])
  end)

  it("layers and buffers of a copy keep it alive after the copy itself is dropped", function()
    -- Only the layers and buffers are kept; garbage in done makes the
    -- collector run several cycles before they are read (the ASan build
    -- would catch a read of freed memory).
    local out = run([[
local held = {}
on("packet", function(pkt)
  if not pkt.tcp then return end
  local k = I.keep(pkt)
  held[#held + 1] = {
    ip = k.ip, tcp = k.tcp, opts = k.tcp.options, pay = k.payload, sub = k.data:sub(0, 14),
    want = { pkt.ip.src, pkt.tcp.sport, pkt.tcp.options.mss, pkt.payload:bytes(), pkt.data:bytes(0, 14) },
  }
end)
on("done", function()
  for i = 1, 300000 do local t = { i, tostring(i) } end
  local same = 0
  for _, x in ipairs(held) do
    local w = x.want
    if x.ip.src == w[1] and x.tcp.sport == w[2] and x.opts.mss == w[3]
       and x.pay:bytes() == w[4] and x.sub:bytes() == w[5] then
      same = same + 1
    end
  end
  print(#held, same, collectgarbage("count") > 0)
end)
]], HTTP)
    assert.are.same({ "48\t48\ttrue" }, out)
  end)

  it("copies count against --lua-mem: keeping too many fails the handler, the engine goes on", function()
    local r = h.script(PRELUDE .. [[
local kept, fails = {}, 0
on("packet", function(pkt)
  for i = 1, 2000 do kept[#kept + 1] = I.keep(pkt) end
end)
on("packet", function(pkt) fails = fails + 1 end)
on("done", function(st)
  local n = #kept
  kept = nil
  -- The engine's own pushes (packet objects, this table) are not capped
  -- (lhost.h): with the cap full of copies they go a little past it.
  print("done", st.packets, fails, st.lua_memory_errors > 0, n > 0,
        st.lua_mem_peak < st.lua_mem_limit + 65536)
end)
]], HTTP, { "--lua-mem", "8M" })
    assert.are.equal(1, r.code, r.err)
    h.has(r.out, "done\t48\t48\ttrue\ttrue\ttrue")
    h.has(r.err, "memory")
  end)
end)
