-- RESP2 and RESP3 messages read from a stream (the redis dissector's
-- wire format; see docs/redis.md), and redis's inline command syntax.
-- One message is read iteratively with an explicit stack, so nesting costs
-- heap, not C or Lua stack; every length and count is checked against the
-- limits before anything is read or kept.

local M = {}

M.defaults = {
  depth = 128,                -- nesting of aggregates in one message
  elements = 20000,           -- elements kept per message (Zeek's figure)
  bulk_length = 512 << 20,    -- largest declared bulk (redis's proto-max-bulk-len)
  bulk_keep = 1 << 20,        -- bytes of one bulk kept; the rest is skipped
  line_length = 65536,        -- a simple line or an inline command (redis: 64 KiB)
}

-- Errors raised while reading carry a limit name (or none for malformed
-- input) and the offset of the message they were found in.
local function fail(message, limit)
  error({ message = message, limit = limit }, 0)
end
M.fail = fail

local AGGREGATE = { [42] = "array", [37] = "map", [126] = "set", [62] = "push", [124] = "attribute" }
local BLOB = { [36] = "bulk", [33] = "bulk_error", [61] = "verbatim" }

-- tonumber with base 10 takes only digits and a sign (and blanks around
-- them, which redis does not send): no pattern match per element.
local function count_of(rest, what)
  local n = tonumber(rest, 10)
  if not n then
    fail(("bad %s length %q"):format(what, rest:sub(1, 40)))
  end
  return n
end

-- A blob string's bytes after its header; kept up to lim.bulk_keep.
local function read_blob(s, n, lim, keep)
  if n > lim.bulk_length then
    fail(("bulk length %d over the limit of %d"):format(n, lim.bulk_length), "bulk_length")
  end
  local v, truncated
  if not keep then
    if s:skip(n) < n then return nil end
  elseif n <= lim.bulk_keep then
    -- the bytes and their CR LF in one read
    local raw = s:read(n + 2)
    if not raw then return nil end
    if raw:byte(n + 1) ~= 13 or raw:byte(n + 2) ~= 10 then
      fail(("bulk of %d bytes not followed by CR LF"):format(n))
    end
    return raw:sub(1, n)
  else
    v = s:read(lim.bulk_keep)
    if not v or s:skip(n - lim.bulk_keep) < n - lim.bulk_keep then return nil end
    truncated = true
  end
  local crlf = s:read(2)
  if crlf ~= "\r\n" then
    if crlf == nil then return nil end
    fail(("bulk of %d bytes not followed by CR LF"):format(n))
  end
  return v or false, truncated
end

local function scalar(t, rest)
  if t == 43 then return rest, "simple" end
  if t == 45 then return rest, "error" end
  if t == 58 then
    local n = math.tointeger(tonumber(rest))
    if not n or not rest:find("^[-+]?%d+$") then fail(("bad integer %q"):format(rest:sub(1, 40))) end
    return n, "integer"
  end
  if t == 95 then return nil, "null" end
  if t == 35 then
    if rest == "t" then return true, "boolean" end
    if rest == "f" then return false, "boolean" end
    fail(("bad boolean %q"):format(rest:sub(1, 40)))
  end
  if t == 44 then
    local low = rest:lower()
    local d = (low == "inf" or low == "+inf") and math.huge or low == "-inf" and -math.huge
              or low == "nan" and 0 / 0 or tonumber(rest)
    if not d then fail(("bad double %q"):format(rest:sub(1, 40))) end
    return d + 0.0, "double"
  end
  if t == 40 then
    if not rest:find("^[-+]?%d+$") then fail(("bad big number %q"):format(rest:sub(1, 40))) end
    return rest, "bignum"
  end
  fail(("unknown RESP type byte 0x%02x"):format(t))
end

-- Finishes an aggregate frame into its value.
local function close(f)
  if not f.list then return nil end
  if f.type == "map" or f.type == "attribute" then
    local m, list = {}, f.list
    for i = 1, #list - 1, 2 do
      local k = list[i]
      if k ~= false then m[k] = list[i + 1] end
    end
    return m
  end
  return f.list
end

-- The info of a message with nothing to say (nothing truncated, no
-- attributes): one shared, read-only table.
local NOINFO = setmetatable({}, { __newindex = function() error("NOINFO is shared", 2) end })
M.NOINFO = NOINFO
local read_any

-- Reads one message. Returns value, type, info (info: truncated,
-- attributes, elements), or nothing when the stream ends first. `first`
-- is the message's first line when the caller already read it.
function M.read(s, lim, first)
  -- the common replies (+OK, :n, $n) need no stack
  if not first then
    first = s:line(lim.line_length)
    if not first then return end
  end
  local t = first:byte(1)
  if t == 43 then return first:sub(2), "simple", NOINFO end
  if t == 58 then
    local n = math.tointeger(tonumber(first:sub(2), 10))
    if n then return n, "integer", NOINFO end
  elseif t == 36 then
    local n = count_of(first:sub(2), "bulk")
    if n == -1 then return nil, "null", NOINFO end
    if n >= 0 and n <= lim.bulk_keep then
      local v = read_blob(s, n, lim, true)
      if v == nil then return end
      return v, "bulk", NOINFO
    end
  end
  return read_any(s, lim, first)
end

function read_any(s, lim, first)
  local stack, depth = {}, 0
  local elements, keep = 0, true
  local info = {}
  local line = first
  while true do
    if not line then
      line = s:line(lim.line_length)
      if not line then return end
    end
    local t = line:byte(1)
    if not t then
      -- a stray line break between messages (seen from real servers) is
      -- skipped; inside an aggregate it is an error
      if depth > 0 then fail("empty line where a RESP value was expected") end
      line = nil
      goto continue
    end
    do
    local rest = line:sub(2)
    line = nil
    local v, ty, done = nil, nil, true
    local agg = AGGREGATE[t]
    if agg then
      local n = count_of(rest, agg)
      if n < -1 then fail(("negative %s count %d"):format(agg, n)) end
      if n == -1 then
        v, ty = nil, "null"
      elseif n == 0 then
        v, ty = {}, agg
      else
        if depth >= lim.depth then
          fail(("aggregates nested more than %d deep"):format(lim.depth), "depth")
        end
        depth = depth + 1
        stack[depth] = { type = agg, left = (agg == "map" or agg == "attribute") and 2 * n or n,
                         list = keep and {} or nil }
        done = false
      end
    elseif BLOB[t] then
      local n = count_of(rest, BLOB[t])
      if n == -1 and t == 36 then
        v, ty = nil, "null"
      elseif n < 0 then
        fail(("negative %s length %d"):format(BLOB[t], n))
      else
        local tr
        v, tr = read_blob(s, n, lim, keep)
        if v == nil then return end
        if tr then info.truncated = true end
        ty = BLOB[t]
        if ty == "verbatim" and v then
          info.format = v:sub(1, 3)
          v = v:sub(5)
        end
      end
    else
      v, ty = scalar(t, rest)
    end
    -- Hands the finished value up through the frames it completes. An
    -- attribute annotates what follows: at the top it is kept for the
    -- reply, inside an aggregate it is dropped (and is no element).
    while done do
      local f = stack[depth]
      if ty == "attribute" then
        if not f then info.attributes = v end
        break
      end
      if not f then return v, ty, info end
      elements = elements + 1
      if keep and elements > lim.elements then
        keep = false
        info.truncated, info.limit = true, "elements"
      end
      if keep then
        if v == nil then v = false end
        f.list[#f.list + 1] = v
      end
      f.left = f.left - 1
      if f.left > 0 then break end
      stack[depth] = nil
      depth = depth - 1
      v, ty = close(f), f.type
    end
    end
    ::continue::
  end
end

--- Reads a client command whose first line `first` ("*N") was read: an
-- array of bulk strings, as redis requires of clients. Returns the list of
-- arguments (the first lim.elements of them), whether one was cut at
-- bulk_keep, and "elements" when some were left out; or nothing when the
-- stream ends first. The common case costs two reads per argument and no
-- aggregate machinery.
function M.read_command(s, lim, first)
  local n = count_of(first:sub(2), "array")
  if n < 1 then return {}, false end
  local args, truncated = {}, false
  for i = 1, n do
    local keep = i <= lim.elements
    local hdr = s:line(lim.line_length)
    if not hdr then return end
    if hdr:byte(1) ~= 36 then
      fail(("command argument %d is not a bulk string (type byte 0x%02x)"):format(i, hdr:byte(1) or 0))
    end
    local len = count_of(hdr:sub(2), "bulk")
    if len < 0 then fail(("command argument %d has a negative length %d"):format(i, len)) end
    local v, cut = read_blob(s, len, lim, keep)
    if v == nil then return end
    if cut then truncated = true end
    if keep then args[i] = v end
  end
  return args, truncated, n > lim.elements and "elements" or nil
end

-- Splits an inline command as redis's sdssplitargs does: words separated by
-- blanks; "..." with \n \r \t \b \a \\ \" and \xHH escapes; '...' with \'.
-- A closing quote must be followed by a blank or the end. Returns nil and a
-- reason for unbalanced quotes.
local ESC = { n = "\n", r = "\r", t = "\t", b = "\b", a = "\a" }
function M.split_inline(line)
  local args, i, n = {}, 1, #line
  while true do
    i = line:find("[^ \t\r\n\v\f]", i)
    if not i then return args end
    local c = line:sub(i, i)
    if c == '"' or c == "'" then
      local buf, j = {}, i + 1
      while true do
        if j > n then return nil, "unbalanced quotes" end
        local ch = line:sub(j, j)
        if c == '"' and ch == "\\" then
          local nx = line:sub(j + 1, j + 1)
          local hex = nx == "x" and line:sub(j + 2, j + 3)
          if hex and hex:find("^%x%x$") then
            buf[#buf + 1] = string.char(tonumber(hex, 16))
            j = j + 4
          else
            buf[#buf + 1] = ESC[nx] or nx
            j = j + 2
          end
        elseif c == "'" and ch == "\\" and line:sub(j + 1, j + 1) == "'" then
          buf[#buf + 1] = "'"
          j = j + 2
        elseif ch == c then
          local after = line:sub(j + 1, j + 1)
          if after ~= "" and not after:find("[ \t\r\n\v\f]") then
            return nil, "closing quote must be followed by a space"
          end
          break
        else
          local k = line:find(c == '"' and '[\\"]' or "[\\']", j) or (n + 1)
          buf[#buf + 1] = line:sub(j, k - 1)
          j = k
        end
      end
      args[#args + 1] = table.concat(buf)
      i = j + 1
    else
      local k = line:find("[ \t\r\n\v\f]", i) or (n + 1)
      args[#args + 1] = line:sub(i, k - 1)
      i = k
    end
  end
end

return M
