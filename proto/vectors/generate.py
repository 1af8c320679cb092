#!/usr/bin/env python3
"""Writes the golden vector files of proto/vectors/ (see README.md there for the format).

The .jsonl files are committed; this script is how they are maintained: edit the tables
below, run `python3 proto/vectors/generate.py`, review the diff. Frames are written here
as the exact text that goes on the wire (key order and spacing are part of the vector).
"""
import json
import pathlib

HERE = pathlib.Path(__file__).resolve().parent
V10 = '"version":{"major":1,"minor":0}'


def ok(name, frame, type_, decoded=None, note=None):
    v = {"name": name, "frame": frame, "expect": {"type": type_}}
    if decoded is not None:
        v["expect"]["decoded"] = decoded
    if note:
        v["note"] = note
    return v


def bad(name, frame, code, field=None, note=None, hex_=False):
    v = {"name": name}
    if hex_:
        v["frame_hex"] = frame.hex()
    else:
        v["frame"] = frame
    v["expect"] = {"error": code}
    if field is not None:
        v["expect"]["field"] = field
    if note:
        v["note"] = note
    return v


FILES = {}

FILES["handshake"] = [
    ok("hello_bot_full",
       '{"type":"hello",' + V10 + ',"role":"bot","pid":4242,"name":"amayo",'
       '"capabilities":["trim","sweep","compact","stats"]}', "hello"),
    ok("hello_control_minimal",
       '{"type":"hello",' + V10 + ',"role":"control","pid":0,"name":"memvisorctl"}', "hello",
       decoded={"type": "hello", "version": {"major": 1, "minor": 0}, "role": "control",
                "pid": 0, "name": "memvisorctl"}),
    ok("hello_control_parts",
       '{"type":"hello","version":{"major":1,"minor":1},"role":"control","pid":9002,'
       '"name":"memvisorctl","capabilities":["parts"]}', "hello",
       note="1.1: a control client that reassembles answers in parts (PROTOCOL.md 7.6)"),
    ok("hello_newer_minor_with_unknown_keys",
       '{"type":"hello","version":{"major":1,"minor":4},"role":"bot","pid":7,"name":"b",'
       '"shard":3,"future":{"x":[1,2]}}', "hello",
       decoded={"type": "hello", "version": {"major": 1, "minor": 4}, "role": "bot",
                "pid": 7, "name": "b"},
       note="unknown keys are ignored"),
    ok("hello_other_major_decodes",
       '{"type":"hello","version":{"major":2,"minor":0},"role":"bot","pid":7,"name":"b"}',
       "hello", note="decodes; the handshake then refuses it with incompatible_version"),
    bad("hello_missing_version",
        '{"type":"hello","role":"bot","pid":1,"name":"a"}', "missing_field", "version"),
    bad("hello_missing_minor",
        '{"type":"hello","version":{"major":1},"role":"bot","pid":1,"name":"a"}',
        "missing_field", "version.minor"),
    bad("hello_version_string",
        '{"type":"hello","version":"1.0","role":"bot","pid":1,"name":"a"}', "bad_field",
        "version"),
    bad("hello_bad_role",
        '{"type":"hello",' + V10 + ',"role":"admin","pid":1,"name":"a"}', "out_of_range",
        "role"),
    ok("hello_empty_name",
       '{"type":"hello",' + V10 + ',"role":"bot","pid":1,"name":""}', "hello",
       note="memvisord knows its bots by SO_PEERCRED; welcome tells the configured name"),
    bad("hello_name_number",
        '{"type":"hello",' + V10 + ',"role":"bot","pid":1,"name":5}', "bad_field", "name"),
    bad("hello_negative_pid",
        '{"type":"hello",' + V10 + ',"role":"bot","pid":-1,"name":"a"}', "out_of_range", "pid"),
    bad("hello_capability_not_string",
        '{"type":"hello",' + V10 + ',"role":"bot","pid":1,"name":"a","capabilities":["trim",1]}',
        "bad_field", "capabilities[1]"),
    ok("welcome_full",
       '{"type":"welcome",' + V10 + ',"pid":1,"name":"amayo","capabilities":["journal"],'
       '"stats_interval_ms":2000}', "welcome"),
    ok("welcome_minimal_default_interval",
       '{"type":"welcome",' + V10 + ',"pid":1,"name":"amayo"}', "welcome",
       decoded={"type": "welcome", "version": {"major": 1, "minor": 0}, "pid": 1,
                "name": "amayo", "stats_interval_ms": 5000}),
    bad("welcome_interval_too_small",
        '{"type":"welcome",' + V10 + ',"pid":1,"name":"a","stats_interval_ms":99}',
        "out_of_range", "stats_interval_ms"),
    bad("welcome_missing_pid",
        '{"type":"welcome",' + V10 + ',"name":"a"}', "missing_field", "pid"),
    ok("error_incompatible_version",
       '{"type":"error","code":"incompatible_version","message":"protocol version 2.0 is not '
       'compatible with 1.0 (major versions differ)"}', "error"),
    ok("error_with_id",
       '{"type":"error","id":12,"code":"busy","message":"amayo: a sweep is already running"}',
       "error"),
    ok("error_unknown_code",
       '{"type":"error","code":"some_future_code","message":""}', "error",
       note="codes are open: receivers treat unknown codes as generic failures"),
    bad("error_missing_code", '{"type":"error","message":"x"}', "missing_field", "code"),
    bad("error_empty_code", '{"type":"error","code":"","message":"x"}', "out_of_range", "code"),
    bad("error_missing_message", '{"type":"error","code":"busy"}', "missing_field", "message"),
    bad("error_id_negative", '{"type":"error","id":-3,"code":"busy","message":""}',
        "out_of_range", "id"),
]

