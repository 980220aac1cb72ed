-- lunatap.layout: declarative binary layouts, compiled once into a parser.
--
--   local L = require("lunatap.layout")
--   local header = L.struct("dns_header", {
--     L.u16("id"),
--     L.bits{ { "qr", 1 }, { "opcode", 4 }, { "aa", 1 }, { "tc", 1 }, { "rd", 1 },
--             { "ra", 1 }, { "z", 3 }, { "rcode", 4 } },
--     L.u16("qdcount"), L.u16("ancount"), L.u16("nscount"), L.u16("arcount"),
--   })
--   local rec, used = header:parse(buf, 0)   -- rec.id, rec.qr, ...; used == 12
--
-- Fields: integers of 1 to 8 bytes in either byte order (L.uint(name, width,
-- {le = true, signed = true}) and the shorthands u8 u16 u24 u32 u64, i8 ...,
-- u16le ...), bit fields (L.bits), byte strings whose length is a number, an
-- earlier field or a function of the record so far (L.bytes), counted
-- arrays of any field or layout (L.array), nested layouts (L.nested),
-- names for values (L.enum: rec.<name>_name), and parts present only when a
-- condition holds (L.when). The parser is generated as Lua source and
-- loaded as text once; it reads only through the buffer's bounded
-- accessors (or, given a Lua string, string.unpack and sub), checks every
-- length first, and its errors name the layout, the field and the offset.
-- Consecutive integers and bit fields are read with one check and one
-- string.unpack.

local M = {}

local Layout = {}
Layout.__index = Layout

local function check_name(name, what)
  if type(name) ~= "string" or not name:match("^[%a_][%w_]*$") then
    error(("layout: %s needs a field name (letters, digits, _), got %s"):format(what, tostring(name)), 3)
  end
  return name
end

--- An integer of `width` bytes (1 to 8); opts.le: little-endian; opts.signed.
function M.uint(name, width, opts)
  check_name(name, "uint")
  if math.type(width) ~= "integer" or width < 1 or width > 8 then
    error(("layout: field %s: width must be 1 to 8 bytes, got %s"):format(name, tostring(width)), 2)
  end
  opts = opts or {}
  return { kind = "int", name = name, width = width, le = opts.le or false, signed = opts.signed or false }
end

for _, w in ipairs({ 1, 2, 3, 4, 8 }) do
  local bits = w * 8
  M["u" .. bits] = function(name) return M.uint(name, w) end
  M["i" .. bits] = function(name) return M.uint(name, w, { signed = true }) end
  if w > 1 then
    M["u" .. bits .. "le"] = function(name) return M.uint(name, w, { le = true }) end
    M["i" .. bits .. "le"] = function(name) return M.uint(name, w, { le = true, signed = true }) end
  end
end

