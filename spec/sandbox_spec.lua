-- The sandbox, attacked one way at a time. Every attempt must be contained
-- with a clear message while the engine goes on: later packets are still
-- processed, "done" still runs, and the exit status says whether a handler
-- failed (1) or not (0).

local h = require("helper")

local UDP = h.samples .. "/udp-echo.pcap"
local HTTP = h.samples .. "/http-loopback.pcap"
local PAYLOADS = { "ping 0", "PING 0", "ping 1", "PING 1", "ping 2", "PING 2" }

-- Runs the script text `src` over `pcap` (default: the UDP sample) with
-- lunatap options `before`. Returns the result and the script's path (the
-- name reports use).
local function run_src(src, before, pcap, limit)
  local path = h.tmpfile(src, ".lua")
  local args = {}
  for _, a in ipairs(before or {}) do args[#args + 1] = a end
  args[#args + 1] = "-r"
  args[#args + 1] = pcap or UDP
  args[#args + 1] = path
  -- a hang fails the test (exit status 137) instead of stopping the suite
  local r = h.run_limited(limit or 30, args)
  os.remove(path)
  return r, path
end

local count = h.count

local has, hasnt = h.has, h.hasnt

-- `attack` runs in the first packet's handler. A second handler prints
-- every packet; "done" prints what it saw. Returns the result after
-- checking that the engine went on.
local function contained(attack, before, want, limit)
  want = want or {}
  local src = ([[
local n, later = 0, 0
on("packet", function(pkt)
  n = n + 1
  if n == 1 then
%s
  end
end)
on("packet", function(pkt) later = later + 1; print("later " .. pkt.payload:bytes()) end)
on("done", function(s)
  print(("done packets=%%d later=%%d errors=%%d budget=%%d memory=%%d"):format(
    n, later, s.lua_errors, s.lua_budget_errors, s.lua_memory_errors))
end)
]]):format(attack)
  local r, path = run_src(src, before, nil, limit)
  assert.are_not.equal(137, r.code, "lunatap hung and was killed")
  local lines = h.lines(r.out)
  local later = {}
  for _, l in ipairs(lines) do
    local p = l:match("^later (.*)$")
    if p then later[#later + 1] = p end
  end
  assert.are.same(PAYLOADS, later, "later packets were not all processed:\n" .. r.out .. r.err)
  local done = r.out:match("done packets=6 later=6 errors=(%d+) budget=(%d+) memory=(%d+)\n")
  assert.is_truthy(done, "\"done\" did not run or saw the wrong counts:\n" .. r.out .. r.err)
  local errors, budget, memory = r.out:match("errors=(%d+) budget=(%d+) memory=(%d+)")
  assert.are.equal(want.errors or 1, tonumber(errors), r.err)
  if want.budget ~= false then assert.are.equal(want.budget or 0, tonumber(budget), r.err) end
  assert.are.equal(want.memory or 0, tonumber(memory), r.err)
  assert.are.equal((want.errors or 1) > 0 and 1 or 0, r.code, r.err)
  if (want.errors or 1) > 0 then
    -- reported once, naming the script and the event
    assert.are.equal(1, count(r.err, "lunatap: " .. path .. ": error in packet"), r.err)
  end
  hasnt(r.err, "Sanitizer")
  hasnt(r.err, "runtime error")
  return r, path
end

describe("sandbox: unreachable functions", function()
  it("os.execute is absent; os holds only time, clock and date", function()
    local r = contained([[
    local keys = {}
    for k in pairs(os) do keys[#keys + 1] = k end
    table.sort(keys)
    print("os: " .. table.concat(keys, ","))
    os.execute("echo PWNED >&2")]])
    has(r.out, "os: clock,date,time\n")
    has(r.err, "attempt to call a nil value (field 'execute')")
    hasnt(r.out .. r.err, "PWNED")
  end)

  it("io.open is absent (io itself is nil)", function()
    local r = contained([[    local f = io.open("/etc/passwd")]])
    has(r.err, "attempt to index a nil value (global 'io')")
    hasnt(r.out, "root:")
  end)

  it("package, debug, io, dofile, loadfile and string.dump are absent", function()
    local r = contained([[
    print("absent", type(package), type(debug), type(io), type(dofile), type(loadfile),
      type(string.dump), type(require), type(load))
    debug.getregistry()]])
    has(r.out, "absent\tnil\tnil\tnil\tnil\tnil\tnil\tfunction\tfunction\n")
    has(r.err, "attempt to index a nil value (global 'debug')")
  end)

  it("every global and library entry is on the documented allow-list", function()
    local allowed = {
      _G = "assert error ipairs next pairs pcall xpcall rawequal rawget rawlen rawset select "
        .. "setmetatable getmetatable tonumber tostring type _VERSION print load require "
        .. "collectgarbage on off emit json print_json stats stop buffer options arg _G "
        .. "dissector wants output_is_tty open_file every after "
        .. "string table math utf8 coroutine os",
      string = "byte char find format gmatch gsub len lower match rep reverse sub upper pack packsize unpack",
      table = "concat insert move pack remove sort unpack",
      math = "abs ceil cos deg exp floor fmod huge log max maxinteger min mininteger modf pi rad "
        .. "random randomseed sin sqrt tan tointeger type ult atan asin acos",
      utf8 = "char charpattern codes codepoint len offset",
      coroutine = "create isyieldable resume running status wrap yield close",
      os = "time clock date",
    }
    local r = contained([[
    local function keys(t)
      local k = {}
      for name in pairs(t) do k[#k + 1] = tostring(name) end
      table.sort(k)
      return table.concat(k, " ")
    end
    print("lib _G " .. keys(_G))
    for _, lib in ipairs({ "string", "table", "math", "utf8", "coroutine", "os" }) do
      print("lib " .. lib .. " " .. keys(_G[lib]))
    end]], nil, { errors = 0 })
    local seen = 0
    for lib, names in r.out:gmatch("lib (%S+) ([^\n]*)") do
      seen = seen + 1
      local ok = {}
      for n in allowed[lib]:gmatch("%S+") do ok[n] = true end
      for n in names:gmatch("%S+") do
        assert.is_true(ok[n] == true, ("%s.%s is not on the allow-list"):format(lib, n))
      end
    end
    assert.are.equal(7, seen)
    -- and the essentials are there
    has(r.out, "lib _G _G _VERSION after arg assert buffer collectgarbage coroutine dissector emit error every getmetatable")
  end)
end)

describe("sandbox: require", function()
  local dir

  before_each(function()
    dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. h.quote(dir .. "/sub")))
    local f = assert(io.open(dir .. "/evil.lua", "w"))
    f:write('print("EVIL MODULE LOADED") return { ok = true }\n')
    f:close()
  end)

  after_each(function()
    os.execute("rm -rf " .. h.quote(dir))
  end)

  it("finds a Lua module in a -L directory (the control case)", function()
    local r = contained('    print("got", require("evil").ok)', { "-L", dir }, { errors = 0 })
    has(r.out, "EVIL MODULE LOADED\ngot\ttrue\n")
  end)

  it("refuses C modules: socket and lfs", function()
    local r = contained([[
    print("socket", pcall(require, "socket"))
    print("lfs", pcall(require, "lfs"))
    require("socket")]])
    has(r.out, "socket\tfalse\tmodule 'socket' not found (lunatap loads only Lua modules, from:")
    has(r.out, "lfs\tfalse\tmodule 'lfs' not found (lunatap loads only Lua modules, from:")
    has(r.err, "module 'socket' not found")
  end)

  it("refuses names with '..' or '/', even when the file exists", function()
    local abs = dir .. "/evil"
    local r = contained(([[
    for _, name in ipairs({ "..evil", "../evil", "%s", "sub/../evil", "./evil", ".evil" }) do
      local ok, e = pcall(require, name)
      print("require", name, ok, (tostring(e):match("^module '.-' not found")))
    end
    require("../evil")]]):format(abs), { "-L", dir .. "/sub" })
    hasnt(r.out, "EVIL MODULE LOADED")
    for _, name in ipairs({ "..evil", "../evil", abs, "sub/../evil", "./evil", ".evil" }) do
      has(r.out, ("require\t%s\tfalse\tmodule '%s' not found\n"):format(name, name))
    end
    has(r.err, "module '../evil' not found")
  end)
end)

describe("sandbox: load and binary chunks", function()
  local chunk = string.dump(function() print("BINARY CHUNK RAN") end)

  it("refuses a binary chunk given as a string", function()
    local r = contained(([[
    print("bin", pcall(load, %q))
    print("sig", pcall(load, "\27Lua"))
    load(%q)]]):format(chunk, chunk))
    has(r.out, "bin\tfalse\tload: binary chunks are not allowed\n")
    has(r.out, "sig\tfalse\tload: binary chunks are not allowed\n")
    has(r.err, "load: binary chunks are not allowed")
    hasnt(r.out, "BINARY CHUNK RAN")
  end)

  it("refuses a binary chunk fed by a reader function", function()
    local r = contained(([[
    local s, done = %q, false
    local f, e = load(function() if done then return nil end done = true return s end)
    print("reader", type(f), e)
    f()]]):format(chunk))
    has(r.out, "reader\tnil\tattempt to load a binary chunk (mode is 't')\n")
    has(r.err, "attempt to call a nil value (local 'f')")
    hasnt(r.out, "BINARY CHUNK RAN")
  end)

  it("refuses mode \"b\" and \"bt\", even for text", function()
    local r = contained([[
    local okb, fb, eb = pcall(load, "return 1", "x", "b")
    local okbt, fbt, ebt = pcall(load, "return 1", "x", "bt")
    print("b", tostring(okb and eb or fb))
    print("bt", tostring(okbt and ebt or fbt))
    load("return 1", "x", "b")]])
    has(r.out, "b\tload: mode 'b' is not allowed (text chunks only)\n")
    has(r.out, "bt\tload: mode 'bt' is not allowed (text chunks only)\n")
    has(r.err, "mode 'b' is not allowed")
  end)

  it("string.dump is absent everywhere; (\"x\").rep is the real rep", function()
    local r = contained([[
    print("dump", string.dump, ("x").dump, ("x").rep == string.rep, ("ab"):rep(3, "-"))
    local ok, e = pcall(function() return ("x"):dump() end)
    print("method", ok, e)
    return ("x"):dump()]])
    has(r.out, "dump\tnil\tnil\ttrue\tab-ab-ab\n")
    has(r.out, "method\tfalse\t")
    has(r.out, "attempt to call a nil value (method 'dump')\n")
    has(r.err, "attempt to call a nil value (method 'dump')")
  end)

  it("load() of text works, with the script's environment by default", function()
    local r = contained([[
    secret = 42
    print("text", load("return secret, 1 + 1")())
    print("sees", load("return io, os.execute, debug, package, string.dump, on ~= nil")())
    print("env", load("return y", "chunk", "t", { y = 7 })())
    local f, e = load("return +", "=mychunk")
    print("syntax", f, e)
    load("x = ")()]])
    has(r.out, "text\t42\t2\n")
    has(r.out, "sees\tnil\tnil\tnil\tnil\tnil\ttrue\n")
    has(r.out, "env\t7\n")
    has(r.out, "syntax\tnil\tmychunk:1: unexpected symbol near '+'\n")
    has(r.err, "attempt to call a nil value")
  end)
end)

describe("sandbox: the string metatable", function()
  it("getmetatable(\"\") is false and cannot be written through", function()
    local r = contained([[
    print("mt", getmetatable(""), getmetatable("abc"))
    print("set", pcall(setmetatable, "", {}))
    string.upper = function() return "HACKED" end
    string.rep = nil
    print("methods", ("x"):upper(), ("ab"):rep(2), string.upper("x"))
    getmetatable("").__index = { upper = function() return "HACKED" end }]])
    has(r.out, "mt\tfalse\tfalse\n")
    has(r.out, "set\tfalse\tbad argument #1 to 'setmetatable' (table expected, got string)\n")
    -- the script's own string table is its own; string methods stay pristine
    has(r.out, "methods\tX\tabab\tHACKED\n")
    has(r.err, "attempt to index a boolean value")
  end)
end)

describe("sandbox: scripts do not share globals", function()
  it("two script files on one command line see nothing of each other", function()
    local a = h.tmpfile([[
shared = "from a"
string.secret = "a's"
string.upper = function() return "HACKED" end
math.pi = 3
_G.via_G = 1
on("start", function() print("a", shared, via_G, string.upper("x")) end)
on("done", function() print("a done", b_global) end)
]], ".lua")
    local b = h.tmpfile([[
b_global = "from b"
on("start", function()
  print("b", shared, via_G, string.secret, string.upper("x"), ("y"):upper(), math.pi == 3,
    rawget(_G, "shared"))
end)
]], ".lua")
    local r = h.run({ "-r", UDP, a, b })
    os.remove(a)
    os.remove(b)
    assert.are.equal("", r.err)
    assert.are.equal(0, r.code)
    assert.are.same({ "a\tfrom a\t1\tHACKED", "b\tnil\tnil\tnil\tX\tY\tfalse\tnil", "a done\tnil" },
      h.lines(r.out))
  end)

  it("_G is the script's own environment", function()
    local r = contained([[
    _G.viaG = "v"
    plain = "p"
    print("G", _G == _ENV, _G._G == _G, viaG, _G.plain, rawget(_G, "on") == on, _G.print == print)]],
      nil, { errors = 0 })
    has(r.out, "G\ttrue\ttrue\tv\tp\ttrue\ttrue\n")
  end)
end)

describe("sandbox: collectgarbage", function()
  it("refuses everything but \"count\"", function()
    local r = contained([[
    local c = collectgarbage("count")
    print("count", math.type(c), c > 0)
    for _, opt in ipairs({ "step", "stop", "restart", "incremental", "generational", "isrunning" }) do
      print(opt, pcall(collectgarbage, opt))
    end
    print("default", pcall(collectgarbage))
    collectgarbage("collect")]])
    has(r.out, "count\tfloat\ttrue\n")
    for _, opt in ipairs({ "step", "stop", "restart", "incremental", "generational", "isrunning", "default" }) do
      has(r.out, opt .. "\tfalse\tcollectgarbage: only \"count\" is allowed in lunatap scripts\n")
    end
    has(r.err, "collectgarbage: only \"count\" is allowed in lunatap scripts")
  end)
end)

describe("sandbox: memory", function()
  it("a string.rep bomb in a loop stops at the cap with \"not enough memory\"", function()
    local r = contained([[
    local t = {}
    while true do t[#t + 1] = string.rep("x", 1 << 20) end]], { "--lua-mem", "64M" },
      { errors = 1, memory = 1 })
    has(r.err, "error in packet (Lua memory limit reached): not enough memory")
  end)

  it("memory of the failed callback is available to later packets", function()
    -- BUG: after the bomb fills the cap with garbage, every later
    -- string.rep of a few MiB fails with "not enough memory" for the rest
    -- of the run: lauxlib's luaL_Buffer box calls the allocator directly
    -- (no emergency collection), and engine/lhost.c never collects after a
    -- memory error, so the garbage of the failed callback stays until an
    -- ordinary GC cycle happens to run.
    local r = run_src([[
local n = 0
on("packet", function(pkt)
  n = n + 1
  if n == 1 then local t = {} while true do t[#t + 1] = string.rep("x", 1 << 20) end end
end)
on("packet", function(pkt)
  local ok, s = pcall(string.rep, pkt.payload:bytes(), 1 << 20)
  print("later", ok, ok and #s or s)
end)
on("done", function(s) print("done", s.lua_memory_errors, s.lua_mem_peak <= s.lua_mem_limit) end)
]], { "--lua-mem", "64M" })
    local want = {}
    for i = 1, 6 do want[i] = "later\ttrue\t6291456" end
    want[7] = "done\t1\ttrue"
    assert.are.same(want, h.lines(r.out))
    assert.are.equal(1, r.code)
  end)
end)

describe("sandbox: CPU budget", function()
  local budget = { "--lua-budget", "10M" }
  local msg = "instruction budget exceeded (limit 10000000 instructions"

  it("stops `while true do end`", function()
    local r = contained("    while true do end", budget, { budget = 1 })
    has(r.err, msg)
  end)

  it("cannot be swallowed by pcall", function()
    local r = contained([[
    local ok, e = pcall(function() while true do end end)
    print("SWALLOWED", ok, e)]], budget, { budget = 1 })
    hasnt(r.out, "SWALLOWED")
    has(r.err, msg)
  end)

  it("cannot be swallowed by pcall in a loop", function()
    local r = contained([[
    local caught = 0
    for i = 1, math.maxinteger do
      local ok = pcall(function() while true do end end)
      if not ok then caught = caught + 1 end
      if caught > 1 then print("ESCAPED") return end
    end]], budget, { budget = 1 })
    hasnt(r.out, "ESCAPED")
    has(r.err, msg)
  end)

  it("cannot be swallowed by xpcall with a looping handler", function()
    -- BUG: the budget error is raised inside the count hook, where Lua has
    -- hooks disabled; the script's xpcall message handler then runs with no
    -- hook at all, so a handler that loops hangs lunatap for ever (killed
    -- here after 3 s; SIGTERM does not stop it either). xpcall reaches
    -- scripts unwrapped (engine/lhost.c base_allowed).
    local r = contained([[
    xpcall(function() while true do end end, function(e) while true do end end)
    print("ESCAPED")]], budget, { budget = 1 }, 3)
    hasnt(r.out, "ESCAPED")
    has(r.err, msg)
  end)

  it("applies inside a coroutine (coroutine.wrap)", function()
    local r = contained([[
    local f = coroutine.wrap(function() while true do end end)
    f()
    print("ESCAPED")]], budget, { budget = 1 })
    hasnt(r.out, "ESCAPED")
    has(r.err, msg)
  end)

  it("cannot be swallowed by coroutine.resume", function()
    -- BUG: engine/lhost.c budget_hook() re-arms the count-1 hook with
    -- lua_sethook(L, ...) on the coroutine that overran, not on the
    -- callback's thread. coroutine.resume returns false + the message and
    -- the handler goes on for up to 1000 more instructions; if it returns
    -- by then the overrun is never reported and the run exits 0.
    local r = contained([[
    local co = coroutine.create(function() while true do end end)
    local ok, e = coroutine.resume(co)
    print("ESCAPED", ok)]], budget, { budget = 1 })
    hasnt(r.out, "ESCAPED")
    has(r.err, msg)
  end)

  it("bounds yields in a loop: every resume shares the callback's budget", function()
    local r = contained([[
    local co = coroutine.wrap(function() while true do coroutine.yield() end end)
    for i = 1, math.maxinteger do co() end]], budget, { budget = 1 })
    has(r.err, msg)
  end)

  it("stops a backtracking pattern match by the instruction budget, inside the one C call", function()
    -- Lua's own matcher would backtrack for minutes here; the sandbox's
    -- counts its steps against the callback's budget.
    for _, attack in ipairs({
      [[string.find(("a"):rep(80), ("a*"):rep(6) .. "b")]],
      [[local s = ("a"):rep(80) s:gsub(("a-"):rep(6) .. "b", "x")]],
      [[for x in string.gmatch(("a"):rep(80), ("a?"):rep(40) .. ("a"):rep(40) .. "b") do end]],
      [[local ok = pcall(string.match, ("x"):rep(100000), ".-.-y") string.rep("x", 1)]],
    }) do
      local r = contained(attack, budget, { budget = 1 }, 20)
      has(r.err, msg)
    end
  end)

  it("stops a backtracking pattern match by --lua-time when the budget is huge", function()
    local t0 = os.time()
    local r = contained([[string.find(("a"):rep(80), ("a*"):rep(6) .. "b")]],
                        { "--lua-budget", "1000G", "--lua-time", "300" }, { budget = 1 }, 20)
    has(r.err, "instruction budget exceeded")
    assert.is_true(os.time() - t0 < 10)
  end)

  it("pattern matches from a loop of short calls are charged too", function()
    local r = contained([[for i = 1, 1e9 do string.find("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaab", "a-a-b") end]],
                        budget, { budget = 1 }, 20)
    has(r.err, msg)
  end)

  it("a finalizer that never returns cannot hang lunatap", function()
    -- BUG: setmetatable accepts __gc, and Lua runs finalizers with hooks
    -- disabled, so neither --lua-budget nor --lua-time can stop a finalizer
    -- that loops: lunatap hangs for ever (killed here after 3 s). It hangs
    -- during a callback when the collector runs there, and at exit in
    -- lt_host_free() (lua_close runs the pending finalizers).
    local path = h.tmpfile([[
on("packet", function(pkt)
  setmetatable({}, { __gc = function() while true do end end })
  print("packet " .. pkt.payload:bytes())
end)
on("done", function() print("done") end)
]], ".lua")
    local r = h.run_limited(3, { "-r", UDP, "--lua-budget", "1M", "--lua-time", "100", path })
    os.remove(path)
    assert.are_not.equal(137, r.code, "lunatap hung and was killed")
    has(r.out, "done\n")
  end)
end)

describe("sandbox: recursion", function()
  it("deep Lua recursion ends in \"stack overflow\"", function()
    local r = contained([[
    local function f(x) return 1 + f(x + 1) end
    f(1)]])
    has(r.err, "stack overflow")
  end)

  it("recursion through __index metamethods ends in a stack overflow error", function()
    local r = contained([[
    local t = setmetatable({}, { __index = function(t, k) return t[k + 1] end })
    return t[1] ]])
    has(r.err, "stack overflow")
  end)

  it("an event that emits itself ends in a C stack overflow, reported once", function()
    local r = run_src([[
local depth = 0
on("again", function(d) depth = math.max(depth, d); emit("again", d + 1) end)
on("packet", function(pkt) emit("again", 1) print("after emit " .. pkt.payload:bytes()) end)
on("done", function(s) print("done", depth > 100, s.lua_errors) end)
]])
    local lines = h.lines(r.out)
    assert.are.equal(7, #lines)
    assert.are.equal("after emit ping 0", lines[1])
    assert.are.equal("done\ttrue\t6", lines[7])
    assert.are.equal(1, count(r.err, "error in again: "), r.err)
    has(r.err, "stack overflow")
    assert.are.equal(1, r.code)
  end)
end)

describe("sandbox: hostile error values", function()
  local cases = {
    { "__tostring throws", [[error(setmetatable({}, { __tostring = function() error("boom") end }))]],
      "error in packet: (error object is a table value)" },
    { "__index throws", [[error(setmetatable({}, { __index = function() error("boom") end }))]],
      "error in packet: (error object is a table value)" },
    { "__tostring returns a non-string",
      [[error(setmetatable({}, { __index = function() error("i") end, __tostring = function() return 42 end }))]],
      "error in packet: (error object is a table value)" },
    { "__tostring loops for ever", [[error(setmetatable({}, { __tostring = function() while true do end end }))]],
      "error in packet: (error object is a table value)" },
    { "__tostring returns a string", [[error(setmetatable({}, { __tostring = function() return "nice message" end }))]],
      "error in packet: nice message" },
    { "nil", [[error(nil)]], "error in packet: (error object is a nil value)" },
    { "a userdata with __tostring", [[error(buffer("x"))]], "error in packet: buffer (1 bytes)" },
  }
  for _, c in ipairs(cases) do
    it("an error value whose " .. c[1] .. " is reported safely", function()
      local r = contained("    " .. c[2], { "--lua-budget", "10M" }, { budget = false })
      has(r.err, c[3])
    end)
  end

  it("an error table that looks like options()'s exit request is still reported", function()
    -- BUG: engine/lhost.c lt_host_call() skips report() for any table error
    -- that has a `lunatap_exit` key (msgh passes it through untouched), so
    -- a handler failing this way is counted but never reported.
    local r = contained([[    error({ lunatap_exit = "usage", text = "spoofed" })]])
    has(r.err, "error in packet")
  end)
end)

describe("sandbox: failing handlers", function()
  it("a handler failing on every packet is disabled after 10 failures; one report", function()
    local r, path = run_src([[
local calls, other = 0, 0
on("packet", function() calls = calls + 1; error("always fails " .. calls) end)
on("packet", function() other = other + 1 end)
on("done", function(s) print("done", calls, other, s.lua_errors, s.lua_disabled) end)
]], nil, HTTP)
    assert.are.same({ "done\t10\t48\t10\t1" }, h.lines(r.out))
    assert.are.equal(1, r.code)
    assert.are.equal(1, count(r.err, "error in packet"), r.err)
    has(r.err, "lunatap: " .. path .. ": error in packet: " .. path .. ":2: always fails 1\n")
    hasnt(r.err, "always fails 2")
    has(r.err, "lunatap: " .. path .. ": handler for \"packet\" disabled after 10 failures in a row\n")
  end)

  it("failures must be in a row: a handler failing every other packet stays", function()
    local r = run_src([[
local calls = 0
on("packet", function() calls = calls + 1; if calls % 2 == 1 then error("odd") end end)
on("done", function(s) print("done", calls, s.lua_errors, s.lua_disabled) end)
]], nil, HTTP)
    assert.are.same({ "done\t48\t24\t0" }, h.lines(r.out))
    hasnt(r.err, "disabled")
    assert.are.equal(1, count(r.err, "error in packet"), r.err)
  end)

  it("reports once per script and event, for each script and each event", function()
    local a = h.tmpfile([[
on("start", function() error("a start") end)
on("packet", function() error("a packet") end)
]], ".lua")
    local b = h.tmpfile([[
on("packet", function() error("b packet") end)
on("tick", function() error("b tick") end)
on("packet", function() emit("tick") end)
on("done", function(s) print("done", s.lua_errors) end)
]], ".lua")
    local r = h.run({ "-r", UDP, a, b })
    os.remove(a)
    os.remove(b)
    assert.are.same({ "done\t" .. (1 + 6 + 6 + 6) }, h.lines(r.out))
    assert.are.equal(1, count(r.err, a .. ": error in start: "), r.err)
    assert.are.equal(1, count(r.err, a .. ": error in packet: "), r.err)
    assert.are.equal(1, count(r.err, b .. ": error in packet: "), r.err)
    assert.are.equal(1, count(r.err, b .. ": error in tick: "), r.err)
    assert.are.equal(1, r.code)
  end)
end)

describe("sandbox: pattern functions", function()
  it("refuse subjects over 1 MiB; plain find and exactly 1 MiB work", function()
    local r = contained([[
    local big = ("a"):rep(2 * 1024 * 1024) .. "b"
    print("plain", string.find(big, "b", 1, true))
    print("plain method", big:find("ab", 1, true))
    print("limit", (("a"):rep(1024 * 1024):match("a$")))
    print("find", pcall(string.find, big, "b"))
    print("match", pcall(string.match, big, "a+$"))
    print("gmatch", pcall(string.gmatch, big, "a"))
    print("gsub", pcall(string.gsub, big, "a", "b"))
    print("method", pcall(function() return big:match("b") end))
    string.match(big, "x")]])
    has(r.out, "plain\t2097153\t2097153\n")
    has(r.out, "plain method\t2097152\t2097153\n")
    has(r.out, "limit\ta\n")
    for _, fn in ipairs({ "find", "match", "gmatch", "gsub" }) do
      has(r.out, fn .. "\tfalse\tstring." .. fn .. ": subject of 2097153 bytes exceeds the pattern limit of 1048576 bytes")
    end
    has(r.out, "method\tfalse\t")
    has(r.out, "string.match: subject of 2097153 bytes exceeds the pattern limit of 1048576 bytes (use buf:find for plain search)\n")
    has(r.err, "string.match: subject of 2097153 bytes exceeds the pattern limit")
  end)
end)

describe("sandbox: exit status", function()
  it("is 0 when nothing failed, even with errors caught by pcall", function()
    local r = run_src([[
on("packet", function(pkt) pcall(error, "caught") end)
on("done", function(s) print("done", s.lua_errors) end)
]])
    assert.are.same({ "done\t0" }, h.lines(r.out))
    assert.are.equal("", r.err)
    assert.are.equal(0, r.code)
  end)

  it("is 1 when a \"packet\" handler failed", function()
    local r = run_src([[on("packet", function(pkt) if pkt.payload:bytes() == "PING 2" then error("last") end end)]])
    assert.are.equal(1, r.code)
    has(r.err, "error in packet: ")
  end)

  it("is 1 when a \"start\" handler failed, and packets are still processed", function()
    local r = run_src([[
on("start", function() error("at start") end)
on("packet", function(pkt) print(pkt.payload:bytes()) end)
]])
    assert.are.same(PAYLOADS, h.lines(r.out))
    assert.are.equal(1, r.code)
    has(r.err, "error in start: ")
  end)

  it("is 1 when a \"done\" handler failed; output and later \"done\" handlers survive", function()
    -- BUG: engine/lhost.c lt_host_dispatch() pops the top of the stack
    -- after a failed call when it is a table (meant for options()'s exit
    -- request), but there it is the event's own last argument: the "done"
    -- stats table. The final lua_pop(L, nargs) then underflows the stack
    -- and Lua aborts (SIGABRT, exit 134) with all buffered output lost. The
    -- same pop hands later handlers of emit("ev", ..., {}) the wrong
    -- arguments.
    local r = run_src([[
on("packet", function(pkt) print(pkt.payload:bytes()) end)
on("done", function(s) error("in done") end)
on("done", function(s) print("second done", type(s), s.packets) end)
]])
    local want = { table.unpack(PAYLOADS) }
    want[#want + 1] = "second done\ttable\t6"
    assert.are.same(want, h.lines(r.out))
    assert.are.equal(1, r.code)
    has(r.err, "error in done: ")
  end)

  it("handlers of an emitted event all get the arguments, even after one failed", function()
    -- BUG: same cause as above (lt_host_dispatch pops a table argument).
    local r = run_src([[
on("ev", function(a, t) error("first fails") end)
on("ev", function(a, t) print("second", a, type(t), t and t.k) end)
on("packet", function(pkt) emit("ev", "s", { k = "v" }) end)
]], { "-c", "1" })
    assert.are.same({ "second\ts\ttable\tv" }, h.lines(r.out))
    assert.are.equal(1, r.code)
  end)
end)