FILES["bot"] = [
    ok("trim_full", '{"type":"trim","id":7,"urgency":"high","deadline_ms":2000}', "trim"),
    ok("sweep_low_min_deadline", '{"type":"sweep","id":0,"urgency":"low","deadline_ms":1}',
       "sweep"),
    ok("compact_critical_max_deadline",
       '{"type":"compact","id":9007199254740991,"urgency":"critical","deadline_ms":600000}',
       "compact"),
    ok("trim_spaced_reordered",
       ' { "deadline_ms" : 5000 , "urgency" : "normal" , "id" : 3 , "type" : "trim" } ', "trim",
       decoded={"type": "trim", "id": 3, "urgency": "normal", "deadline_ms": 5000}),
    bad("trim_deadline_zero", '{"type":"trim","id":7,"urgency":"high","deadline_ms":0}',
        "out_of_range", "deadline_ms"),
    bad("trim_deadline_over", '{"type":"trim","id":7,"urgency":"high","deadline_ms":600001}',
        "out_of_range", "deadline_ms"),
    bad("trim_deadline_fraction", '{"type":"trim","id":7,"urgency":"high","deadline_ms":2000.5}',
        "bad_field", "deadline_ms"),
    ok("trim_integral_spellings", '{"type":"trim","id":7.0,"urgency":"high","deadline_ms":2e3}',
       "trim", decoded={"type": "trim", "id": 7, "urgency": "high", "deadline_ms": 2000},
       note="an integer may be spelt as any JSON number with an integral value"),
    bad("trim_id_string", '{"type":"trim","id":"7","urgency":"high","deadline_ms":2000}',
        "bad_field", "id"),
    bad("trim_id_unsafe", '{"type":"trim","id":9007199254740992,"urgency":"high","deadline_ms":1}',
        "out_of_range", "id", note="ids are at most 2^53-1"),
    bad("trim_missing_id", '{"type":"trim","urgency":"high","deadline_ms":2000}',
        "missing_field", "id"),
    bad("sweep_missing_urgency", '{"type":"sweep","id":1,"deadline_ms":2000}', "missing_field",
        "urgency"),
    bad("sweep_bad_urgency", '{"type":"sweep","id":1,"urgency":"urgent","deadline_ms":2000}',
        "out_of_range", "urgency"),
    bad("compact_urgency_null", '{"type":"compact","id":1,"urgency":null,"deadline_ms":2000}',
        "missing_field", "urgency", note="null counts as absent"),
    ok("sweep_with_target_1_1",
       '{"type":"sweep","id":8,"urgency":"normal","deadline_ms":10000,"target_bytes":62914560}',
       "sweep", note="1.1: how many bytes memvisord wants back; a 1.0 bot ignores it"),
    ok("compact_target_zero_1_1",
       '{"type":"compact","id":9,"urgency":"high","deadline_ms":30000,"target_bytes":0}',
       "compact"),
    ok("compact_headroom_1_1",
       '{"type":"compact","id":10,"urgency":"high","deadline_ms":30000,"target_bytes":50331648,'
       '"headroom_bytes":39845888}', "compact",
       note="1.1: how far the figure may rise for a moment before the hard ceiling"),
    bad("compact_headroom_negative", '{"type":"compact","id":10,"urgency":"high",'
        '"deadline_ms":1,"headroom_bytes":-5}', "out_of_range", "headroom_bytes"),
    bad("sweep_target_negative", '{"type":"sweep","id":8,"urgency":"normal","deadline_ms":1,'
        '"target_bytes":-1}', "out_of_range", "target_bytes"),
    bad("trim_target_string", '{"type":"trim","id":8,"urgency":"normal","deadline_ms":1,'
        '"target_bytes":"60MiB"}', "bad_field", "target_bytes"),
    ok("ping", '{"type":"ping","id":5}', "ping"),
    bad("ping_negative_id", '{"type":"ping","id":-1}', "out_of_range", "id"),
    bad("ping_float_id", '{"type":"ping","id":1.25}', "bad_field", "id"),
    ok("shutdown_full", '{"type":"shutdown","id":11,"deadline_ms":15000,"reason":"limit exceeded"}',
       "shutdown"),
    ok("shutdown_minimal", '{"type":"shutdown","id":11,"deadline_ms":10000}', "shutdown"),
    bad("shutdown_missing_deadline", '{"type":"shutdown","id":11}', "missing_field", "deadline_ms"),
    bad("shutdown_reason_number", '{"type":"shutdown","id":1,"deadline_ms":10,"reason":5}',
        "bad_field", "reason"),
    ok("action_result_full",
       '{"type":"action_result","id":2,"action":"sweep","ok":true,"freed_bytes":24221286,'
       '"duration_ms":12.375,"late":true,'
       '"before":{"rss_bytes":314572800,"heap_used_bytes":157286400,"heap_total_bytes":157290496,'
       '"external_bytes":19660800},'
       '"after":{"rss_bytes":290351514,"heap_used_bytes":131072000},'
       '"details":[{"name":"messages","freed_bytes":1048576,"entries_before":5000,'
       '"entries_after":1000},{"name":"members","freed_bytes":-12}]}', "action_result"),
    ok("action_result_failed",
       '{"type":"action_result","id":3,"action":"compact","ok":false,"freed_bytes":-4096,'
       '"duration_ms":0,"error":"compact handler threw"}', "action_result"),
    ok("action_result_minimal",
       '{"type":"action_result","id":4,"action":"trim","ok":true,"freed_bytes":0,'
       '"duration_ms":0.5,"late":false,"before":{},"details":[]}', "action_result",
       decoded={"type": "action_result", "id": 4, "action": "trim", "ok": True,
                "freed_bytes": 0, "duration_ms": 0.5},
       note="empty and default optional values are omitted when re-encoded"),
    ok("action_result_target_1_1",
       '{"type":"action_result","id":7,"action":"sweep","ok":true,"freed_bytes":0,'
       '"duration_ms":231.4,"before":{"rss_bytes":331350016,"heap_used_bytes":229638144,'
       '"heap_limit_bytes":1124073472},"after":{"rss_bytes":333447168,'
       '"heap_used_bytes":160432128,"heap_limit_bytes":1124073472},'
       '"details":[{"name":"messages","freed_bytes":0,"entries_before":120000,'
       '"entries_after":84000}],"heap_freed_bytes":69206016,"target_met":true}',
       "action_result", note="1.1: heap freed at once, RSS not caught up yet, target met"),
    bad("action_result_target_met_string",
        '{"type":"action_result","id":1,"action":"trim","ok":true,"freed_bytes":0,'
        '"duration_ms":1,"target_met":"yes"}', "bad_field", "target_met"),
    bad("action_result_missing_freed",
        '{"type":"action_result","id":1,"action":"trim","ok":true,"duration_ms":1}',
        "missing_field", "freed_bytes"),
    bad("action_result_ok_number",
        '{"type":"action_result","id":1,"action":"trim","ok":1,"freed_bytes":0,"duration_ms":1}',
        "bad_field", "ok"),
    bad("action_result_negative_duration",
        '{"type":"action_result","id":1,"action":"trim","ok":true,"freed_bytes":0,'
        '"duration_ms":-1}', "out_of_range", "duration_ms"),
    bad("action_result_huge_duration",
        '{"type":"action_result","id":1,"action":"trim","ok":true,"freed_bytes":0,'
        '"duration_ms":1e300}', "out_of_range", "duration_ms"),
    bad("action_result_bad_action",
        '{"type":"action_result","id":1,"action":"gc","ok":true,"freed_bytes":0,"duration_ms":1}',
        "out_of_range", "action"),
    bad("action_result_before_negative_rss",
        '{"type":"action_result","id":1,"action":"trim","ok":true,"freed_bytes":0,'
        '"duration_ms":1,"before":{"rss_bytes":-1}}', "out_of_range", "before.rss_bytes"),
    bad("action_result_detail_missing_name",
        '{"type":"action_result","id":1,"action":"trim","ok":true,"freed_bytes":0,'
        '"duration_ms":1,"details":[{"freed_bytes":1}]}', "missing_field", "details[0].name"),
    bad("action_result_detail_not_object",
        '{"type":"action_result","id":1,"action":"trim","ok":true,"freed_bytes":0,'
        '"duration_ms":1,"details":["messages"]}', "bad_field", "details[0]"),
    ok("pong_full", '{"type":"pong","id":5,"uptime_ms":987654}', "pong"),
    ok("pong_uptime_null", '{"type":"pong","id":5,"uptime_ms":null}', "pong",
       decoded={"type": "pong", "id": 5}),
    bad("pong_missing_id", '{"type":"pong"}', "missing_field", "id"),
    ok("stats_full",
       '{"type":"stats","rss_bytes":163577856,"heap_used_bytes":93742694,'
       '"heap_total_bytes":117545369,"external_bytes":8703180,"event_loop_lag_ms":1.24,'
       '"caches":{"messages":2500,"members":100,"threads":0},"uptime_ms":86400000}', "stats"),
    ok("stats_heap_limit_1_1",
       '{"type":"stats","rss_bytes":163577856,"heap_used_bytes":93742694,'
       '"heap_limit_bytes":271581184,"uptime_ms":1000}', "stats",
       note="1.1: V8's heap_size_limit"),
    bad("stats_heap_limit_negative", '{"type":"stats","heap_limit_bytes":-5}', "out_of_range",
        "heap_limit_bytes"),
    ok("stats_empty", '{"type":"stats"}', "stats"),
    bad("stats_negative_rss", '{"type":"stats","rss_bytes":-1}', "out_of_range", "rss_bytes"),
    bad("stats_rss_string", '{"type":"stats","rss_bytes":"156MB"}', "bad_field", "rss_bytes"),
    bad("stats_lag_negative", '{"type":"stats","event_loop_lag_ms":-0.1}', "out_of_range",
        "event_loop_lag_ms"),
    bad("stats_caches_array", '{"type":"stats","caches":[1,2]}', "bad_field", "caches"),
    bad("stats_cache_count_string", '{"type":"stats","caches":{"messages":"12"}}', "bad_field",
        "caches.messages"),
    ok("event_full",
       '{"type":"event","level":"warn","message":"heap use above 80% \u2014 se\u00f1al",'
       '"fields":{"heap_used":"412MB","limit":"512MB"}}', "event"),
    ok("event_escaped_unicode",
       '{"type":"event","level":"info","message":"caf\\u00e9 \\ud83d\\ude00 tab\\t nul\\u0000"}',
       "event", decoded={"type": "event", "level": "info",
                         "message": "caf\u00e9 \U0001F600 tab\t nul\u0000"}),
    ok("event_minimal", '{"type":"event","level":"debug","message":""}', "event"),
    bad("event_bad_level", '{"type":"event","level":"fatal","message":"m"}', "out_of_range",
        "level"),
    bad("event_field_number", '{"type":"event","level":"info","message":"m","fields":{"k":1}}',
        "bad_field", "fields.k"),
    bad("event_missing_message", '{"type":"event","level":"info"}', "missing_field", "message"),
]

