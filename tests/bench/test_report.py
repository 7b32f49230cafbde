"""The sweep's plan and the recommendation, from level figures."""

from coordinator.bench.report import next_level, recommend, table


def level(streams, rtf_p95, stalled=0, cut=False):
    return {
        "streams": streams,
        "first_audio_s_p50": 0.05,
        "first_audio_s_p95": 0.08,
        "rtf_p50": rtf_p95 * 0.9,
        "rtf_p95": rtf_p95,
        "streams_behind_real_time": stalled,
        "audio_tokens_per_s": 82.0 * streams,
        "cut_by_budget": cut,
    }


def test_the_sweep_doubles_from_one_while_real_time_holds_up_to_the_limit():
    assert next_level([], 64) == 1
    assert next_level([level(1, 0.2)], 64) == 2
    assert next_level([level(n, 0.3) for n in (1, 2, 4, 8, 16, 32)], 48) == 48
    assert next_level([level(n, 0.3) for n in (1, 2, 4, 8, 16, 32, 48)], 48) is None


def test_after_a_break_it_bisects_twice_between_the_last_hold_and_the_first_break():
    done = [level(n, 0.5) for n in (1, 2, 4, 8, 16, 32)] + [level(64, 1.4)]
    assert next_level(done, 128) == 48
    done.append(level(48, 0.95))
    assert next_level(done, 128) == 56
    done.append(level(56, 1.1))
    assert next_level(done, 128) is None  # two refinements spent


def test_one_stream_that_breaks_real_time_ends_the_sweep():
    assert next_level([level(1, 1.5)], 64) is None
    assert next_level([level(1, 0.5, stalled=1)], 64) is None


def test_a_level_cut_by_the_budget_holds_nothing():
    assert next_level([level(1, 0.2), level(2, 0.2, cut=True)], 8) is None
    assert recommend([level(1, 0.2), level(2, 0.2, cut=True)]) == 1


def test_the_recommendation_is_the_largest_n_within_the_margin_not_merely_real_time():
    levels = [level(1, 0.3), level(2, 0.5), level(4, 0.79), level(8, 0.95), level(16, 1.3)]
    assert recommend(levels, margin=0.8) == 4
    assert recommend(levels, margin=1.0) == 8
    assert recommend([level(1, 0.9)], margin=0.8) == 0
    # A level that stalled ends the run of good ones, even if a larger one looked fine.
    assert recommend([level(1, 0.3), level(2, 0.3, stalled=1), level(4, 0.3)]) == 1


def test_the_table_has_a_line_per_level_and_says_which_broke():
    lines = table([level(2, 1.2), level(1, 0.4), level(4, 0.1, cut=True)]).splitlines()
    assert len(lines) == 4
    assert lines[1].split()[0] == "1" and lines[1].endswith("held")
    assert lines[2].endswith("broke")
    assert "cut by --max-seconds" in lines[3]


def test_the_summary_of_a_run_whose_only_level_was_cut_says_nothing_was_measured():
    from coordinator.bench.report import summary

    report = {
        "levels": [level(1, 0.0, cut=True)],
        "single_stream": None,
        "chat_first_audio_s": {"runs": [], "median": None},
        "recommendation": {"max_concurrent_streams": 0, "rule": "r", "memory_needed": {}},
        "stopped_by": "time budget (a level was cut)",
    }
    lines = summary(report, "out.json").splitlines()
    assert "cut by --max-seconds" in lines[1]
    assert lines[-2] == "recommended: none: nothing was measured (raise --max-seconds)"
    assert lines[-1].endswith("saved out.json")


def test_the_summary_names_the_recommendation_and_its_memory():
    from coordinator.bench.report import summary

    need = {
        "n_ctx": 4096,
        "total_bytes": 40 * 1024**3,
        "weights_bytes": 7 * 1024**3,
        "kv_cache_bytes": 30 * 1024**3,
        "compute_bytes": 2 * 1024**3,
        "snac_bytes": 1024**3,
    }
    report = {
        "levels": [level(1, 0.1), level(2, 0.2)],
        "single_stream": {"audio_tokens_per_s": 900.0, "first_audio_s": 0.08, "real_time_multiple": 10.9},
        "chat_first_audio_s": {"runs": [0.2, 0.25, 0.3], "median": 0.25},
        "recommendation": {"max_concurrent_streams": 2, "rule": "rule", "memory_needed": need},
        "stopped_by": "max streams reached",
    }
    text = summary(report, "r.json")
    assert "one stream: 900 audio tokens/s, first audio 80 ms, 10.90x real time" in text
    assert "/chat first audio: 250 ms (median of 3)" in text
    assert "MAX_CONCURRENT_STREAMS=2" in text and "needs about 40.0 GiB at N_CTX=4096" in text


def test_the_summary_sets_checking_off_timings_on_and_checking_on_side_by_side():
    from coordinator.bench.report import summary

    def mode(held: int, faster: int, first: float) -> dict:
        return {
            "streams_held_at_real_time": held,
            "streams_generated_faster_than_real_time": faster,
            "first_audio_s_single": first,
        }

    report = {
        "levels": [level(1, 0.1)],
        "single_stream": None,
        "chat_first_audio_s": {"runs": [], "median": None},
        "listening": {"off": mode(4, 4, 0.1), "timings": mode(2, 4, 0.12), "check": mode(2, 2, 0.15)},
        "recommendation": {"max_concurrent_streams": 0, "rule": "r", "memory_needed": {}},
        "stopped_by": "s",
    }
    assert (
        "listening: off: 4 stream(s) held at real time (4 faster than it), first audio 100 ms; "
        "timings: 2 stream(s) held at real time (4 faster than it), first audio 120 ms; "
        "check: 2 stream(s) held at real time (2 faster than it), first audio 150 ms"
    ) in summary(report, "r.json").splitlines()
    report["listening"] = {"skipped": "no speech recogniser loaded"}
    assert "listening: skipped (no speech recogniser loaded)" in summary(report, "r.json")
