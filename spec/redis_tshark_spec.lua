-- Redis against tshark, for the Redis captures in samples/ and the shared
-- captures named redis_*: every client command, its name and each of its
-- arguments as bytes, compared as multisets per capture, and in order per
-- client (RESP arrays and inline commands each on their own).
-- spec/tshark_redis.lua runs both sides: tshark decodes RESP arrays; it
-- does not decode inline commands but shows each line as a "Fragment",
-- whose bytes are split here with redis's rules (lunatap.resp.split_inline)
-- and compared too, so an inline command still has to be framed, told from
-- an array, split and named as lunatap does. Differences listed in KNOWN
-- are explained there, one line each.
--
-- Tagged "tshark": CI runs it in the normal build only.

local cmp = require("tshark_redis")
local keyset = require("keyset")

-- The servers' TCP ports where a capture's Redis is not (only) on 6379:
-- tshark needs them as decode-as (lunatap finds them by their first bytes).
local SERVERS = {
  ["redis-features.pcap"] = { 6379, 7777 },
  ["redis_django-cloud.pcapng"] = { 10625 },
}

-- Differences explained, per capture: how many commands (keys) are only in
-- tshark's view and only in lunatap's, how many clients send the same
-- commands in another order (order), and why. The spec fails when the
-- counts change either way. None is known: on every capture lunatap's
-- commands are tshark's, in the same order.
local KNOWN = {
  -- ["name.pcap"] = { tshark = 0, lunatap = 0, order = 0, why = "..." },
}

local function check(path, name)
  local d = cmp.compare(path, SERVERS[name])
  assert(#d.errors == 0, name .. ": lunatap failed:\n  " .. table.concat(d.errors, "\n  "))
  assert(#d.client_errors == 0, name .. ": lunatap reported client errors:\n  "
    .. table.concat(d.client_errors, "\n  "))
  assert(d.tshark > 0, name .. ": tshark shows no client command (are the resp fields still there?)")
  local known = KNOWN[name] or { tshark = 0, lunatap = 0, order = 0 }
  if #d.only.tshark ~= known.tshark or #d.only.lunatap ~= known.lunatap or #d.order ~= (known.order or 0) then
    local lines = cmp.describe(d)
    for _, o in ipairs(d.order) do lines[#lines + 1] = "order: " .. o end
    table.insert(lines, 1, ("%d commands only in tshark (KNOWN: %d), %d only in lunatap (KNOWN: %d), "
      .. "%d clients in another order (KNOWN: %d)")
      :format(#d.only.tshark, known.tshark, #d.only.lunatap, known.lunatap, #d.order, known.order or 0))
    error(name .. " differs from tshark:\n  " .. table.concat(lines, "\n  "), 0)
  end
end

describe("Redis against tshark #tshark", function()
  keyset.each_capture(it, "^redis.*%.pcapn?g?$", cmp.manifest_captures, check)
end)