BOT_STATUS_FULL = (
    '{"name":"amayo","state":"RUNNING","memory_state":"elevated","pid":4242,"uptime_ms":3600000,'
    '"connected":true,"metric":"rss","limit_bytes":402653184,"limit_source":"runtime",'
    '"rss_bytes":314572800,"pss_bytes":304087040,"working_set_bytes":293601280,'
    '"cgroup_usage_bytes":325058560,"metric_bytes":314572800,'
    '"last_action":{"action":"sweep","ok":true,"freed_bytes":12345678,"at_ms":1764097200000,'
    '"reason":"rss above 70%"},"restarts":2,"oom_kills":1,'
    '"thresholds_bytes":[268435456,322122547,364904448],"detection":"eventfd",'
    '"detection_bound_ms":10,"pss_age_ms":1500,'
    # 1.1: the bot's own figures (its latest stats, with their age) and its liveness.
    '"bot_stats":{"age_ms":1200,"stale":false,"rss_bytes":163577856,'
    '"heap_used_bytes":93742694,"heap_total_bytes":117545369,"external_bytes":8703180,'
    '"event_loop_lag_ms":1.25,"caches":{"members":100,"messages":2500},"uptime_ms":3600000},'
    '"liveness":"ok","ping_ms":0.5,"memory_alert":true}')
