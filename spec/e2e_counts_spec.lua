-- End to end: every capture in samples/ and, when present, every capture
-- under ../shared/pcaps goes through lunatap with simple_capture and a
-- counting script, and through tcp_trace and conn_log. The number of "packet" events must equal what tcpdump
-- reports (tshark for pcapng files that libpcap refuses), and no capture may
-- crash lunatap, trip a sanitizer or make a bundled script fail.
--
-- Known difference, by design: tshark lists pcapng Custom Blocks as frames
-- ("data", no interface id); they are not packets, so the tshark oracle
-- counts only frames that have an interface id.

local h = require("helper")

local COUNT_SCRIPT = h.tmpfile([[
local n = 0
on("packet", function() n = n + 1 end)
on("done", function() print("COUNT " .. n) end)
]], ".lua")

local function tcpdump_count(path)
  local out = h.capture("tcpdump -r " .. h.quote(path) .. " --count 2>&1")
  local n = out and out:match("(%d+) packets?")
  local refused = out and (out:match("different from") or out:match("no Interface Description"))
  return tonumber(n), refused ~= nil
end

local function tshark_count(path)
  local out = h.capture("tshark -r " .. h.quote(path) .. " -T fields -e frame.interface_id 2>/dev/null")
  if not out then return nil end
  local n = 0
  for line in out:gmatch("([^\n]*)\n") do
    if line ~= "" then n = n + 1 end
  end
  return n
end

local function expected_count(path)
  local n, refused = tcpdump_count(path)
  if path:match("%.pcapng$") or refused or not n then
    local t = tshark_count(path)
    if t and (refused or not n or t > 0) then return t, "tshark" end
  end
  return n, "tcpdump"
end

local function check_capture(path)
  local r = h.run({ "-r", path, COUNT_SCRIPT, "simple_capture" })
  local where = path .. ": "
  assert(r.code == 0 or r.code == 1, where .. "exit status " .. r.code .. "\n" .. r.err)
  assert(not r.err:match("Sanitizer"), where .. "sanitizer report\n" .. r.err)
  assert(not r.err:match("runtime error"), where .. "undefined behaviour\n" .. r.err)
  assert(not r.err:match("error in packet"), where .. "simple_capture failed\n" .. r.err)
  if r.code == 1 then
    -- Bad input: a one-line message naming the file.
    assert(r.err:find(path, 1, true), where .. "message does not name the file: " .. r.err)
  end
  local got = tonumber(r.out:match("COUNT (%d+)"))
  assert(got, where .. "no COUNT line (\"done\" did not run)\n" .. r.err)
  local want, oracle = expected_count(path)
  if want then
    assert(got == want, ("%s%d packet events, %s says %d"):format(where, got, oracle, want))
  else
    -- Neither oracle reads the file: lunatap must refuse it too.
    assert(got == 0 and r.code == 1, where .. "read a file no oracle reads")
  end
  -- The session scripts and the HTTP dissector (every session is offered to
  -- its heuristic) run over every capture too, without failing.
  local t = h.run({ "-r", path, "tcp_trace", "--json", "conn_log", "--json", "http_trace", "--json" })
  assert(t.code == 0 or t.code == 1, where .. "tcp_trace/conn_log exit status " .. t.code .. "\n" .. t.err)
  assert(not t.err:match("Sanitizer") and not t.err:match("runtime error"), where .. t.err)
  assert(not t.err:match("error in "), where .. "a session script or dissector failed\n" .. t.err)
  -- simple_capture printed one line per packet (plus the COUNT line).
  local lines = 0
  for line in r.out:gmatch("[^\n]+") do
    if not line:match("^COUNT ") and not line:match("^\t") then lines = lines + 1 end
  end
  assert(lines == got, ("%ssimple_capture printed %d lines for %d packets"):format(where, lines, got))
end

describe("every capture", function()
  h.each_capture(it, check_capture)
end)
