-- The Redis dissector (docs/redis.md): every RESP2 and RESP3 type, inline
-- commands with redis's quoting, pipelining across segments, pairing and
-- latency, pub/sub in both protocols, MULTI/EXEC, CLIENT REPLY, attributes,
-- the port heuristic; on captures built here and on the shared ones.

local h = require("helper")
local build = require("pcap_build")
local decode = require("json_decode")

-- Prints each record as one line; values through a small serializer so
-- that types show (false stands for a null inside an aggregate).
local SHOW = [[
local function ser(v)
  local t = type(v)
  if t == "table" then
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
    local parts = {}
    for _, k in ipairs(keys) do parts[#parts + 1] = tostring(k) .. "=" .. ser(v[k]) end
    return "{" .. table.concat(parts, ",") .. "}"
  end
  if t == "string" then return ("%q"):format(v) end
  return tostring(v)
end
on("redis.command", function(c, s)
  print("command", s.id, c.index, c.name, ser(c.args), tostring(c.inline), tostring(c.no_reply))
end)
on("redis.reply", function(r, s)
  print("reply", s.id, r.type, ser(r.value), r.command and r.command.index or "-",
        r.latency and ("%.3f"):format(r.latency) or "-", ser(r.attributes), tostring(r.format))
end)
on("redis.push", function(p, s)
  print("push", s.id, p.kind, tostring(p.channel), tostring(p.pattern), tostring(p.payload),
        p.command and p.command.name or "-")
end)
on("redis.error", function(e, s) print("error", s.id, e.direction, tostring(e.limit), e.message) end)
]]

local function run(pcap)
  local r = h.script(SHOW, pcap)
  assert.are.equal(0, r.code, r.err)
  assert.are.equal("", r.err)
  return r.out
end

local function session(parts, opts)
  local path = h.tmpfile(build.tcp_session(parts, opts or { port = 6379 }), ".pcap")
  local out = run(path)
  os.remove(path)
  return out
end

describe("Redis dissector", function()
  it("decodes every RESP2 and RESP3 reply type", function()
    local cmds, replies = {}, {
      "+OK\r\n", "-ERR wrong\r\n", ":-42\r\n", "$5\r\nhello\r\n", "$-1\r\n", "*-1\r\n", "$0\r\n\r\n",
      "*3\r\n:1\r\n$-1\r\n+x\r\n", "_\r\n", "#t\r\n", "#f\r\n", ",3.25\r\n", ",inf\r\n", ",-inf\r\n",
      "(3492890328409238509324850943850943825024385\r\n", "!9\r\nSYNTAX er\r\n", "=15\r\ntxt:Some string\r\n",
      "%2\r\n+a\r\n:1\r\n+b\r\n*1\r\n:2\r\n", "~2\r\n+x\r\n+y\r\n", "*0\r\n",
      "|1\r\n+ttl\r\n:3600\r\n$2\r\nhi\r\n", "*2\r\n|1\r\n+k\r\n+v\r\n:7\r\n:8\r\n",
    }
    for i = 1, #replies do cmds[i] = ("*2\r\n$3\r\nCMD\r\n$%d\r\n%d\r\n"):format(#tostring(i), i) end
    local out = session({ { "client", table.concat(cmds) }, { "server", table.concat(replies) } })
    local want = {
      'simple\t"OK"', 'error\t"ERR wrong"', "integer\t-42", 'bulk\t"hello"', "null\tnil", "null\tnil",
      'bulk\t""', 'array\t{1=1,2=false,3="x"}', "null\tnil", "boolean\ttrue", "boolean\tfalse",
      "double\t3.25", "double\tinf", "double\t-inf", 'bignum\t"3492890328409238509324850943850943825024385"',
      'bulk_error\t"SYNTAX er"', 'verbatim\t"Some string"', 'map\t{a=1,b={1=2}}', 'set\t{1="x",2="y"}',
      "array\t{}", 'bulk\t"hi"', "array\t{1=7,2=8}",
    }
    for i, w in ipairs(want) do
      h.has(out, ("reply\t0\t%s\t%d\t"):format(w, i))
    end
    h.has(out, 'reply\t0\tverbatim\t"Some string"\t17\t0.001\tnil\ttxt\n')
    h.has(out, 'reply\t0\tbulk\t"hi"\t21\t0.001\t{ttl=3600}\tnil\n')
    assert.are.equal(#want, h.count(out, "reply\t"))
  end)

  it("splits inline commands as redis does, quotes and escapes included", function()
    local out = session({ { "client", 'SET k "a b\\x41\\n" \'it\\\'s\'\r\n\r\nping\n' },
                          { "server", "+OK\r\n+PONG\r\n" } })
    h.has(out, 'command\t0\t1\tSET\t{1="SET",2="k",3="a bA\\\n",4="it\'s"}\ttrue\tnil\n')
    h.has(out, 'command\t0\t2\tPING\t{1="ping"}\ttrue\tnil\n')
    h.has(out, 'reply\t0\tsimple\t"PONG"\t2\t')
  end)

  it("pipelined commands split anywhere across segments pair in order", function()
    local wire = ("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nvalue\r\n"):rep(3)
    local parts = {}
    for i = 1, #wire, 7 do parts[#parts + 1] = { "client", wire:sub(i, i + 6) } end
    parts[#parts + 1] = { "server", "+OK\r\n+O" }
    parts[#parts + 1] = { "server", "K\r\n+OK\r\n" }
    local out = session(parts)
    for i = 1, 3 do
      h.has(out, ('command\t0\t%d\tSET\t{1="SET",2="k",3="value"}\tnil\tnil\n'):format(i))
      h.has(out, ('reply\t0\tsimple\t"OK"\t%d\t'):format(i))
    end
  end)

  it("MULTI/EXEC: QUEUED pairs with each command, the array with EXEC", function()
    local out = session({
      { "client", "MULTI\r\nINCR a\r\nINCR b\r\nEXEC\r\n" },
      { "server", "+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n:1\r\n:1\r\n" },
    })
    h.has(out, 'reply\t0\tsimple\t"QUEUED"\t2\t')
    h.has(out, 'reply\t0\tsimple\t"QUEUED"\t3\t')
    h.has(out, "reply\t0\tarray\t{1=1,2=1}\t4\t")
  end)

  it("after the last UNSUBSCRIBE an array starting with \"message\" is a reply again", function()
    local out = session({
      { "client", "SUBSCRIBE ch\r\n" },
      { "server", "*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$1\r\nx\r\n" },
      { "client", "UNSUBSCRIBE ch\r\nLRANGE l 0 -1\r\nGET k\r\n" },
      { "server", "*3\r\n$11\r\nunsubscribe\r\n$2\r\nch\r\n:0\r\n*2\r\n$7\r\nmessage\r\n$1\r\ny\r\n$1\r\nv\r\n" },
    })
    assert.are.equal(1, h.count(out, "push\t"))
    h.has(out, 'reply\t0\tarray\t{1="message",2="y"}\t3\t')
    h.has(out, 'reply\t0\tbulk\t"v"\t4\t')
  end)

  it("a reply with no command pairs with nothing", function()
    local out = session({ { "server", "+hello\r\n" } })
    h.has(out, 'reply\t0\tsimple\t"hello"\t-\t-\tnil\tnil\n')
  end)

  it("finds Redis on another port by its first bytes", function()
    local out = session({ { "client", "*1\r\n$4\r\nPING\r\n" }, { "server", "+PONG\r\n" } }, { port = 7777 })
    h.has(out, 'reply\t0\tsimple\t"PONG"\t1\t')
    local none = session({ { "client", "GET / HTTP/1.1\r\n\r\n" } }, { port = 7777 })
    h.hasnt(none, "command\t")
  end)

  it("every command and reply of samples/redis-features.pcap, against its truth", function()
    local truth = decode(h.slurp(h.samples .. "/redis-features.truth.json"))
    local r = h.script([[
local function hex(s) return (s:gsub(".", function(c) return ("%02x"):format(c:byte()) end)) end
on("redis.command", function(c, s)
  local args = {}
  for i, a in ipairs(c.args) do args[i] = a:find("^[%g%s]*$") and a or hex(a) end
  print(json({ kind = "command", session = s.id, index = c.index, args = args, inline = c.inline == true },
             { "kind", "session", "index", "args", "inline" }))
end)
on("redis.reply", function(rep, s)
  print(json({ kind = "reply", session = s.id, type = rep.type, command = rep.command and rep.command.index },
             { "kind", "session", "type", "command" }))
end)
on("redis.error", function(e) print(json({ kind = "error", message = e.message })) end)
]], h.samples .. "/redis-features.pcap")
    assert.are.equal(0, r.code, r.err)
    local commands, replies = {}, {}
    for _, line in ipairs(h.lines(r.out)) do
      local rec = decode(line)
      assert.are_not.equal("error", rec.kind, line)
      local kind = rec.kind
      rec.kind = nil
      table.insert(kind == "command" and commands or replies, rec)
    end
    assert.are.same(truth.commands, commands)
    assert.are.same(truth.replies, replies)
  end)

  -- resp_scan.messages (engine/lredis.c) takes the common pairs from
  -- redis.lua's own functions: the same dissector with it switched off
  -- must give the same records, field for field, on every capture.
  describe("the C message loop and redis.lua's functions give the same records", function()
    local FULL = SHOW:gsub("on%(\"redis%.command\".-\nend%)\n", [[
on("redis.command", function(c, s) print("command", s.id, ser(c)) end)
]]):gsub("on%(\"redis%.reply\".-\nend%)\n", [[
on("redis.reply", function(r, s) print("reply", s.id, ser(r)) end)
]])
    local lua_only
    setup(function()
      lua_only = h.tmpdir()
      local source = h.slurp(h.root .. "/dissectors/redis.lua")
      local off, n = source:gsub("\n    scan%.messages%(", "\n    (function() end)(", 1)
      assert.are.equal(1, n, "redis.lua no longer calls scan.messages where this test expects it")
      local f = assert(io.open(lua_only .. "/redis.lua", "w"))
      f:write(off)
      f:close()
    end)
    teardown(function() os.execute("rm -rf '" .. lua_only .. "'") end)

    local function same(pcap)
      local fast = h.script(FULL, pcap)
      local slow = h.script(FULL, pcap, { "-L", lua_only })
      assert.are.equal(0, fast.code, fast.err)
      assert.are.equal(0, slow.code, slow.err)
      assert.truthy(fast.out:find("command\t", 1, true), "no command in " .. pcap)
      assert.are.equal(slow.out, fast.out)
    end

    it("samples/redis-features.pcap", function() same(h.samples .. "/redis-features.pcap") end)
    it("a pipeline split anywhere, pub/sub, CLIENT REPLY and RESET in one session", function()
      local path = h.tmpfile(build.tcp_session({
        { "client", "*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*3\r\n$6\r\nCLIENT\r\n$5\r\nREPLY\r\n$4\r\nSKIP\r\n" },
        { "client", "*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n*2\r\n$9\r\nSUBSCRIBE\r\n$1\r\nc\r\n" },
        { "server", "+PONG\r\n$-1\r\n+PONG\r\n*3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n" },
        { "server", "*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$2\r\nhi\r\n" },
        { "client", "*1\r\n$5\r\nRESET\r\n*2\r\n$3\r\nGET\r\n" },
        { "client", "$1\r\nk\r\n" },
        { "server", "+RESET\r\n*2\r\n$7\r\nmessage\r\n:1\r\n" },
      }, { port = 6379 }), ".pcap")
      same(path)
      os.remove(path)
    end)
    if h.have_shared() then
      for _, name in ipairs(h.ls(h.shared, "^redis_.*%.pcapn?g?$")) do
        it(name, function() same(h.shared .. "/" .. name) end)
      end
    else
      it("skipped: " .. h.shared .. " is absent", function() end)
    end
  end)

  describe("on the shared captures", function()
    local function shared(name)
      if not h.have_shared() then pending(h.shared .. " is absent") end
      return run(h.shared .. "/" .. name)
    end

    it("RESP2 pub/sub: confirmations answer SUBSCRIBE, messages are pushes", function()
      local out = shared("redis_pubsub.pcap")
      h.has(out, 'reply\t0\tarray\t{1="subscribe",2="Foo",3=1}\t1\t')
      h.has(out, "push\t0\tmessage\tFoo\tnil\tHi there :)\t-\n")
      h.has(out, "push\t0\tpmessage\tFoo\tF*\tHi there :)\t-\n")
      assert.are.equal(3, h.count(out, "push\t"))
    end)

    it("RESP3 pub/sub: > pushes, the subscribe confirmation answers its command", function()
      local out = shared("redis_pubsub-resp3.pcap")
      h.has(out, "push\t0\tsubscribe\tFoo\tnil\tnil\tSUBSCRIBE\n")
      h.has(out, "push\t0\tmessage\tFoo\tnil\tHi:)\t-\n")
    end)

    it("CLIENT REPLY OFF and SKIP: those commands expect no reply", function()
      local out = shared("redis_reply-off-on.pcap")
      h.has(out, 'command\t0\t2\tCLIENT\t{1="CLIENT",2="REPLY",3="OFF"}\ttrue\ttrue\n')
      assert.are.equal(4, h.count(out, "\ttrue\ttrue\n"))
      assert.are.equal(4, h.count(out, "reply\t"))
      h.hasnt(out, "reply\t0\tsimple\t\"PONG\"\t-")
    end)

    it("RESP3 attributes go with the reply that follows; inside an array they are dropped", function()
      local out = shared("redis_attr.pcap")
      h.has(out, "reply\t1\tarray\t{1=1,2=2,3=3}\t1\t0.000\tnil\tnil\n")
      h.has(out, "reply\t3\tarray\t{1=2039123,2=9543892}\t1\t0.000\t{key-popularity={a=0.1923,b=0.0012}}\tnil\n")
    end)

    it("a capture starting with server data, and a non-standard port", function()
      h.has(shared("redis_start-with-server.pcapng"), "reply\t0\t")
      local django = shared("redis_django-cloud.pcapng")
      assert.are.equal(158, h.count(django, "command\t"))
      h.hasnt(django, "error\t")
    end)
  end)
end)