BOT_STATUS_MIN = (
    '{"name":"mimi","state":"STOPPED","memory_state":"unknown","pid":0,"uptime_ms":0,'
    '"connected":false,"metric":"cgroup","limit_bytes":536870912,"limit_source":"config",'
    '"restarts":0,"oom_kills":0}')

FILES["control"] = [
    ok("status_all", '{"type":"status","id":1}', "status"),
    ok("status_some", '{"type":"status","id":1,"bots":["amayo","mimi"]}', "status"),
    bad("status_bots_string", '{"type":"status","id":1,"bots":"amayo"}', "bad_field", "bots"),
    ok("status_result_full",
       '{"type":"status_result","id":1,"bots":[' + BOT_STATUS_FULL + ',' + BOT_STATUS_MIN + ']}',
       "status_result"),
    ok("status_result_empty", '{"type":"status_result","id":1,"bots":[]}', "status_result"),
    bad("status_result_missing_bots", '{"type":"status_result","id":1}', "missing_field", "bots"),
    bad("status_result_bot_missing_state",
        '{"type":"status_result","id":1,"bots":[{"name":"a"}]}', "missing_field",
        "bots[0].state"),
    bad("status_result_bot_pid_negative",
        '{"type":"status_result","id":1,"bots":[' + BOT_STATUS_MIN.replace('"pid":0', '"pid":-2')
        + ']}', "out_of_range", "bots[0].pid"),
    bad("status_result_threshold_string",
        '{"type":"status_result","id":1,"bots":[' +
        BOT_STATUS_MIN.replace('"oom_kills":0', '"oom_kills":0,"thresholds_bytes":[1,"2"]') +
        ']}', "bad_field", "bots[0].thresholds_bytes[1]"),
    bad("status_result_bot_stats_missing_age",
        '{"type":"status_result","id":1,"bots":[' +
        BOT_STATUS_MIN.replace('"oom_kills":0', '"oom_kills":0,"bot_stats":{"stale":true}') +
        ']}', "missing_field", "bots[0].bot_stats.age_ms"),
    bad("status_result_bot_stats_lag_negative",
        '{"type":"status_result","id":1,"bots":[' +
        BOT_STATUS_MIN.replace('"oom_kills":0',
                               '"oom_kills":0,"bot_stats":{"age_ms":1,"stale":false,'
                               '"event_loop_lag_ms":-1}') +
        ']}', "out_of_range", "bots[0].bot_stats.event_loop_lag_ms"),
    bad("status_result_liveness_number",
        '{"type":"status_result","id":1,"bots":[' +
        BOT_STATUS_MIN.replace('"oom_kills":0', '"oom_kills":0,"liveness":1') +
        ']}', "bad_field", "bots[0].liveness"),
    bad("status_result_last_action_missing_at",
        '{"type":"status_result","id":1,"bots":[' +
        BOT_STATUS_MIN.replace('"oom_kills":0',
                               '"oom_kills":0,"last_action":{"action":"trim","ok":true,'
                               '"freed_bytes":0}') +
        ']}', "missing_field", "bots[0].last_action.at_ms"),
    ok("run_trim_all", '{"type":"run","id":2,"bot":"all","action":"trim"}', "run"),
    ok("run_compact", '{"type":"run","id":2,"bot":"amayo","action":"compact"}', "run"),
    bad("run_bad_action", '{"type":"run","id":2,"bot":"amayo","action":"restart"}',
        "out_of_range", "action"),
    bad("run_empty_bot", '{"type":"run","id":2,"bot":"","action":"trim"}', "out_of_range", "bot"),
    bad("run_missing_bot", '{"type":"run","id":2,"action":"trim"}', "missing_field", "bot"),
    ok("run_result_full",
       '{"type":"run_result","id":2,"results":[{"bot":"amayo","ok":true,"freed_bytes":24221286,'
       '"duration_ms":4.5},{"bot":"mimi","ok":false,"code":"not_connected",'
       '"message":"no bot session","freed_bytes":0,"duration_ms":0}]}', "run_result"),
    ok("run_result_minimal_outcome",
       '{"type":"run_result","id":2,"results":[{"bot":"amayo","ok":true}]}', "run_result",
       decoded={"type": "run_result", "id": 2,
                "results": [{"bot": "amayo", "ok": True, "freed_bytes": 0,
                             "duration_ms": 0.0}]}),
    bad("run_result_outcome_ok_missing",
        '{"type":"run_result","id":2,"results":[{"bot":"amayo"}]}', "missing_field",
        "results[0].ok"),
    ok("lifecycle_restart", '{"type":"lifecycle","id":3,"bot":"amayo","op":"restart"}',
       "lifecycle"),
    ok("lifecycle_stop_all", '{"type":"lifecycle","id":3,"bot":"all","op":"stop"}', "lifecycle"),
    ok("lifecycle_start", '{"type":"lifecycle","id":3,"bot":"amayo","op":"start"}', "lifecycle"),
    bad("lifecycle_bad_op", '{"type":"lifecycle","id":3,"bot":"amayo","op":"kill"}',
        "out_of_range", "op"),
    ok("lifecycle_result",
       '{"type":"lifecycle_result","id":3,"results":[{"bot":"amayo","ok":true,'
       '"message":"restarted","freed_bytes":0,"duration_ms":1500.25}]}', "lifecycle_result"),
    # 1.1: answers in parts (PROTOCOL.md 7.6).
    ok("status_result_part_more",
       '{"type":"status_result","id":1,"bots":[' + BOT_STATUS_MIN + '],"more":true}',
       "status_result", note="a part of a larger answer: another part follows"),
    ok("status_result_last_part_more_false",
       '{"type":"status_result","id":1,"bots":[' + BOT_STATUS_MIN + '],"more":false}',
       "status_result", decoded={"type": "status_result", "id": 1,
                                 "bots": [json.loads(BOT_STATUS_MIN)]},
       note="more:false is the default: a sender omits it"),
    bad("status_result_more_string",
        '{"type":"status_result","id":1,"bots":[],"more":"yes"}', "bad_field", "more"),
    ok("run_result_part_more",
       '{"type":"run_result","id":2,"results":[{"bot":"amayo","ok":true,"freed_bytes":0,'
       '"duration_ms":1}],"more":true}', "run_result"),
    ok("lifecycle_result_part_more",
       '{"type":"lifecycle_result","id":3,"results":[{"bot":"amayo","ok":true,'
       '"message":"started","freed_bytes":0,"duration_ms":2}],"more":true}', "lifecycle_result"),
    ok("error_too_large",
       '{"type":"error","id":1,"code":"too_large","message":"status_result is 571003 bytes, '
       'over the frame limit of 65536"}', "error",
       note="1.1: the answer would need parts and the client did not announce them"),
    bad("lifecycle_result_results_object",
        '{"type":"lifecycle_result","id":3,"results":{"bot":"amayo"}}', "bad_field", "results"),
    ok("limit_get", '{"type":"limit","id":4,"bot":"amayo"}', "limit"),
    ok("limit_set", '{"type":"limit","id":4,"bot":"amayo","limit_bytes":536870912}', "limit"),
    bad("limit_set_zero", '{"type":"limit","id":4,"bot":"amayo","limit_bytes":0}',
        "out_of_range", "limit_bytes"),
    bad("limit_set_string", '{"type":"limit","id":4,"bot":"amayo","limit_bytes":"512M"}',
        "bad_field", "limit_bytes"),
    ok("limit_result",
       '{"type":"limit_result","id":4,"bot":"amayo","limit_bytes":536870912,"source":"runtime"}',
       "limit_result"),
    bad("limit_result_missing_source",
        '{"type":"limit_result","id":4,"bot":"amayo","limit_bytes":536870912}', "missing_field",
        "source"),
    ok("reload", '{"type":"reload","id":5}', "reload"),
    bad("reload_missing_id", '{"type":"reload"}', "missing_field", "id"),
    ok("reload_result_ok",
       '{"type":"reload_result","id":5,"ok":true,"changes":["amayo: limit 384 MiB -> 512 MiB"]}',
       "reload_result"),
    ok("reload_result_failed",
       '{"type":"reload_result","id":5,"ok":false,'
       '"errors":["memvisor.yaml:12:7: bots[1].limit: must be > 0"]}', "reload_result"),
    bad("reload_result_errors_not_strings",
        '{"type":"reload_result","id":5,"ok":false,"errors":[{"line":12}]}', "bad_field",
        "errors[0]"),
    ok("subscribe_full", '{"type":"subscribe","id":6,"bot":"amayo","since_ms":3600000,'
       '"follow":true}', "subscribe"),
    ok("subscribe_minimal", '{"type":"subscribe","id":6}', "subscribe"),
    ok("subscribe_follow_false", '{"type":"subscribe","id":6,"follow":false}', "subscribe",
       decoded={"type": "subscribe", "id": 6}),
    bad("subscribe_since_negative", '{"type":"subscribe","id":6,"since_ms":-1}', "out_of_range",
        "since_ms"),
    bad("subscribe_follow_string", '{"type":"subscribe","id":6,"follow":"yes"}', "bad_field",
        "follow"),
    ok("journal_full",
       '{"type":"journal","ts_ms":1764097200123,"bot":"amayo","kind":"action","level":"info",'
       '"message":"trim freed 23.1 MiB","fields":{"action":"trim","freed_bytes":"24221286"}}',
       "journal"),
    ok("journal_daemon_wide",
       '{"type":"journal","ts_ms":1764097200123,"kind":"config","level":"error",'
       '"message":"reload failed"}', "journal"),
    bad("journal_missing_kind",
        '{"type":"journal","ts_ms":1,"level":"info","message":""}', "missing_field", "kind"),
    bad("journal_bad_level",
        '{"type":"journal","ts_ms":1,"kind":"x","level":"notice","message":""}', "out_of_range",
        "level"),
    ok("ack", '{"type":"ack","id":6,"message":"backlog complete"}', "ack"),
    ok("ack_minimal", '{"type":"ack","id":6}', "ack"),
    bad("ack_missing_id", '{"type":"ack"}', "missing_field", "id"),
]

