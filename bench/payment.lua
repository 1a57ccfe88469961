-- wrk script of the MosPay benchmark (driven by bench/run.py through environment variables).
--
-- Every request is a POST of one payment message with a fresh f010 and PIN (f007):
--   BENCH_PREFIX .. <wrk thread id> .. "-" .. <per-thread counter>
-- With BENCH_RECORD=1 a response() hook records, per thread, the transaction_ref
-- of every 2xx answer (for the lost/duplicated check), the Server-Timing stages
-- (overhead = total - forward) and the status of every other answer. Without it
-- (the direct floor against nginx) wrk runs with no Lua on the response path.
--
-- done() writes a line-oriented report to BENCH_OUT:
--   requests N / duration_us N / errors connect read write status timeout
--   latency P MICROSECONDS / latency_mean US / latency_max US
--   ref UUID (one per 2xx) / ovh MS and total MS (one per 2xx with Server-Timing)
--   stage NAME SUM_MS COUNT / status CODE COUNT / sample STATUS BODY

local threads = {}
local next_id = 1

function setup(thread)
    thread:set("tid", next_id)
    next_id = next_id + 1
    table.insert(threads, thread)
end

local prefix, head, tail
counter = 0
refs, ovh, totals, statuses, stage_sum, stage_n, samples = {}, {}, {}, {}, {}, {}, {}

function init(args)
    prefix = os.getenv("BENCH_PREFIX") .. tostring(tid) .. "-"
    head = os.getenv("BENCH_BODY_HEAD")  -- the JSON message up to f010's value
    tail = os.getenv("BENCH_BODY_TAIL")  -- what follows f010's value
    wrk.method = "POST"
    wrk.path = os.getenv("BENCH_PATH")
    wrk.headers["Content-Type"] = "application/json"
    local app_id = os.getenv("BENCH_APP_ID")
    if app_id and app_id ~= "" then wrk.headers["App-ID"] = app_id end
    local authorization = os.getenv("BENCH_AUTHORIZATION")
    if authorization and authorization ~= "" then wrk.headers["Authorization"] = authorization end
    local many_file = os.getenv("BENCH_MANY_FILE")
    if many_file and many_file ~= "" then load_many(many_file) end
end

-- BENCH_MANY_FILE: many clients paying at once. Each line is "Authorization<TAB>App-ID<TAB>head<TAB>tail";
-- the requests go round the clients, each with its own credentials and route.
many = {}

function load_many(path)
    for line in io.lines(path) do
        local auth, app_id, h, t = string.match(line, "^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
        if auth then
            many[#many + 1] = {headers = {["Authorization"] = auth, ["App-ID"] = app_id,
                                          ["Content-Type"] = "application/json"}, head = h, tail = t}
        end
    end
end

-- A different 4-digit PIN (f007) in every payment, as payers have: the tail's %PIN% mark.
local function with_pin(text)
    return (string.gsub(text, "%%PIN%%", string.format("%04d", (counter * 7919 + tid) % 10000)))
end

function request()
    counter = counter + 1
    if #many > 0 then
        local client = many[((counter * 7 + tid) % #many) + 1]
        return wrk.format(nil, nil, client.headers, client.head .. prefix .. counter .. with_pin(client.tail))
    end
    return wrk.format(nil, nil, nil, head .. prefix .. counter .. with_pin(tail))
end

if os.getenv("BENCH_RECORD") == "1" then
    function response(status, headers, body)
        if status >= 200 and status < 300 then
            refs[#refs + 1] = string.match(body, '"transaction_ref":"([^"]+)"') or "?"
            local timing = headers["Server-Timing"] or headers["server-timing"]
            if timing then
                local forward, total
                for name, dur in string.gmatch(timing, "([%w_]+);dur=([%d%.]+)") do
                    local ms = tonumber(dur)
                    stage_sum[name] = (stage_sum[name] or 0) + ms
                    stage_n[name] = (stage_n[name] or 0) + 1
                    if name == "forward" then forward = ms elseif name == "total" then total = ms end
                end
                if forward and total then ovh[#ovh + 1] = total - forward end
                if total then totals[#totals + 1] = total end
            end
        else
            local key = tostring(status)
            statuses[key] = (statuses[key] or 0) + 1
            if #samples < 3 then samples[#samples + 1] = key .. " " .. string.gsub(body, "%s+", " ") end
        end
    end
end

function done(summary, latency, requests)
    local out = assert(io.open(os.getenv("BENCH_OUT"), "w"))
    local e = summary.errors
    out:write(string.format("requests %d\nduration_us %d\n", summary.requests, summary.duration))
    out:write(string.format("errors %d %d %d %d %d\n", e.connect, e.read, e.write, e.status, e.timeout))
    for _, p in ipairs({50, 90, 95, 99, 99.9}) do
        out:write(string.format("latency %s %d\n", tostring(p), latency:percentile(p)))
    end
    out:write(string.format("latency_mean %f\nlatency_max %d\n", latency.mean, latency.max))
    for _, thread in ipairs(threads) do
        for _, ref in ipairs(thread:get("refs") or {}) do out:write("ref ", ref, "\n") end
        for _, ms in ipairs(thread:get("ovh") or {}) do out:write(string.format("ovh %.3f\n", ms)) end
        for _, ms in ipairs(thread:get("totals") or {}) do out:write(string.format("total %.3f\n", ms)) end
        local sums, counts = thread:get("stage_sum") or {}, thread:get("stage_n") or {}
        for name, total in pairs(sums) do
            out:write(string.format("stage %s %.3f %d\n", name, total, counts[name] or 0))
        end
        for code, n in pairs(thread:get("statuses") or {}) do out:write("status ", code, " ", n, "\n") end
        for _, s in ipairs(thread:get("samples") or {}) do out:write("sample ", s, "\n") end
    end
    out:close()
end
