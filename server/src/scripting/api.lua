-- The parts of a script's `redis` table written in Lua (see engine.rs:
-- the functions that may raise errors are Rust's), and the runner.
local redis, version, version_num, raw_pcall, unraise = ...
local error, select, type, tostring = error, select, type, tostring

local function status_or_error(...)
  if select("#", ...) ~= 1 then
    return nil
  end
  local text = ...
  if type(text) ~= "string" and type(text) ~= "number" then
    return nil
  end
  return tostring(text)
end

redis.status_reply = function(...)
  local text = status_or_error(...)
  if text == nil then
    return { err = "ERR wrong number or type of arguments" }
  end
  return { ok = text }
end

redis.error_reply = function(...)
  local text = status_or_error(...)
  if text == nil then
    return { err = "ERR wrong number or type of arguments" }
  end
  -- As Redis: the text is read as a C string (up to a NUL), and the
  -- message after the code loses CR and LF at both ends.
  text = text:match("^[^%z]*")
  if text:sub(1, 1) ~= "-" then
    text = "-" .. text
  end
  local space = text:find(" ", 1, true)
  local code, message
  if space then
    code, message = text:sub(2, space - 1), text:sub(space + 1)
  else
    code, message = "ERR", text:sub(2)
  end
  message = message:gsub("^[\r\n]+", ""):gsub("[\r\n]+$", "")
  return { err = code .. " " .. message }
end

redis.replicate_commands = function()
  return true
end
redis.breakpoint = function()
  return false
end
redis.debug = function() end
redis.LOG_DEBUG = 0
redis.LOG_VERBOSE = 1
redis.LOG_NOTICE = 2
redis.LOG_WARNING = 3
redis.REPL_NONE = 0
redis.REPL_AOF = 1
redis.REPL_SLAVE = 2
redis.REPL_REPLICA = 2
redis.REPL_ALL = 3
redis.REDIS_VERSION = version
redis.REDIS_VERSION_NUM = version_num

-- Runs `f` with the error handler; returns xpcall's results.
local xpcall, unpack = xpcall, unpack
local function runner(handler, f, ...)
  local n = select("#", ...)
  local args = { ... }
  return xpcall(function()
    return f(unpack(args, 1, n))
  end, handler)
end

-- Redis's `pcall`: an error table comes back as its message.
local function finish(ok, ...)
  if ok then
    return true, ...
  end
  return false, unraise((...))
end
local function pcall(...)
  return finish(raw_pcall(...))
end

return runner, pcall