FILES["malformed"] = [
    bad("empty", "", "bad_json"),
    bad("truncated", '{"type":"ping","id":1', "bad_json"),
    bad("trailing_garbage", '{"type":"ping","id":1}x', "bad_json"),
    bad("two_objects", '{"type":"ping","id":1}{"type":"ping","id":2}', "bad_json"),
    bad("single_quotes", "{'type':'ping','id':1}", "bad_json"),
    bad("nan_literal", '{"type":"ping","id":NaN}', "bad_json"),
    bad("infinity_literal", '{"type":"stats","event_loop_lag_ms":Infinity}', "bad_json"),
    bad("trailing_comma", '{"type":"ping","id":1,}', "bad_json"),
    bad("comment", '{"type":"ping","id":1} // hi', "bad_json"),
    bad("array", '[{"type":"ping","id":1}]', "bad_json"),
    bad("string", '"ping"', "bad_json"),
    bad("number", '42', "bad_json"),
    bad("null", 'null', "bad_json"),
    bad("byte_order_mark", '\ufeff{"type":"ping","id":1}', "bad_json"),
    bad("invalid_utf8_byte", b'{"type":"event","level":"info","message":"\xff"}', "bad_json",
        hex_=True),
    bad("overlong_utf8", b'{"type":"event","level":"info","message":"\xc0\xaf"}', "bad_json",
        hex_=True),
    bad("truncated_utf8", b'{"type":"event","level":"info","message":"\xe2\x82"}', "bad_json",
        hex_=True),
    bad("lone_surrogate_escape", '{"type":"event","level":"info","message":"\\ud800"}',
        "bad_json", note="escapes must encode valid Unicode scalar values"),
    bad("raw_control_char_in_string", '{"type":"event","level":"info","message":"a\tb"}',
        "bad_json", note="JSON forbids unescaped control characters in strings"),
    bad("nesting_too_deep",
        '{"type":"ping","id":1,"x":' + "[" * 16 + "]" * 16 + "}", "bad_json",
        note="at most 16 levels of nesting, the frame object included"),
    ok("nesting_at_limit",
       '{"type":"ping","id":1,"x":' + "[" * 15 + "]" * 15 + "}", "ping",
       decoded={"type": "ping", "id": 1}),
    bad("missing_type", '{"id":1}', "missing_field", "type"),
    bad("type_null", '{"type":null,"id":1}', "missing_field", "type"),
    bad("type_number", '{"type":7,"id":1}', "bad_field", "type"),
    bad("unknown_type", '{"type":"tirm","id":1}', "unknown_type"),
    bad("type_wrong_case", '{"type":"PING","id":1}', "unknown_type"),
    bad("type_empty", '{"type":"","id":1}', "unknown_type"),
    ok("duplicate_key_last_wins", '{"type":"ping","id":1,"id":2}', "ping",
       decoded={"type": "ping", "id": 2},
       note="senders must not repeat keys; receivers keep the last"),
    bad("id_too_big_unsigned", '{"type":"ping","id":18446744073709551615}', "out_of_range", "id"),
    bad("id_too_big_beyond_uint64", '{"type":"ping","id":18446744073709551616}', "out_of_range",
        "id"),
    bad("number_overflows_double", '{"type":"ping","id":1e400}', "bad_json",
        note="a number beyond the range of an IEEE double is invalid"),
    bad("integer_field_fraction", '{"type":"ping","id":1.5}', "bad_field", "id"),
]

