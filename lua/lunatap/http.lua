-- Settings of the bundled HTTP dissector that scripts may change.
--
--   require("lunatap.http").want_bodies()   -- fill req.body / res.body
--
-- Modules are loaded once per run, so the dissector and every script see
-- the same table.
local M = { bodies = false }

--- Asks the HTTP dissector to keep message bodies (up to --max-body),
-- content-decoded, in req.body and res.body.
function M.want_bodies()
  M.bodies = true
end

return M
