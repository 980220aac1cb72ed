-- scripts/http_extract.lua as a user runs it: without --allow-write it stops
-- before reading; with it, every response body of samples/http-features.pcap
-- is written once, decoded, with the SHA-256 the ground truth
-- (samples/http-features.truth.json) gives, named by ETag or SHA-256, and
-- indexed; the options; truncated bodies; and ETags that try to leave the
-- directory.

local h = require("helper")
local build = require("pcap_build")
local J = require("json_decode")

local has = h.has
local FEATURES, TRUTH = h.http_features()

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end
local truth = J.decode(h.slurp(TRUTH))

local tmpdir = h.tmpdir

local function rmdir(dir)
  os.execute("rm -rf " .. h.quote(dir))
end

local function sha256_of(path)
  local out = h.capture("sha256sum " .. h.quote(path)) or ""
  return out:match("^(%x+)")
end

-- Runs http_extract over `pcap` with lunatap options `before` and script
-- options `...`.
local function extract(pcap, before, ...)
  local args = {}
  for _, a in ipairs(before or {}) do args[#args + 1] = a end
  for _, a in ipairs({ "-r", pcap, "http_extract", ... }) do args[#args + 1] = a end
  return h.run(args)
end

local function index_of(path)
  return J.lines(h.slurp(path))
end

-- Responses of the truth that carry a body: { session, uri, sha256, size }.
local function bodies()
  local out = {}
  for _, s in ipairs(truth.sessions) do
    for _, res in ipairs(s.responses) do
      local size = res.decoded_len or res.body_len
      if size > 0 and not res.interim then
        out[#out + 1] = { session = s.index, uri = s.requests[res.request].uri,
                          sha256 = res.decoded_sha256, size = size, status = res.status }
      end
    end
  end
  return out
end

-- Captures built for one case (spec/pcap_build.lua).
local function pcap_of(parts, no_fin)
  return h.tmpfile(build.tcp_session(parts, { no_fin = no_fin }), ".pcap")
end

-- One request and a response with `etag` (nil: none) and `body`.
local function exchange(uri, etag, body, length)
  local head = { "HTTP/1.1 200 OK", "Content-Type: text/plain",
                 "Content-Length: " .. (length or #body) }
  if etag then head[#head + 1] = "ETag: " .. etag end
  return { "client", "GET " .. uri .. " HTTP/1.1\r\nHost: evil.example\r\n\r\n" },
         { "server", table.concat(head, "\r\n") .. "\r\n\r\n" .. body }
end

------------------------------------------------------------------------

describe("http_extract", function()
  local dir
  before_each(function() dir = tmpdir() end)
  after_each(function() rmdir(dir) end)

  it("stops before reading without --allow-write, naming it", function()
    local r = extract(FEATURES, {})
    assert.are.equal(2, r.code)
    assert.are.equal("", r.out)
    assert.is_truthy(r.err:match("^lunatap: http_extract: [^\n]*%-%-allow%-write[^\n]*\n$"), r.err)
  end)

  it("writes every response body once, decoded, with the truth's SHA-256", function()
    local r = extract(FEATURES, { "--allow-write", dir })
    assert.are.equal("", r.err)
    assert.are.equal(0, r.code)
    local want = bodies()
    local index = index_of(dir .. "/index.jsonl")
    assert.are.equal(#want, #index)
    local files = {}
    for i, rec in ipairs(index) do
      local w = want[i]
      local what = ("object %d (%s)"):format(i, w.uri)
      assert.are.equal(w.session, rec.session, what)
      assert.are.equal(w.status, rec.status, what)
      assert.are.equal(w.size, rec.size, what)
      assert.are.equal(w.uri, rec.url:sub(-#w.uri), what)
      assert.is_nil(rec.truncated, what)
      assert.are.equal(w.sha256, sha256_of(dir .. "/" .. rec.file), what)
      if rec.etag == J.null then
        assert.are.equal(w.sha256, rec.file, what .. ": named by its SHA-256")
      end
      files[rec.file] = true
    end
    -- the gzip'd text with ETag "gz-20k-v1", decoded
    has(h.slurp(dir .. "/index.jsonl"), '"file":"gz-20k-v1","session":3,"etag":"\\"gz-20k-v1\\""')
    -- one file per distinct name, and nothing else
    local listed = 0
    for _ in pairs(files) do listed = listed + 1 end
    local ls = h.ls(dir)
    assert.are.equal(listed + 1, #ls)
    has(r.out, ("http_extract: %d objects, %d files written"):format(#want, listed))
  end)

  it("writes an object already written once, and marks it duplicate", function()
    local r = extract(FEATURES, { "--allow-write", dir })
    assert.are.equal(0, r.code)
    local seen, dups = {}, 0
    for _, rec in ipairs(index_of(dir .. "/index.jsonl")) do
      if seen[rec.file] then
        assert.is_true(rec.duplicate)
        dups = dups + 1
      else
        assert.is_nil(rec.duplicate)
      end
      seen[rec.file] = true
    end
    assert.is_true(dups >= 1)  -- the chunked gzip and the deflate text are the same bytes
  end)

  it("--dir writes under a subdirectory, --index names the index", function()
    local r = extract(FEATURES, { "--allow-write", dir }, "--dir", "a/b", "--index", "objects.jsonl")
    assert.are.equal(0, r.code, r.err)
    assert.are.same({ "a" }, h.ls(dir))
    local index = index_of(dir .. "/a/b/objects.jsonl")
    assert.are.equal(#bodies(), #index)
    for _, rec in ipairs(index) do
      assert.are.equal("a/b/", rec.file:sub(1, 4))
      assert.is_truthy(exists(dir .. "/" .. rec.file))
    end
  end)

  it("--min-size skips small bodies", function()
    local r = extract(FEATURES, { "--allow-write", dir }, "--min-size", "3000")
    assert.are.equal(0, r.code, r.err)
    local n = 0
    for _, w in ipairs(bodies()) do
      if w.size >= 3000 then n = n + 1 end
    end
    local index = index_of(dir .. "/index.jsonl")
    assert.are.equal(n, #index)
    for _, rec in ipairs(index) do assert.is_true(rec.size >= 3000) end
  end)

  it("--content-type keeps bodies whose type starts with a prefix, in any case", function()
    local r = extract(FEATURES, { "--allow-write", dir }, "--content-type", "IMAGE/")
    assert.are.equal(0, r.code, r.err)
    local index = index_of(dir .. "/index.jsonl")
    assert.are.equal(1, #index)
    assert.are.equal("image/png", index[1].content_type)
    assert.are.equal("www.example.com/logo.png", index[1].url)
    extract(FEATURES, { "--allow-write", dir }, "--content-type", "application/json",
      "--content-type", "text/html")
    for _, rec in ipairs(index_of(dir .. "/index.jsonl")) do
      assert.is_truthy(rec.content_type:match("^application/json") or rec.content_type:match("^text/html"))
    end
  end)

  it("writes truncated bodies and marks them", function()
    local r = extract(FEATURES, { "--allow-write", dir, "--max-body", "100" }, "--min-size", "1")
    assert.are.equal(0, r.code, r.err)
    for _, rec in ipairs(index_of(dir .. "/index.jsonl")) do
      assert.is_true(rec.size <= 100)
      if rec.size == 100 then assert.is_true(rec.truncated) end
    end
    local pcap = pcap_of({ exchange("/cut", nil, "only this", 100) }, true)
    rmdir(dir)
    dir = tmpdir()
    r = extract(pcap, { "--allow-write", dir })
    os.remove(pcap)
    local index = index_of(dir .. "/index.jsonl")
    assert.are.equal(1, #index)
    assert.is_true(index[1].truncated)
    assert.are.equal(9, index[1].size)
    assert.are.equal("only this", h.slurp(dir .. "/" .. index[1].file))
  end)

  it("makes ETags into safe names: no traversal, no hidden files", function()
    local parts = {}
    local function add(uri, etag, body)
      local a, b = exchange(uri, etag, body)
      parts[#parts + 1] = a
      parts[#parts + 1] = b
    end
    add("/1", '"../../evil"', "one\n")
    add("/2", '".."', "two\n")
    add("/3", 'W/"a/b c"', "three\n")
    add("/4", '"/etc/passwd"', "four\n")
    add("/5", '".hidden"', "five\n")
    add("/6", '"../../evil"', "six, same ETag\n")
    add("/7", '"a_b_c"', "seven: another ETag with the same safe name\n")
    local pcap = pcap_of(parts)
    local out = dir .. "/out"
    os.execute("mkdir " .. h.quote(out))
    local r = extract(pcap, { "--allow-write", out })
    os.remove(pcap)
    assert.are.equal(0, r.code, r.err)
    assert.are.same({ "out" }, h.ls(dir))
    local index = index_of(out .. "/index.jsonl")
    local files = {}
    for i, rec in ipairs(index) do
      files[i] = rec.file
      assert.is_truthy(rec.file:match("^[A-Za-z0-9_-][A-Za-z0-9._-]*$"), rec.file)
      assert.is_truthy(exists(out .. "/" .. rec.file))
    end
    assert.are.equal("_._.._evil", files[1])
    assert.are.equal(64, #files[2])                       -- ".." is no name: SHA-256
    assert.are.equal(sha256_of(out .. "/" .. files[2]), files[2])
    assert.are.equal("a_b_c", files[3])
    assert.are.equal("_etc_passwd", files[4])
    assert.are.equal("_hidden", files[5])
    -- the same ETag with other bytes is another object, with a suffix
    assert.is_truthy(files[6]:match("^_%._%.%._evil%-%x+$"), files[6])
    assert.is_nil(index[6].duplicate)
    assert.are.equal("six, same ETag\n", h.slurp(out .. "/" .. files[6]))
    assert.are.equal("one\n", h.slurp(out .. "/_._.._evil"))
    assert.are_not.equal("a_b_c", files[7])
    assert.are.equal("seven: another ETag with the same safe name\n", h.slurp(out .. "/" .. files[7]))
    assert.are.equal("three\n", h.slurp(out .. "/a_b_c"))
  end)

  it("refuses a --dir or --index outside the grant, and bad options, with status 2", function()
    for _, args in ipairs({ { "--dir", "../x" }, { "--dir", "/tmp" }, { "--index", "../i.jsonl" },
                            { "--min-size", "big" }, { "--bogus" }, { "--dir" } }) do
      local r = extract(FEATURES, { "--allow-write", dir }, table.unpack(args))
      assert.are.equal(2, r.code, table.concat(args, " "))
      assert.is_truthy(r.err:match("^lunatap: http_extract: [^\n]+\n$"), r.err)
    end
    assert.are.same({}, h.ls(dir))
  end)

  it("--help lists the options", function()
    local r = extract(FEATURES, {}, "--help")
    assert.are.equal(0, r.code)
    for _, o in ipairs({ "--dir SUB", "--min-size N", "--content-type PREFIX", "--index NAME" }) do
      has(r.out, "  " .. o .. " ")
    end
  end)
end)