# Frames at and just over the 65536-byte limit (long lines: kept in their own file).
def sized_event(size):
    head = '{"type":"event","level":"info","message":"'
    tail = '"}'
    return head + "m" * (size - len(head) - len(tail)) + tail

FILES["limits"] = [
    ok("frame_exactly_at_limit", sized_event(65536), "event",
       note="65536 bytes of JSON, newline excluded"),
    bad("frame_one_over_limit", sized_event(65537), "frame_too_large"),
]


# Session vectors (sessions/*.jsonl): a sequence of valid frames arriving on one side of a
# connection, and whether the handshake rules accept each one.
HELLO_BOT = '{"type":"hello",' + V10 + ',"role":"bot","pid":4242,"name":"amayo"}'
HELLO_CTL = '{"type":"hello",' + V10 + ',"role":"control","pid":77,"name":"memvisorctl"}'
HELLO_V2 = '{"type":"hello","version":{"major":2,"minor":0},"role":"bot","pid":1,"name":"x"}'
WELCOME = '{"type":"welcome",' + V10 + ',"pid":1,"name":"amayo"}'
WELCOME_V0 = '{"type":"welcome","version":{"major":0,"minor":9},"pid":1,"name":"amayo"}'
REFUSAL = '{"type":"error","code":"incompatible_version","message":"no"}'
TRIM = '{"type":"trim","id":1,"urgency":"high","deadline_ms":2000}'
RESULT = ('{"type":"action_result","id":1,"action":"trim","ok":true,"freed_bytes":4096,'
          '"duration_ms":3.5}')