--- Bit fields, most significant first: { { "name", bits }, ... } filling
-- whole bytes (at most 8). opts.le reads the bytes little-endian first.
function M.bits(list, opts)
  local total, fields = 0, {}
  for i, f in ipairs(list) do
    local name, n = f[1], f[2]
    check_name(name, "bits")
    if math.type(n) ~= "integer" or n < 1 then
      error(("layout: bit field %s: width must be a positive integer"):format(name), 2)
    end
    fields[i] = { name = name, bits = n }
    total = total + n
  end
  if total == 0 or total % 8 ~= 0 or total > 64 then
    error(("layout: bit fields take %d bits: they must fill 1 to 8 whole bytes"):format(total), 2)
  end
  return { kind = "bits", fields = fields, width = total // 8, le = opts and opts.le or false,
           name = fields[1].name .. ".." .. fields[#fields].name }
end

--- A byte string; `len` is a number, the name of an earlier field, or a
-- function(rec) returning the length.
function M.bytes(name, len)
  check_name(name, "bytes")
  return { kind = "bytes", name = name, len = len }
end

--- `count` elements of `elem` (a field or a layout); count as for bytes.
function M.array(name, count, elem)
  check_name(name, "array")
  return { kind = "array", name = name, count = count, elem = elem }
end

--- A layout inside this one: rec.<name> is its record.
function M.nested(name, layout)
  check_name(name, "nested")
  if getmetatable(layout) ~= Layout then error("layout: nested " .. name .. " needs a layout", 2) end
  return { kind = "nested", name = name, layout = layout }
end

--- Names for the values of an integer field: rec.<name>_name.
function M.enum(field, names)
  if field.kind ~= "int" then error("layout: enum needs an integer field", 2) end
  field.names = names
  return field
end

--- Fields present only when `cond` (an earlier field's name: true when
-- non-zero; or a function(rec)) holds.
function M.when(cond, fields)
  return { kind = "when", cond = cond, fields = fields }
end

------------------------------------------------------------------------
-- code generation

-- string.unpack's code for an integer field
local function unpack_code(f)
  return ("%s%s%d"):format(f.le and "<" or ">", f.signed and "i" or "I", f.width)
end

local ACCESSOR = { [1] = "u8", [2] = "u16", [3] = "u24", [4] = "u32", [8] = "u64" }

local Gen = {}
Gen.__index = Gen

-- str: the parser reads a Lua string (string.unpack, s:sub) instead of a
-- buffer; the bounds checks are the same.
local function new_gen(name, str)
  return setmetatable({ name = name, str = str, lines = {}, up = {}, nup = 0, fields = {} }, Gen)
end

function Gen:emit(fmt, ...)
  self.lines[#self.lines + 1] = fmt:format(...)
end

-- An upvalue for a value the generated code needs (functions, layouts, tables).
function Gen:upvalue(v)
  self.nup = self.nup + 1
  self.up[self.nup] = v
  return ("U[%d]"):format(self.nup)
end

-- Index of a field name for error messages.
function Gen:field(name)
  self.fields[#self.fields + 1] = name
  return #self.fields
end

-- A length or count: a number, an earlier field, or a function of the record.
function Gen:amount(spec, what)
  if math.type(spec) == "integer" and spec >= 0 then return tostring(spec) end
  if type(spec) == "string" then
    check_name(spec, what)
    return ("r.%s"):format(spec)
  end
  if type(spec) == "function" then return ("%s(r)"):format(self:upvalue(spec)) end
  error(("layout %s: %s must be a count, a field name or a function"):format(self.name, what), 4)
end

function Gen:need(fi, n)
  self:emit("if p + %s > n then E(%d, p, %s, n) end", n, fi, n)
end

function Gen:int_expr(f)
  if self.str then return ("unpack(%q, buf, p + 1)"):format(unpack_code(f)) end
  if ACCESSOR[f.width] and not f.signed then
    return ("buf:%s%s(p)"):format(ACCESSOR[f.width], f.le and "le" or "")
  elseif ACCESSOR[f.width] then
    return ("buf:i%s%s(p)"):format(ACCESSOR[f.width]:sub(2), f.le and "le" or "")
  end
  -- other widths: byte by byte
  local parts = {}
  for i = 0, f.width - 1 do
    local at = f.le and (f.width - 1 - i) or i
    parts[#parts + 1] = ("(buf:u8(p + %d) << %d)"):format(at, 8 * (f.width - 1 - i))
  end
  local e = table.concat(parts, " | ")
  if f.signed then
    local top = 1 << (8 * f.width - 1)
    e = ("((%s) ~ %d) - %d"):format(e, top, top)
  end
  return e
end

function Gen:value(f, target)
  local fi = self:field(f.name)
  if f.kind == "int" then
    self:need(fi, f.width)
    self:emit("%s = %s; p = p + %d", target, self:int_expr(f), f.width)
    if f.names then
      self:emit("%s_name = %s[%s]", target, self:upvalue(f.names), target)
    end
  elseif f.kind == "bytes" then
    local len = self:amount(f.len, "the length of " .. f.name)
    self:emit("do local len = %s", len)
    self:emit("if math.type(len) ~= 'integer' or len < 0 then E(%d, p, nil, n, len) end", fi)
    self:need(fi, "len")
    self:emit(self.str and "%s = buf:sub(p + 1, p + len); p = p + len end"
              or "%s = buf:bytes(p, len); p = p + len end", target)
  elseif f.kind == "nested" then
    local parser = self.str and f.layout.string_parser or f.layout.parser
    self:emit("do local sub, used = %s(buf, p, D + 1)", self:upvalue(parser))
    self:emit("%s = sub; p = p + used end", target)
  elseif f.kind == "array" then
    local count = self:amount(f.count, "the count of " .. f.name)
    self:emit("do local cnt = %s", count)
    self:emit("if math.type(cnt) ~= 'integer' or cnt < 0 then E(%d, p, nil, n, cnt) end", fi)
    self:emit("local a = {}; %s = a", target)
    self:emit("for i = 1, cnt do")
    local elem = f.elem
    if getmetatable(elem) == Layout then
      elem = { kind = "nested", name = f.name, layout = elem }
    end
    self:value(elem, "a[i]")
    self:emit("end end")
  else
    error(("layout %s: unknown field kind %s"):format(self.name, tostring(f.kind)), 3)
  end
end

-- Integers of the widths string.unpack reads, and bit fields: a run of
-- them is read with one bounds check and one unpack, since a C call per
-- field was most of a small layout's cost.
local MAX_RUN = 32

local function fixed(f)
  return f.kind == "bits" or f.kind == "int"
end

-- Emits the fixed fields list[i..j-1] as one read; returns j.
function Gen:run(list, i)
  local run, width = {}, 0
  local j = i
  while list[j] and fixed(list[j]) and #run < MAX_RUN do
    local f = list[j]
    run[#run + 1] = { f = f, at = width, fi = self:field(f.name) }
    width = width + f.width
    j = j + 1
  end
  -- past the end: the error names the first field that does not fit
  self:emit("if p + %d > n then", width)
  for _, e in ipairs(run) do
    self:emit("if p + %d > n then E(%d, p + %d, %d, n) end", e.at + e.f.width, e.fi, e.at, e.f.width)
  end
  self:emit("end")
  local vars, codes = {}, {}
  for k, e in ipairs(run) do
    vars[k] = "v" .. k
    codes[k] = unpack_code(e.f)
  end
  local from = self.str and "buf, p + 1" or ("buf:bytes(p, %d)"):format(width)
  self:emit("do local %s = unpack(%q, %s); p = p + %d",
            table.concat(vars, ", "), table.concat(codes), from, width)
  for k, e in ipairs(run) do
    local f = e.f
    if f.kind == "int" then
      self:emit("r.%s = v%d", f.name, k)
      if f.names then self:emit("r.%s_name = %s[v%d]", f.name, self:upvalue(f.names), k) end
    else
      local shift = f.width * 8
      for _, b in ipairs(f.fields) do
        shift = shift - b.bits
        self:emit("r.%s = (v%d >> %d) & %d", b.name, k, shift, (1 << b.bits) - 1)
      end
    end
  end
  self:emit("end")
  return j
end

function Gen:fields_of(list)
  local i = 1
  while list[i] do
    local f = list[i]
    if fixed(f) then
      i = self:run(list, i)
    else
      if f.kind == "when" then
        local cond = type(f.cond) == "string" and ("(r.%s or 0) ~= 0 and r.%s ~= false"):format(f.cond, f.cond)
                     or ("%s(r)"):format(self:upvalue(f.cond))
        self:emit("if %s then", cond)
        self:fields_of(f.fields)
        self:emit("end")
      else
        self:value(f, "r." .. f.name)
      end
      i = i + 1
    end
  end
end

-- The record's field names, so that its table is made at its final size
-- (a constructor of nils sizes it and stores nothing).
local function names_of(list, out)
  for _, f in ipairs(list) do
    if f.kind == "when" then
      names_of(f.fields, out)
    elseif f.kind == "bits" then
      for _, b in ipairs(f.fields) do out[#out + 1] = b.name end
    else
      out[#out + 1] = f.name
      if f.names then out[#out + 1] = f.name .. "_name" end
    end
  end
  return out
end

local MAX_DEPTH = 32

local function compile(name, fields, str)
  local g = new_gen(name, str)
  g:emit("local U, E = ...")
  g:emit("local function parse(buf, off, D)")
  g:emit("off = off or 0; D = D or 0")
  g:emit("if D > %d then error('layout %s: nested deeper than %d', 0) end", MAX_DEPTH, name, MAX_DEPTH)
  local slots = {}
  for k, fname in ipairs(names_of(fields, {})) do slots[k] = fname .. " = nil" end
  g:emit("local r, p, n = { %s }, off, %s", table.concat(slots, ", "), str and "#buf" or "buf:len()")
  g:fields_of(fields)
  g:emit("return r, p - off")
  g:emit("end")
  g:emit("return parse")
  local src = table.concat(g.lines, "\n")
  local function fail(fi, at, want, have, bad)
    local field = g.fields[fi] or "?"
    if bad ~= nil or want == nil then
      error(("layout %s: field %s: bad length or count %s"):format(name, field, tostring(bad)), 0)
    end
    error(("layout %s: field %s: needs %d bytes at offset %d, the buffer has %d")
          :format(name, field, want, at, have), 0)
  end
  local chunk = assert(load(src, "=layout " .. name, "t", { error = error, math = math, unpack = string.unpack }))
  return chunk(g.up, fail), src
end

--- Compiles `fields` into a layout named `name` (used in error messages).
function M.struct(name, fields)
  check_name(name, "struct")
  if type(fields) ~= "table" then error("layout: struct " .. name .. " needs a list of fields", 2) end
  local parser, src = compile(name, fields, false)
  local string_parser = compile(name, fields, true)
  return setmetatable({ name = name, parser = parser, string_parser = string_parser, source = src }, Layout)
end

--- Parses a record at `offset` (default 0) of the buffer, or of a Lua
-- string (a dissector that copied a small message out once); returns the
-- record and the number of bytes it took. Raises naming the field.
function Layout:parse(buf, offset)
  if type(buf) == "string" then return self.string_parser(buf, offset or 0, 0) end
  return self.parser(buf, offset or 0, 0)
end

return M
