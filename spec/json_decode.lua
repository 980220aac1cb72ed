-- A small strict JSON decoder for the specs (RFC 8259; no extensions).
--
--   local decode = require("json_decode")
--   local t = decode('{"a":null}')     -- t.a == decode.null
--
-- null decodes to the sentinel `decode.null`, so a test can tell a key
-- written as null from a key left out. Errors name the position.

local M = {}
M.null = setmetatable({}, { __tostring = function() return "null" end })

local ESC = { ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n", r = "\r", t = "\t" }

function M.decode(s)
  local pos = 1
  local function fail(what)
    error(("bad JSON at byte %d (%s): %s"):format(pos, what, s:sub(1, 200)), 0)
  end
  local function ws() pos = s:find("[^ \t\r\n]", pos) or #s + 1 end
  local value

  local function hex4()
    local hex = s:sub(pos, pos + 3)
    if not hex:match("^%x%x%x%x$") then fail("bad \\u escape") end
    pos = pos + 4
    return tonumber(hex, 16)
  end

  local function str()
    pos = pos + 1
    local out = {}
    while true do
      local c = s:sub(pos, pos)
      if c == "" then fail("unterminated string") end
      if c == '"' then pos = pos + 1 return table.concat(out) end
      if c:byte() < 0x20 then fail("control character in string") end
      if c == "\\" then
        local e = s:sub(pos + 1, pos + 1)
        if ESC[e] then
          out[#out + 1] = ESC[e]
          pos = pos + 2
        elseif e == "u" then
          pos = pos + 2
          local cp = hex4()
          if cp >= 0xD800 and cp <= 0xDBFF and s:sub(pos, pos + 1) == "\\u" then
            pos = pos + 2
            local lo = hex4()
            if lo < 0xDC00 or lo > 0xDFFF then fail("bad surrogate pair") end
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
          end
          out[#out + 1] = utf8.char(cp)
        else
          fail("bad escape")
        end
      else
        out[#out + 1] = c
        pos = pos + 1
      end
    end
  end

  function value()
    ws()
    local c = s:sub(pos, pos)
    if c == "{" then
      local t = {}
      pos = pos + 1
      ws()
      if s:sub(pos, pos) == "}" then pos = pos + 1 return t end
      while true do
        ws()
        if s:sub(pos, pos) ~= '"' then fail("object key") end
        local k = str()
        ws()
        if s:sub(pos, pos) ~= ":" then fail("colon") end
        pos = pos + 1
        if t[k] ~= nil then fail("duplicate key " .. k) end
        t[k] = value()
        ws()
        local d = s:sub(pos, pos)
        pos = pos + 1
        if d == "}" then return t end
        if d ~= "," then fail("object separator") end
      end
    elseif c == "[" then
      local t = {}
      pos = pos + 1
      ws()
      if s:sub(pos, pos) == "]" then pos = pos + 1 return t end
      while true do
        t[#t + 1] = value()
        ws()
        local d = s:sub(pos, pos)
        pos = pos + 1
        if d == "]" then return t end
        if d ~= "," then fail("array separator") end
      end
    elseif c == '"' then
      return str()
    elseif s:sub(pos, pos + 3) == "true" then
      pos = pos + 4 return true
    elseif s:sub(pos, pos + 4) == "false" then
      pos = pos + 5 return false
    elseif s:sub(pos, pos + 3) == "null" then
      pos = pos + 4 return M.null
    end
    local num = s:match("^-?%d+%.?%d*[eE]?[-+]?%d*", pos)
    if not num or not tonumber(num) then fail("value") end
    pos = pos + #num
    return tonumber(num)
  end

  local v = value()
  ws()
  if pos <= #s then fail("trailing characters") end
  return v
end

--- Decodes every non-empty line of `text`.
function M.lines(text)
  local out = {}
  for line in text:gmatch("[^\n]+") do out[#out + 1] = M.decode(line) end
  return out
end

return setmetatable(M, { __call = function(_, s) return M.decode(s) end })
