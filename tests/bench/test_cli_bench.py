"""`python -m coordinator bench`: bad flags end as one line before anything slow starts."""

import pytest

from coordinator.cli import EXIT_ERROR, main


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tiny"], "--tiny needs --synthetic"),
        (["--build-only"], "--build-only needs --synthetic"),
        (["--synthetic", "--out", "report.txt"], "--out report.txt must end in .json"),
        (["--synthetic", "--max-tokens", "3"], "--max-tokens must be at least 7"),
        (["--synthetic", "--max-seconds", "0"], "--max-seconds must be positive"),
        (["--synthetic", "--margin", "1.5"], "--margin must be in (0, 1]"),
        (["--synthetic", "--max-streams", "0"], "--max-streams must be 1 to 256"),
    ],
)
def test_bad_bench_flags_are_one_line_and_nonzero(cli_env, capsys, args, message):
    assert main(["bench", *args]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert list(cli_env.iterdir()) == []  # no models written, no report


def test_an_unknown_quantization_is_refused_by_the_parser(cli_env, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "--synthetic", "--quant", "Q2_K"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'Q2_K'" in capsys.readouterr().err
