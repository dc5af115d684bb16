-- POSTs one body (file given after `--`: path token bodyfile) on every request.
local request_bytes

function init(args)
  local file = assert(io.open(args[3], "r"))
  local body = file:read("*a")
  file:close()
  request_bytes = wrk.format("POST", args[1], {
    ["Authorization"] = "Bearer " .. args[2],
    ["Content-Type"] = "application/fhir+json",
    ["Prefer"] = "return=minimal",
  }, body)
end

function request()
  return request_bytes
end