STATS = '{"type":"stats","rss_bytes":1000}'
EVENT = '{"type":"event","level":"warn","message":"m"}'
PONG = '{"type":"pong","id":2}'
ACK = '{"type":"ack","id":3}'
ERR = '{"type":"error","id":1,"code":"timeout","message":"late"}'
STATUS = '{"type":"status","id":1}'
RUN = '{"type":"run","id":2,"bot":"amayo","action":"sweep"}'
LIFECYCLE = '{"type":"lifecycle","id":3,"bot":"amayo","op":"restart"}'
LIMIT = '{"type":"limit","id":4,"bot":"amayo"}'
RELOAD = '{"type":"reload","id":5}'
SUBSCRIBE = '{"type":"subscribe","id":6,"follow":true}'
STATUS_RESULT = '{"type":"status_result","id":1,"bots":[]}'
JOURNAL = '{"type":"journal","ts_ms":1,"kind":"action","level":"info","message":"m"}'
PING = '{"type":"ping","id":2}'
SHUTDOWN = '{"type":"shutdown","id":3,"deadline_ms":10000}'
LIMIT_RESULT = '{"type":"limit_result","id":4,"bot":"amayo","limit_bytes":1,"source":"config"}'


def session(name, side, steps, role=None, note=None):
    v = {"name": name, "side": side}
    if role:
        v["role"] = role
    v["steps"] = [{"frame": f, "expect": e} for f, e in steps]
    if note:
        v["note"] = note
    return v


