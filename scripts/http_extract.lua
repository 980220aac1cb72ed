-- Saves HTTP response bodies as files named by ETag or SHA-256, with an index.
--
-- tshark's --export-objects http and epcap's save-by-ETag.
--
-- Needs a directory granted with --allow-write DIR; without one it stops
-- before reading packets. Every response with a body (content-decoded:
-- gzip and deflate are undone) is written to DIR/SUB/NAME, where NAME is
-- the response's ETag made safe (W/ and quotes removed, every byte other
-- than A-Z a-z 0-9 . _ - replaced by _, no leading dot) or, without an
-- ETag, the SHA-256 of the body in hex; the same ETag with other bytes
-- gets a hash suffix. An object already written (the same ETag and bytes,
-- or the same bytes) is written once; every object
-- gets a line in the index (DIR/SUB/index.jsonl): url, status,
-- content_type, size, file, session, etag, and "truncated": true when the
-- body was cut (by --max-body or by the end of the capture) — what there is
-- is written anyway.

local opt = options {
  summary = "Save HTTP response bodies as files named by ETag or SHA-256, with an index " ..
            "(needs --allow-write DIR).",
  usage = "[--dir SUB] [--min-size N] [--content-type PREFIX]... [--index NAME]",
  { "--dir", arg = "SUB", default = ".", help = "subdirectory of the --allow-write directory to write to" },
  { "--min-size", arg = "N", type = "number", default = 0, help = "skip bodies smaller than N bytes" },
  { "--content-type", arg = "PREFIX", type = "list",
    help = "only bodies whose Content-Type starts with PREFIX, any case (repeatable)" },
  { "--index", arg = "NAME", default = "index.jsonl", help = "name of the index file, one JSON line per object" },
  epilog = "Example: lunatap --allow-write /tmp/out -r capture.pcap http_extract --content-type image/",
}

local usage_error = require("lunatap.options").usage_error

-- A relative path without "..", as open_file wants it; "" for the top.
local function clean_path(p, what)
  if p:sub(1, 1) == "/" then usage_error(what .. " must be relative to the --allow-write directory") end
  local parts = {}
  for part in p:gmatch("[^/]+") do
    if part == ".." then usage_error(what .. " must not contain '..'") end
    if part ~= "." then parts[#parts + 1] = part end
  end
  return table.concat(parts, "/")
end

local dir = clean_path(opt.dir, "--dir")
local prefix = dir == "" and "" or dir .. "/"
local index_name = clean_path(opt.index, "--index")
if index_name == "" then usage_error("--index needs a file name") end
if opt.min_size < 0 then usage_error("--min-size must be 0 or more") end

local type_prefixes = {}
for i, p in ipairs(opt.content_type) do type_prefixes[i] = p:lower() end

-- Opening the index checks the grant: without --allow-write, open_file's
-- message (which names --allow-write) ends the run here.
local index
do
  local ok, f = pcall(open_file, prefix .. index_name, "w")
  if not ok then usage_error(tostring(f)) end
  index = f
end

-- TODO(lead): lunatap.codec.sha256(s) -> 64 lowercase hex digits.
local codec = require("lunatap.codec")
local sha256 = codec.sha256
if not sha256 then
  error("http_extract: this lunatap has no lunatap.codec.sha256", 0)
end

require("lunatap.http").want_bodies()

------------------------------------------------------------------------

local MAX_NAME = 100

-- The ETag as a file name, or nil when nothing usable is left.
local function etag_name(etag)
  local e = etag:gsub("^%s*[Ww]/", ""):gsub('"', "")
  e = e:gsub("[^A-Za-z0-9._-]", "_")
  if e:match("^%.*$") then return nil end      -- "", ".", ".."
  e = e:gsub("^%.", "_")                       -- no hidden files
  if #e > MAX_NAME then e = e:sub(1, MAX_NAME - 17) .. "-" .. sha256(etag):sub(1, 16) end
  return e
end

local names = {}        -- file name -> what it holds ("etag:..." or "sha256:...")
local written = {}      -- file name -> true once written
local objects, files, bytes = 0, 0, 0
local not_kept = 0

-- A name for the object with key `key`, made unique when another object
-- already took the same name (two ETags that differ only in unsafe bytes).
local function claim(name, key)
  local holder = names[name]
  if holder == nil then
    names[name] = key
    return name
  elseif holder == key then
    return name
  end
  local alt = name:sub(1, MAX_NAME - 17) .. "-" .. sha256(key):sub(1, 16)
  if names[alt] == nil or names[alt] == key then
    names[alt] = key
    return alt
  end
  return claim(sha256(key), key)
end

local function type_wanted(ct)
  if #type_prefixes == 0 then return true end
  if not ct then return false end
  ct = ct:lower():gsub("^%s+", "")
  for _, p in ipairs(type_prefixes) do
    if ct:sub(1, #p) == p then return true end
  end
  return false
end

local function url_of(req)
  if not req then return nil end
  local uri = req.uri or ""
  if uri:match("^%a[%w+.-]*://") then return uri end
  local host = req.headers["host"]
  return host and host .. uri or uri
end

-- One JSON line with the keys in this order; nil is null except for the
-- optional keys, which are left out.
local KEYS = { "url", "status", "content_type", "size", "file", "session", "etag",
               "truncated", "duplicate", "decode_error" }
local OPTIONAL = { truncated = true, duplicate = true, decode_error = true }

local function json_line(rec)
  local out = {}
  for _, k in ipairs(KEYS) do
    local v = rec[k]
    if v ~= nil or not OPTIONAL[k] then out[#out + 1] = json(k) .. ":" .. json(v) end
  end
  return "{" .. table.concat(out, ",") .. "}\n"
end

-- Control characters as \xNN, for the terminal.
local function clean(s)
  return (s:gsub("[\0-\31\127]", function(c) return ("\\x%02x"):format(c:byte()) end))
end

on("http.response", function(res, s)
  if res.interim or res.status == 101 then return end
  local body = res.body
  if body == nil then
    if res.body_len > 0 then not_kept = not_kept + 1 end
    return
  end
  if body == "" or #body < opt.min_size then return end
  local ct = res.headers["content-type"]
  if not type_wanted(ct) then return end

  local etag = res.headers["etag"]
  local name = etag and etag_name(etag)
  local hex = sha256(body)
  if name then
    -- The same ETag with other bytes (a 206 range, a server that reuses
    -- ETags) is another object: it gets the name with a hash suffix.
    name = claim(name, "etag:" .. etag .. "\0" .. hex)
  else
    name = claim(hex, "sha256:" .. hex)
  end
  local path = prefix .. name
  local duplicate = written[name] == true
  if not duplicate then
    local f = open_file(path, "w")
    f:write(body)
    f:close()
    written[name] = true
    files, bytes = files + 1, bytes + #body
  end
  objects = objects + 1
  local truncated = (res.body_truncated or res.incomplete) and true or nil
  index:write(json_line({
    url = url_of(res.request), status = res.status, content_type = ct, size = #body,
    file = path, session = s.id, etag = etag, truncated = truncated,
    duplicate = duplicate or nil, decode_error = res.body_error,
  }))
  print(("%s %d bytes %s%s%s"):format(path, #body, clean(url_of(res.request) or "(no request)"),
    truncated and " (truncated)" or "", duplicate and " (duplicate)" or ""))
end)

on("done", function()
  index:close()
  print(("http_extract: %d objects, %d files written (%d bytes), index %s")
    :format(objects, files, bytes, prefix .. index_name))
  if not_kept > 0 then
    print(("http_extract: %d bodies were not kept (--max-body 0?)"):format(not_kept))
  end
end)
