-- What the tshark comparisons of DNS, TLS and Redis share: records are
-- reduced to string keys on both sides and compared as multisets, and the
-- shared captures are picked from MANIFEST.tsv by their notes.

local M = {}

local function count(keys)
  local c = {}
  for _, k in ipairs(keys) do c[k] = (c[k] or 0) + 1 end
  return c
end

--- { only = { tshark = list, lunatap = list } }: the keys (with repeats)
-- each side has more often than the other, sorted.
function M.diff(tshark_keys, lunatap_keys)
  local ct, cl = count(tshark_keys), count(lunatap_keys)
  local out = { only = { tshark = {}, lunatap = {} } }
  for _, side in ipairs({ { "tshark", ct, cl }, { "lunatap", cl, ct } }) do
    local list = out.only[side[1]]
    for k, n in pairs(side[2]) do
      for _ = 1, n - (side[3][k] or 0) do list[#list + 1] = k end
    end
    table.sort(list)
  end
  return out
end

-- A key for a failure message: quoted, bytes above 127 as \ddd, cut.
local function printable(s)
  if #s > 160 then s = s:sub(1, 157) .. "..." end
  return (("%q"):format(s):gsub("[\128-\255]", function(c) return "\\" .. c:byte() end))
end

--- Readable lines for a diff (at most `max` per side, default 6).
function M.describe(d, max)
  max = max or 6
  local lines = {}
  for _, side in ipairs({ "tshark", "lunatap" }) do
    for i, k in ipairs(d.only[side]) do
      if i > max then
        lines[#lines + 1] = ("... %d more only in %s"):format(#d.only[side] - max, side)
        break
      end
      lines[#lines + 1] = ("only in %s: %s"):format(side, printable(k))
    end
  end
  return lines
end

--- Captures of the shared MANIFEST.tsv in `dir` that `wanted(category,
-- note, decode_as)` accepts, where decode_as lists the note's
-- `-d X==N,PROTO` options for `proto`. Returns { path, name, decode_as }
-- sorted by name.
function M.manifest(dir, proto, wanted)
  local list = {}
  local f = io.open(dir .. "/MANIFEST.tsv", "r")
  if not f then return list end
  local pattern = "%-d ([%w%.]+==%d+," .. proto .. ")"
  for line in f:lines() do
    local file, category, note = line:match("^([^\t]+)\t([^\t]+)\t[^\t]*\t[^\t]*\t[^\t]*\t[^\t]*\t(.*)$")
    if file and file ~= "file" then
      local decode_as = {}
      for d in note:gmatch(pattern) do decode_as[#decode_as + 1] = d end
      if wanted(category, note, decode_as) then
        list[#list + 1] = { path = dir .. "/" .. file, name = file:match("([^/]+)$"), decode_as = decode_as }
      end
    end
  end
  f:close()
  table.sort(list, function(a, b) return a.name < b.name end)
  return list
end

--- Declares, with busted's `it`, one test per capture: the samples/ files
-- matching `pattern`, then the shared ones `list(dir)` returns; a skipped
-- test says so when tshark or the shared folder is absent.
-- check(path, name, decode_as): decode_as from `sample_decode_as[name]`
-- for a sample, from the manifest for a shared capture.
function M.each_capture(it, pattern, list, check, sample_decode_as)
  local h = require("helper")
  local tshark = h.capture("command -v tshark")
  if not tshark or tshark == "" then
    it("skipped: tshark is not installed", function() end)
    return
  end
  for _, name in ipairs(h.ls(h.samples, pattern)) do
    it(name, function() check(h.samples .. "/" .. name, name, (sample_decode_as or {})[name]) end)
  end
  if not h.have_shared() then
    it("skipped: " .. h.shared .. " is absent", function() end)
    return
  end
  for _, c in ipairs(list(h.shared)) do
    it(c.name, function() check(c.path, c.name, c.decode_as) end)
  end
end

return M