SESSIONS = {}
SESSIONS["handshake"] = [
    session("daemon_bot_conversation", "daemon", [
        (HELLO_BOT, "ok"), (STATS, "ok"), (RESULT, "ok"), (PONG, "ok"), (EVENT, "ok"),
        (ACK, "ok"), (ERR, "ok")]),
    session("daemon_requires_hello_first", "daemon", [
        (STATS, "unexpected_message"), (ERR, "unexpected_message"), (HELLO_BOT, "ok"),
        (STATS, "ok")], note="a refused frame leaves the state as it was"),
    session("daemon_refuses_other_major", "daemon", [
        (HELLO_V2, "incompatible_version"), (STATS, "unexpected_message")]),
    session("daemon_bot_may_not_send_control_or_daemon_frames", "daemon", [
        (HELLO_BOT, "ok"), (STATUS, "unexpected_message"), (SUBSCRIBE, "unexpected_message"),
        (TRIM, "unexpected_message"), (HELLO_BOT, "unexpected_message"),
        (WELCOME, "unexpected_message"), (JOURNAL, "unexpected_message"), (STATS, "ok")]),
    session("daemon_control_conversation", "daemon", [
        (HELLO_CTL, "ok"), (STATUS, "ok"), (RUN, "ok"), (LIFECYCLE, "ok"), (LIMIT, "ok"),
        (RELOAD, "ok"), (SUBSCRIBE, "ok"), (ERR, "ok")]),
    session("daemon_control_may_not_send_bot_frames", "daemon", [
        (HELLO_CTL, "ok"), (STATS, "unexpected_message"), (RESULT, "unexpected_message"),
        (ACK, "unexpected_message"), (PONG, "unexpected_message"),
        (EVENT, "unexpected_message"), (STATUS, "ok")]),
    session("bot_peer_conversation", "peer", [
        (WELCOME, "ok"), (TRIM, "ok"), (PING, "ok"), (SHUTDOWN, "ok"), (ACK, "ok"), (ERR, "ok"),
        (STATUS_RESULT, "unexpected_message"), (JOURNAL, "unexpected_message"),
        (WELCOME, "unexpected_message")], role="bot"),
    session("bot_peer_requires_welcome_first", "peer", [
        (TRIM, "unexpected_message"), (HELLO_BOT, "unexpected_message"), (WELCOME, "ok")],
        role="bot"),
    session("peer_refused_by_error", "peer", [
        (REFUSAL, "ok"), (WELCOME, "unexpected_message"), (TRIM, "unexpected_message")],
        role="bot", note="after an error in place of welcome the connection is over"),
    session("peer_refuses_other_major", "peer", [(WELCOME_V0, "incompatible_version")],
            role="control"),
    session("control_peer_conversation", "peer", [
        (WELCOME, "ok"), (STATUS_RESULT, "ok"), (LIMIT_RESULT, "ok"), (JOURNAL, "ok"),
        (ACK, "ok"), (ERR, "ok"), (TRIM, "unexpected_message"), (PING, "unexpected_message")],
        role="control"),
]


def main():
    for name, vectors in FILES.items():
        names = set()
        lines = []
        for v in vectors:
            assert v["name"] not in names, v["name"]
            names.add(v["name"])
            if isinstance(v.get("frame_hex"), bytes):
                v["frame_hex"] = v["frame_hex"].hex()
            lines.append(json.dumps(v, ensure_ascii=False, separators=(",", ":")))
        (HERE / f"{name}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (HERE / "sessions").mkdir(exist_ok=True)
    for name, sessions in SESSIONS.items():
        lines = [json.dumps(v, ensure_ascii=False, separators=(",", ":")) for v in sessions]
        (HERE / "sessions" / f"{name}.jsonl").write_text("\n".join(lines) + "\n",
                                                         encoding="utf-8")


if __name__ == "__main__":
    main()
